"""Each incident's event log and the notices its steps sent, from the ``final`` scratch table, in
the shapes gridsys/incidents/lifecycle writes them (actions, statuses before and after, data, the
grid and area of the incident on every event); ids follow time, as a live system's do.

Who reads their notices: workers within hours; most leaders within a day; a leader in seven reads
nothing from the last 90 days; the leaders of the dense area and of the busiest areas (and the
dense town's administrator) never open their inbox, so they carry thousands of unread notices.
"""
from __future__ import annotations

from .city_sql import SCRATCH, Params, hours, iso, run, u
from .city_incidents import ROUTING
from .city_texts import note, rating_comment

ASSIGNEE_STATUS = "CASE WHEN f.acc_at <= {t} THEN 'in_progress' ELSE 'assigned' END"


def _escalation(level: int, trigger: str) -> str:
    holder = "f.leader_name" if level == 1 else "f.admin_name"
    return f"jsonb_build_object('level', {level}, 'trigger', {trigger}, 'holders', jsonb_build_array({holder}))"


def _from_level(level: str) -> str:
    """What de_escalate adds to an event's data: the level it came down from, when it was escalated."""
    return f"CASE WHEN {level} IS NOT NULL THEN jsonb_build_object('from_level', {level}) ELSE '{{}}' END"


def _status(t: str) -> str:
    return ASSIGNEE_STATUS.format(t=t)


def event_branches(seed: int) -> list[tuple]:
    """(order on a tie, condition, at, actor, action, from status, to status, note, data, public)."""
    level = "CASE WHEN f.e2 IS NOT NULL THEN 2 WHEN f.e1 IS NOT NULL THEN 1 END"
    pre_level = "CASE WHEN f.p2 IS NOT NULL THEN 2 WHEN f.p1 IS NOT NULL THEN 1 END"
    report = ("jsonb_build_object('lon', ST_X(f.geom), 'lat', ST_Y(f.geom), 'priority', f.priority) || "
              f"CASE WHEN f.observed_at <> f.c THEN jsonb_build_object('observed_at', {iso('f.observed_at')}) "
              "ELSE '{}' END")
    leader_or_worker = "CASE WHEN f.by_leader THEN f.leader_id ELSE f.assignee_id END"
    decline, confirm = note("decline", "f.n", seed), note("confirm", "f.n", seed)
    return [
        (1, "true", "f.c", "f.reporter_id", "'report'", "NULL", "'reported'", "''", report, False),
        (2, "true", "f.c", "NULL", "CASE WHEN f.channel = 'staff' THEN 'dispatch' ELSE 'to_register' END",
         "'reported'", "CASE WHEN f.channel = 'staff' THEN 'assigned' ELSE 'reported' END", "''", ROUTING, False),
        (3, "f.trig1 = 'urgent' AND f.e1 IS NOT NULL", "f.c", "NULL", "'escalate'", "'assigned'", "'assigned'", "''",
         _escalation(1, "'urgent'"), False),
        (4, "f.p1 IS NOT NULL", "f.p1", "NULL", "'escalate'", "'reported'", "'reported'", "''",
         _escalation(1, "'overdue'"), False),
        (5, "f.p2 IS NOT NULL", "f.p2", "NULL", "'escalate'", "'reported'", "'reported'", "''",
         _escalation(2, "'stale'"), False),
        (6, "f.channel <> 'staff' AND f.reg_at IS NOT NULL", "f.reg_at", leader_or_worker, "'register'", "'reported'",
         "'assigned'", "''", f"jsonb_build_object('due_from', {iso('f.c + ' + hours('f.rh'))}, 'due_to', "
         f"{iso('f.reg_at + ' + hours('f.due_h'))}) || {_from_level(pre_level)}", False),
        (7, "f.decline_at IS NOT NULL", "f.decline_at", leader_or_worker, "'decline'", "'reported'", "'cancelled'",
         decline, f"jsonb_build_object('public_text', {decline})", True),
        (8, "f.acc_at IS NOT NULL", "f.acc_at", "f.assignee_id", "'accept'", "'assigned'", "'in_progress'", "''",
         "'{}'", False),
        (9, "f.ext_at IS NOT NULL", "f.ext_at", "f.leader_id", "'extend'", _status("f.ext_at"), _status("f.ext_at"),
         note("extend", "f.n", seed), f"jsonb_build_object('from', {iso('f.d0 + ' + hours('f.due_h'))}, "
         f"'to', {iso('f.due1')}, 'hours', f.ext_h)", False),
        (10, "f.comment_at IS NOT NULL", "f.comment_at", "f.commenter_id", "'comment'", _status("f.comment_at"),
         _status("f.comment_at"), note("comment", "f.n", seed), "'{}'", False),
        (11, "f.man_at IS NOT NULL", "f.man_at", "f.assignee_id", "'escalate'", _status("f.man_at"),
         _status("f.man_at"), note("escalate", "f.n", seed), _escalation(1, "'manual'"), False),
        (12, "f.e1 IS NOT NULL AND f.trig1 = 'overdue'", "f.e1", "NULL", "'escalate'", _status("f.e1"),
         _status("f.e1"), "''", _escalation(1, "'overdue'"), False),
        (13, "f.e2 IS NOT NULL", "f.e2", "NULL", "'escalate'", _status("f.e2"), _status("f.e2"), "''",
         _escalation(2, "'stale'"), False),
        (14, "f.cancel_at IS NOT NULL", "f.cancel_at", "f.canceller_id", "'cancel'", _status("f.cancel_at"),
         "'cancelled'", note("cancel", "f.n", seed), "'{}'", False),
        (15, "f.res1 IS NOT NULL", "f.res1", "f.assignee_id", "'resolve'", _status("f.res1"), "'resolved'",
         note("resolve", "f.n", seed), "'{}'", False),
        (16, "f.close1 IS NOT NULL", "f.close1", "f.leader_id", "'close'", "'resolved'", "'closed'", "''", "'{}'", False),
        (17, "f.rework_at IS NOT NULL", "f.rework_at", "f.leader_id", "'reopen'",
         "CASE WHEN f.returned THEN 'resolved' ELSE 'closed' END", "'reopened'", note("rework", "f.n", seed),
         f"jsonb_build_object('due_from', {iso('f.due1')}, 'due_to', {iso('f.rework_at + ' + hours('f.due_h'))}) || "
         f"{_from_level(level)}", False),
        (18, "f.e3 IS NOT NULL", "f.e3", "NULL", "'escalate'", "'reopened'", "'reopened'", "''",
         _escalation(1, "'overdue'"), False),
        (19, "f.e4 IS NOT NULL", "f.e4", "NULL", "'escalate'", "'reopened'", "'reopened'", "''",
         _escalation(2, "'stale'"), False),
        (20, "f.res2 IS NOT NULL", "f.res2", "f.assignee_id", "'resolve'", "'reopened'", "'resolved'",
         note("resolve", "f.n", seed, 1), "'{}'", False),
        (21, "f.close2 IS NOT NULL", "f.close2", "f.leader_id", "'close'", "'resolved'", "'closed'", "''", "'{}'", False),
        (22, "f.rate_at IS NOT NULL", "f.rate_at", "CASE WHEN f.via = 'phone' THEN f.assignee_id END", "'rate'",
         "'closed'", "'closed'", f"coalesce({rating_comment('f', seed)}, '')",
         "jsonb_build_object('rating', f.rating, 'via', f.via)", False),
        (23, "f.confirm_at IS NOT NULL", "f.confirm_at", "f.leader_id", "'confirm'", "'closed'", "'closed'", confirm,
         f"jsonb_build_object('public_text', {confirm})", True),
    ]


def notice_branches(seed: int) -> list[tuple]:
    """(order on a tie, condition, recipient, kind, data, at): who each step told (never its actor)."""
    told = ("CASE WHEN f.reporter_id IS NOT NULL THEN jsonb_build_object('by', f.reporter_name) "
            "ELSE jsonb_build_object('channel', f.channel) END")
    by = "jsonb_build_object('by', {who}, 'note', {note})"
    return [
        (1, "f.channel = 'staff' AND f.assignee_id IS DISTINCT FROM f.reporter_id", "f.assignee_id", "assigned",
         "jsonb_build_object('by', f.reporter_name)", "f.c"),
        (2, "f.channel <> 'staff' AND f.assignee_id IS DISTINCT FROM f.reporter_id", "f.assignee_id", "to_register",
         told, "f.c"),
        (3, "f.channel <> 'staff'", "f.leader_id", "to_register", told, "f.c"),
        (4, "f.trig1 = 'urgent' AND f.e1 IS NOT NULL", "f.leader_id", "escalated", _escalation(1, "'urgent'"), "f.c"),
        (5, "f.p1 IS NOT NULL", "f.leader_id", "escalated", _escalation(1, "'overdue'"), "f.p1"),
        (6, "f.p2 IS NOT NULL", "f.admin_id", "escalated", _escalation(2, "'stale'"), "f.p2"),
        (7, "f.e1 IS NOT NULL AND f.trig1 <> 'urgent'", "f.leader_id", "escalated", _escalation(1, "f.trig1"), "f.e1"),
        (8, "f.e2 IS NOT NULL", "f.admin_id", "escalated", _escalation(2, "'stale'"), "f.e2"),
        (8, "f.e3 IS NOT NULL", "f.leader_id", "escalated", _escalation(1, "'overdue'"), "f.e3"),
        (8, "f.e4 IS NOT NULL", "f.admin_id", "escalated", _escalation(2, "'stale'"), "f.e4"),
        (9, "f.channel <> 'staff' AND f.reg_at IS NOT NULL AND f.by_leader", "f.assignee_id", "assigned",
         "jsonb_build_object('by', f.leader_name)", "f.reg_at"),
        (10, "f.ext_at IS NOT NULL", "f.assignee_id", "extended",
         f"jsonb_build_object('by', f.leader_name, 'note', {note('extend', 'f.n', seed)}, 'due_at', {iso('f.due1')}, "
         "'hours', f.ext_h)", "f.ext_at"),
        (11, "f.res1 IS NOT NULL", "f.leader_id", "to_verify",
         by.format(who="f.assignee_name", note=note("resolve", "f.n", seed)), "f.res1"),
        (12, "f.res2 IS NOT NULL", "f.leader_id", "to_verify",
         by.format(who="f.assignee_name", note=note("resolve", "f.n", seed, 1)), "f.res2"),
        (13, "f.rework_at IS NOT NULL", "f.assignee_id", "returned",
         by.format(who="f.leader_name", note=note("rework", "f.n", seed)), "f.rework_at"),
        (14, "f.rating = 'unsatisfied'", "f.leader_id", "unsatisfied",
         f"jsonb_build_object('note', {rating_comment('f', seed)})", "f.rate_at"),
    ]


def build(conn, p: Params, timings: dict) -> None:
    s, seed = SCRATCH, p.seed
    union = "\nUNION ALL\n".join(
        f"SELECT f.id AS incident_id, {at} AS at, {actor} AS actor_id, {action} AS action, {frm} AS from_status, "
        f"{to} AS to_status, {text} AS note, ({data})::jsonb AS data, {str(public).lower()} AS public, "
        f"f.grid_id, f.area_id, {order} AS ord FROM {s}.final f WHERE {where}"
        for order, where, at, actor, action, frm, to, text, data, public in event_branches(seed))
    run(conn, "events", f"""
        INSERT INTO incident_events (id, incident_id, at, actor_id, action, from_status, to_status, note, data, public,
                                     grid_id, area_id)
        SELECT row_number() OVER (ORDER BY at, incident_id, ord), incident_id, at, actor_id, action, from_status,
               to_status, note, data, public, grid_id, area_id
        FROM ({union}) e ORDER BY 1
    """, None, timings)
    run(conn, "events", "SELECT setval(pg_get_serial_sequence('incident_events', 'id'), "
                        "(SELECT max(id) FROM incident_events))", None, timings)
    _habits(conn, p, timings)
    union = "\nUNION ALL\n".join(
        f"SELECT {who} AS user_id, f.id AS incident_id, '{kind}' AS kind, ({data})::jsonb AS data, {at} AS at, "
        f"{order} AS ord FROM {s}.final f WHERE {where}"
        for order, where, who, kind, data, at in notice_branches(seed))
    run(conn, "notifications", f"""
        INSERT INTO notifications (id, user_id, incident_id, kind, data, created_at, read_at)
        SELECT row_number() OVER (ORDER BY x.at, x.incident_id, x.ord, x.user_id), x.user_id, x.incident_id, x.kind,
               x.data, x.at,
               CASE WHEN h.never OR x.at >= h.lazy_since THEN NULL
                    WHEN x.at + make_interval(secs => h.delay) < %(now)s THEN x.at + make_interval(secs => h.delay) END
        FROM ({union}) x JOIN {s}.habits h ON h.user_id = x.user_id ORDER BY 1
    """, {"now": p.built_at}, timings)
    run(conn, "notifications", "SELECT setval(pg_get_serial_sequence('notifications', 'id'), "
                               "(SELECT max(id) FROM notifications))", None, timings)


def _habits(conn, p: Params, timings: dict) -> None:
    s, seed = SCRATCH, p.seed
    run(conn, "notifications", f"""
        CREATE UNLOGGED TABLE {s}.habits AS
        WITH busiest AS (
            SELECT area_id FROM {s}.loads WHERE NOT dense GROUP BY area_id
            ORDER BY sum(cnt) DESC, area_id LIMIT greatest(1, (SELECT count(*) FROM areas) / 100)
        ), dense AS (SELECT DISTINCT area_id, town_id FROM {s}.loads WHERE dense)
        SELECT pe.id AS user_id,
               (pe.role = 'area_leader' AND (pe.area_id IN (SELECT area_id FROM busiest)
                                             OR pe.area_id IN (SELECT area_id FROM dense)))
               OR (pe.role = 'admin' AND pe.town_id IN (SELECT town_id FROM dense)) AS never,
               CASE WHEN pe.role = 'grid_worker' AND {u('pe.id', 50, seed)} < 0.03 THEN %(now)s - interval '30 days'
                    WHEN pe.role = 'area_leader' AND {u('pe.id', 50, seed)} < 0.15 THEN %(now)s - interval '90 days'
                    WHEN pe.role = 'admin' AND {u('pe.id', 50, seed)} < 0.5 THEN %(now)s - interval '180 days'
                    ELSE 'infinity' END::timestamptz AS lazy_since,
               CASE pe.role WHEN 'grid_worker' THEN 300 + 14400 * power({u('pe.id', 51, seed)}, 2)
                            WHEN 'area_leader' THEN 1800 + 86400 * power({u('pe.id', 51, seed)}, 2)
                            ELSE 3600 + 259200 * {u('pe.id', 51, seed)} END AS delay
        FROM {s}.people pe
    """, {"now": p.built_at}, timings)
