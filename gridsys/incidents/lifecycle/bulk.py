"""Set-based forms: many incidents in a few statements (a redraw's re-homing, the sweep's escalations)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import ARRAY, Integer, any_, bindparam, select, text
from sqlalchemy.orm import Session

from ...clock import now
from .. import deadlines, webhooks
from ..models import OPEN_STATUSES, Category, Incident, IncidentEscalation
from .rules import HANDED_OVER
from .single import log_escalation

def rehome(session: Session, moves: list[dict], *, actor: str, reason: str, at: datetime) -> int:
    """Boundary changes move open incidents: new grid, area and handler (from routing), set-based
    so a redraw over a large town stays fast. A new handler must accept again (in_progress →
    assigned) and is notified; an event on each incident explains the move. Returns the number moved."""
    if not moves:
        return 0
    rows = session.execute(text("""
        WITH m AS (
            SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:grid_ids AS int[]), CAST(:area_ids AS int[]),
                                 CAST(:assignee_ids AS int[]), CAST(:assigned_as AS text[]),
                                 CAST(:routings AS jsonb[]), CAST(:datas AS jsonb[]), CAST(:hours AS int[]))
                   AS m(id, grid_id, area_id, assignee_id, assigned_as, routing, data, hours)
        ), old AS (
            SELECT i.id, i.status, i.assignee_id,
                   i.status = 'reported' AND i.channel <> 'staff' AS unregistered   -- a resident's, awaiting 立案
            FROM incidents i JOIN m ON m.id = i.id
            WHERE i.status = ANY(CAST(:open AS text[])) FOR UPDATE OF i
        ), upd AS (
            UPDATE incidents i SET grid_id = m.grid_id, area_id = m.area_id, assignee_id = m.assignee_id,
                   assigned_as = m.assigned_as, routing = m.routing, version = i.version + 1, updated_at = :at,
                   status = CASE WHEN m.assignee_id IS NOT NULL AND m.assignee_id IS DISTINCT FROM i.assignee_id
                                      AND NOT old.unregistered
                                 THEN coalesce(CAST(:handed_over AS jsonb) ->> i.status, i.status)
                                 ELSE i.status END,  -- HANDED_OVER
                   dispatched_at = CASE WHEN m.assignee_id IS DISTINCT FROM i.assignee_id
                                             AND NOT old.unregistered THEN :at
                                        ELSE i.dispatched_at END,
                   -- dispatched for the first time by the move: it gets its deadline now
                   due_at = CASE WHEN i.due_at IS NULL AND m.assignee_id IS NOT NULL
                                 THEN CAST(:at AS timestamptz) + make_interval(hours => m.hours) ELSE i.due_at END,
                   next_escalation_at = CASE WHEN i.due_at IS NULL AND m.assignee_id IS NOT NULL
                                                  AND i.escalation_level = 0
                                             THEN CAST(:at AS timestamptz) + make_interval(hours => m.hours)
                                             ELSE i.next_escalation_at END
            FROM m, old WHERE i.id = m.id AND old.id = m.id
            RETURNING i.id, old.status AS from_status, i.status AS to_status, m.data, i.assignee_id, i.channel,
                      i.grid_id, i.area_id,
                      old.assignee_id AS old_assignee_id
        ), told AS (  -- a new handler is told (in the app; group robots are not sent a whole redraw)
            INSERT INTO notifications (user_id, incident_id, kind, data, created_at)
            SELECT upd.assignee_id, upd.id,
                   CASE WHEN upd.to_status = 'reported' AND upd.channel <> 'staff' THEN 'to_register' ELSE 'assigned' END,
                   jsonb_build_object('by', CAST(:actor AS text), 'moved', true),
                   CAST(:at AS timestamptz)
            FROM upd WHERE upd.assignee_id IS NOT NULL AND upd.assignee_id IS DISTINCT FROM upd.old_assignee_id
              AND upd.assignee_id IS DISTINCT FROM (SELECT id FROM users WHERE username = CAST(:actor AS text))
        )
        INSERT INTO incident_events (incident_id, at, actor_id, action, from_status, to_status, note, data,
                                     grid_id, area_id)   -- where the move took it
        SELECT upd.id, :at, (SELECT id FROM users WHERE username = :actor), 'rehome', upd.from_status,
               upd.to_status, :note, upd.data, upd.grid_id, upd.area_id FROM upd
        RETURNING incident_id
    """), {"ids": [m["id"] for m in moves], "grid_ids": [m["grid_id"] for m in moves],
           "area_ids": [m["area_id"] for m in moves], "assignee_ids": [m["assignee_id"] for m in moves],
           "assigned_as": [m["assigned_as"] for m in moves], "routings": [json.dumps(m["routing"]) for m in moves],
           "datas": [json.dumps(m["data"]) for m in moves], "hours": [m.get("deadline_hours") for m in moves],
           "at": at, "actor": actor, "note": reason, "open": list(OPEN_STATUSES),
           "handed_over": json.dumps(HANDED_OVER)}).all()
    session.expire_all()
    return len(rows)


def escalate_due(session: Session, as_of: datetime, *, batch: int, after_id: int = 0
                 ) -> tuple[list[int], int | None]:
    """Raise by one level each open incident whose ``next_escalation_at`` has passed at ``as_of``:
    the first ``batch`` due ids above ``after_id`` (from incident_escalations' index), each taken
    ``FOR UPDATE SKIP LOCKED`` and checked against the incident row as it is once locked, so
    concurrent sweeps never escalate one twice (one another sweep holds is skipped: it raises it).
    One UPDATE, one INSERT of events and one of notices for the whole batch, the same data
    ``escalate`` writes one by one; the update of ``incidents`` changes no indexed column, so it is
    HOT. A drill (``as_of`` ahead of now) counts the next deadline from ``as_of`` too, so the same
    drill run again raises nothing more (events keep the real time). Returns the ids raised, in
    order, and the id to continue after (None: no more were due)."""
    at = now()
    drill = as_of - at if as_of > at else timedelta(0)
    # Two statements, so that the due ones always come from their index: joined in one, the
    # planner read all 115 000 open incidents (140 ms a batch) once statistics counted 10 000 due.
    due = session.scalars(select(IncidentEscalation.incident_id)
                          .where(IncidentEscalation.next_at <= as_of, IncidentEscalation.incident_id > after_id)
                          .order_by(IncidentEscalation.incident_id).limit(batch)).all()
    more_after = due[-1] if len(due) == batch else None
    rows = session.execute(
        select(Incident.id, Incident.code, Incident.status, Incident.escalation_level, Incident.area_id,
               Incident.town_id, Category.escalate_after_hours)
        .join(Category, Category.code == Incident.category_code)
        .where(Incident.id == any_(bindparam("due", due, type_=ARRAY(Integer))),
               Incident.status.in_(OPEN_STATUSES), Incident.next_escalation_at <= as_of)   # as the row is now
        .order_by(Incident.id).with_for_update(skip_locked=True, of=Incident)).all() if due else []
    if not rows:
        return [], more_after
    # Who holds each row at its new level: a few groups (one per area, or the town's administrators),
    # so the batch ships small int arrays and each group's holders once, not a JSON document per row.
    groups: dict[tuple[int, ...], int] = {}
    moves = []
    deadlines.prefetch_holders(session, {(row.escalation_level + 1, row.area_id, row.town_id) for row in rows})
    webhooks.prefetch_town_webhooks(session, {row.town_id for row in rows})
    for row in rows:
        level = row.escalation_level + 1
        people = deadlines.holders_at(session, level, row.area_id, row.town_id)
        group = groups.setdefault(tuple(p.id for p in people), len(groups))
        following = deadlines.next_look(row.status, level, None, at, row.escalate_after_hours)
        # when it is looked at next, in seconds after ``at`` (numbers ship cheaper than timestamps)
        after = (following + drill - at).total_seconds() if following is not None else None
        moves.append((row, level, group, after, people))
    names = {p.id: p.username for *_, people in moves for p in people}
    # No join in it: each row finds its group's holders by subscript in two JSON arrays read once
    # (``g``). A connection that has swept ten times gets PostgreSQL's generic plan for it, which
    # guesses 10 rows for 2 000: with the groups joined, it re-aggregated their names for every
    # row (1.9 s a batch instead of 0.2); by subscript, no plan can do that.
    session.execute(text("""
        WITH m AS (
            SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:levels AS int[]), CAST(:groups AS int[]),
                                 CAST(:after AS float8[])) AS m(id, level, grp, after)
        ), g AS MATERIALIZED (   -- per group (from 0), its holders' ids and usernames, in order
            SELECT CAST(:group_ids AS jsonb) AS ids, CAST(:group_names AS jsonb) AS names
        ), d AS (
            SELECT m.id, m.level, CAST(:at AS timestamptz) + make_interval(secs => m.after) AS next_at,
                   g.ids -> m.grp AS holder_ids,
                   CASE WHEN m.level = 1 THEN 'overdue' ELSE 'stale' END AS trigger,
                   jsonb_build_object('level', m.level, 'trigger', CASE WHEN m.level = 1 THEN 'overdue' ELSE 'stale' END,
                                      'holders', g.names -> m.grp) AS data
            FROM m CROSS JOIN g
        ), upd AS (
            UPDATE incidents i SET escalation_level = d.level, escalated_at = :at, escalation_trigger = d.trigger,
                   next_escalation_at = d.next_at
            FROM d WHERE i.id = d.id AND i.id = ANY(CAST(:ids AS int[]))   -- (the primary key, not a scan)
            RETURNING i.id, i.status, d.data, d.holder_ids, i.grid_id, i.area_id
        ), told AS (   -- notify.notify's notice, once per holder
            INSERT INTO notifications (user_id, incident_id, kind, data, created_at)
            SELECT DISTINCT ON (upd.id, h.user_id) h.user_id, upd.id, 'escalated', upd.data, CAST(:at AS timestamptz)
            FROM upd CROSS JOIN LATERAL (SELECT CAST(value AS int) AS user_id
                                         FROM jsonb_array_elements_text(upd.holder_ids)) h
        )
        INSERT INTO incident_events (incident_id, at, actor_id, action, from_status, to_status, note, data,
                                     grid_id, area_id)
        SELECT id, :at, NULL, 'escalate', status, status, '', data, grid_id, area_id FROM upd
    """), {"ids": [m[0].id for m in moves], "levels": [m[1] for m in moves], "groups": [m[2] for m in moves],
           "after": [m[3] for m in moves], "at": at, **_group_arrays(groups, names)})
    _expire(session, [r.id for r in rows])
    for row, level, _, _, people in moves:   # the town's webhooks (a town without any: one cached lookup)
        data = {"level": level, "trigger": "overdue" if level == 1 else "stale",
                "holders": [u.username for u in people]}
        if people and webhooks.town_webhooks(session, row.town_id):
            webhooks.queue(session, session.get(Incident, row.id), "escalated", people, data)
        log_escalation(row.id, row.code, data, None)
    session.flush()
    return [r.id for r in rows], more_after


def _group_arrays(groups: dict[tuple[int, ...], int], names: dict[int, str]) -> dict:
    """Each group's holders (groups numbered from 0, as JSON arrays): their ids, and their
    usernames, one JSON array of arrays each."""
    ordered = sorted(groups, key=groups.get)
    return {"group_ids": json.dumps(ordered),
            "group_names": json.dumps([[names[i] for i in ids] for ids in ordered], ensure_ascii=False)}


def _expire(session: Session, ids: list[int]) -> None:
    """Incidents written by SQL: any copy already loaded is read again when next used."""
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Incident) and obj.id in wanted:
            session.expire(obj)
