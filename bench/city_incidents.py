"""From each incident's story to what happened by the dataset's "now" (the ``final`` scratch table),
then the incidents themselves, numbered in order of creation, and the code counters.

What the columns must agree with (gridsys/incidents/lifecycle): a resident's report waits in
``reported`` with the response deadline until registered (立案), which de-escalates it and starts
the deadline; urgent staff reports are at level 1 from creation; resolution and closure keep the
level, 返工 brings it back to 0 with a fresh deadline; ``next_escalation_at`` is the deadline at
level 0, the second deadline at level 1, nothing at level 2 or once not open; ``version`` counts
the transitions and the rating; ``updated_at`` is the last transition (not the sweep's or a rating's).
Codes are ``<grid>-<local yyyymmdd>-<seq>``, three digits or more, as the app numbers them.
"""
from __future__ import annotations

from gridsys.incidents.models import OPEN_STATUSES

from .city_sql import SCRATCH, Params, hours, run
from .city_texts import address, description, rating_comment

# Columns of ``story`` that are times of a step: kept only when the step happened before "now".
STEPS = ("reg_at", "decline_at", "ext_at", "cancel_at", "acc_at", "res1", "man_at", "comment_at", "e1", "e2",
         "p1", "p2", "close1", "rework_at", "e3", "e4", "res2", "close2", "rate_at")
KEPT = ("n", "grid_id", "area_id", "town_id", "geom", "dense", "open_part", "grid_code", "area_code", "town_code",
        "area_name", "a_name", "leader_id", "leader_name", "admin_id", "admin_name", "category_code", "duty", "eah",
        "rh", "cat_name", "channel", "priority", "due_h", "assignee_id", "assignee_name", "assigned_as", "rule",
        "reporter_id", "reporter_name", "c", "observed_at", "by_leader", "ext_h", "canceller_id", "commenter_id",
        "trig1", "returned")
OPEN = "(" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"
ROUTING = ("jsonb_build_object('duty', f.duty, 'category', f.category_code, 'level', 'grid', 'town', f.town_code, "
           "'area', f.area_code, 'grid', f.grid_code, 'rule', f.rule, 'assignee', f.assignee_name)")
CONTACT_DAYS = 30   # the app's default contact retention after closure


def build(conn, p: Params, timings: dict) -> None:
    s = SCRATCH
    happened = ",\n".join(f"CASE WHEN st.{c} < %(now)s THEN st.{c} END AS {c}" for c in STEPS)
    run(conn, "incidents", f"""
        CREATE UNLOGGED TABLE {s}.final AS
        SELECT row_number() OVER (ORDER BY c, n) AS id,
               grid_code || '-' || to_char(c AT TIME ZONE %(tz)s, 'YYYYMMDD') || '-'
                   || lpad(seq::text, greatest(3, length(seq::text)), '0') AS code, z.*
        FROM (SELECT row_number() OVER (PARTITION BY grid_id, (c AT TIME ZONE %(tz)s)::date ORDER BY c, n) AS seq, y.*
              FROM (SELECT h.*, s1.status, s2.esc_level, s2.esc_trigger, s2.escalated_at, s2.due1, s2.due_at,
                           s3.next_escalation_at, s3.resolved_at, s3.closed_at, s3.confirm_at,
                           num_nonnulls(h.reg_at, h.decline_at, h.acc_at, h.ext_at, h.comment_at, h.man_at,
                                        h.cancel_at, h.res1, h.close1, h.rework_at, h.rate_at, s3.confirm_at,
                                        h.res2, h.close2) + 1 AS version,
                           greatest(h.c, h.reg_at, h.decline_at, h.acc_at, h.ext_at, h.comment_at, h.man_at,
                                    h.cancel_at, h.res1, h.close1, h.rework_at, s3.confirm_at, h.res2, h.close2)
                               AS updated_at
                    FROM (SELECT {', '.join('st.' + c for c in KEPT)}, {happened},
                                 CASE WHEN st.channel = 'staff' THEN st.c WHEN st.reg_at < %(now)s THEN st.reg_at END AS d0,
                                 CASE WHEN st.rate_at < %(now)s THEN st.rating END AS rating,
                                 CASE WHEN st.rate_at < %(now)s THEN st.via END AS via,
                                 CASE WHEN st.review IS NOT NULL AND st.rv_at < %(now)s THEN st.review END AS review,
                                 CASE WHEN st.review IS NOT NULL AND st.rv_at < %(now)s THEN st.rv_at END AS rv_at,
                                 st.contact_phone, st.contact_name
                          FROM {s}.story st OFFSET 0) h
                    CROSS JOIN LATERAL (SELECT CASE
                        WHEN h.decline_at IS NOT NULL OR h.cancel_at IS NOT NULL THEN 'cancelled'
                        WHEN h.d0 IS NULL THEN 'reported'
                        WHEN h.close2 IS NOT NULL THEN 'closed' WHEN h.res2 IS NOT NULL THEN 'resolved'
                        WHEN h.rework_at IS NOT NULL THEN 'reopened' WHEN h.close1 IS NOT NULL THEN 'closed'
                        WHEN h.res1 IS NOT NULL THEN 'resolved' WHEN h.acc_at IS NOT NULL THEN 'in_progress'
                        ELSE 'assigned' END AS status OFFSET 0) s1
                    CROSS JOIN LATERAL (SELECT lvl AS esc_level,
                        CASE WHEN lvl = 0 THEN NULL WHEN lvl = 2 THEN 'stale'
                             WHEN h.d0 IS NULL OR h.rework_at IS NOT NULL THEN 'overdue' ELSE h.trig1 END AS esc_trigger,
                        greatest(h.p1, h.p2, h.e1, h.e2, h.e3, h.e4) AS escalated_at, due1,
                        CASE WHEN h.rework_at IS NOT NULL THEN h.rework_at + {hours('h.due_h')}
                             WHEN h.d0 IS NOT NULL THEN due1 ELSE h.c + {hours('h.rh')} END AS due_at
                        FROM (SELECT CASE
                                  WHEN h.decline_at IS NOT NULL THEN 0
                                  WHEN h.d0 IS NULL THEN CASE WHEN h.p2 IS NOT NULL THEN 2 WHEN h.p1 IS NOT NULL THEN 1 ELSE 0 END
                                  WHEN h.rework_at IS NOT NULL THEN
                                      CASE WHEN h.e4 IS NOT NULL THEN 2 WHEN h.e3 IS NOT NULL THEN 1 ELSE 0 END
                                  ELSE CASE WHEN h.e2 IS NOT NULL THEN 2 WHEN h.e1 IS NOT NULL THEN 1 ELSE 0 END END AS lvl,
                                  h.d0 + {hours('h.due_h + CASE WHEN h.ext_at IS NOT NULL THEN h.ext_h ELSE 0 END')} AS due1
                               OFFSET 0) x OFFSET 0) s2
                    CROSS JOIN LATERAL (SELECT
                        CASE WHEN s1.status IN {OPEN} THEN CASE s2.esc_level WHEN 0 THEN s2.due_at
                             WHEN 1 THEN s2.escalated_at + {hours('h.eah')} END END AS next_escalation_at,
                        CASE WHEN s1.status IN ('resolved', 'closed') THEN coalesce(h.res2, h.res1) END AS resolved_at,
                        CASE WHEN s1.status = 'closed' THEN coalesce(h.close2, h.close1) END AS closed_at,
                        CASE WHEN h.review = 'confirmed' THEN h.rv_at END AS confirm_at OFFSET 0) s3
                   ) y
             ) z
    """, {"now": p.built_at, "tz": p.timezone}, timings)
    _insert(conn, p, timings)


def _insert(conn, p: Params, timings: dict) -> None:
    s, seed = SCRATCH, p.seed
    purged = (f"(f.status = 'closed' AND f.closed_at < %(now)s - interval '{CONTACT_DAYS} days') OR "
              f"(f.status = 'cancelled' AND f.updated_at < %(now)s - interval '{CONTACT_DAYS} days')")
    run(conn, "incidents", f"""
        INSERT INTO incidents (id, code, client_uuid, geom, address, category_code, description, priority, status,
                               town_id, area_id, grid_id, reporter_id, assignee_id, assigned_as, routing, created_at,
                               observed_at, updated_at, dispatched_at, due_at, resolved_at, closed_at, reopen_count,
                               escalation_level, escalated_at, escalation_trigger, next_escalation_at, version,
                               channel, contact_phone, contact_name, tracking_hash, registered_at, cancel_reason,
                               rating, rating_comment, rated_at, rated_via, review, reviewed_at)
        SELECT f.id, f.code, md5('city-{seed}-' || f.n)::uuid, f.geom, {address('f', seed)}, f.category_code,
               {description('f', seed)}, f.priority, f.status, f.town_id, f.area_id, f.grid_id, f.reporter_id,
               f.assignee_id, f.assigned_as, {ROUTING}, f.c, f.observed_at, f.updated_at,
               CASE WHEN f.channel = 'staff' THEN f.c ELSE f.reg_at END, f.due_at, f.resolved_at, f.closed_at,
               (f.rework_at IS NOT NULL)::int, f.esc_level, f.escalated_at, f.esc_trigger, f.next_escalation_at,
               f.version, f.channel,
               CASE WHEN NOT ({purged}) THEN f.contact_phone END, CASE WHEN NOT ({purged}) THEN f.contact_name END,
               CASE WHEN f.channel <> 'staff' THEN encode(sha256(('city-track-{seed}-' || f.n)::bytea), 'hex') END,
               f.reg_at, CASE WHEN f.decline_at IS NOT NULL THEN 'declined' WHEN f.cancel_at IS NOT NULL THEN 'other' END,
               f.rating, {rating_comment('f', seed)}, f.rate_at, f.via, f.review, f.rv_at
        FROM {s}.final f ORDER BY f.id
    """, {"now": p.built_at}, timings)
    run(conn, "incidents", "SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))",
        None, timings)
    run(conn, "incidents", f"""
        INSERT INTO incident_counters (prefix, day, last)
        SELECT grid_code, (c AT TIME ZONE %(tz)s)::date, max(seq) FROM {s}.final GROUP BY 1, 2 ORDER BY 1, 2
    """, {"tz": p.timezone}, timings)
