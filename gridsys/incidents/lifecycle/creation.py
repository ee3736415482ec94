"""A new report: the incident, its first events and notices in one statement."""
from __future__ import annotations

import functools
from datetime import timedelta

from sqlalchemy import Date, DateTime, Uuid, bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ... import geo
from ...people.models import User
from .. import deadlines, notify, webhooks
from ..models import Incident
from .rules import CREATED
from .single import log_escalation

def create(session: Session, row: dict, *, reporter: User | None, assignee: User | None, related: dict,
           report_data: dict, town_hooked: bool | None, channel: str = "staff", contact: dict | None = None,
           tracking_hash: str | None = None) -> Incident | None:
    """Write a new incident (``row``: its columns and ``at``), its first two events (reported;
    then dispatched, not dispatched, or awaiting 立案: ``CREATED``) and the first notice in one
    statement; then the town's webhooks and, for an urgent staff report, the escalation to the area
    leader. A report by any channel but staff waits for registration: it stays ``reported`` with
    the worker routing chose (who gets a ``to_register`` notice, as does the area's leader) and its
    deadline is the category's response time. ``related``: the objects already in hand (category,
    town, area, grid), so nothing is loaded again. ``contact``: a resident's ``phone`` and ``name``.
    None when a concurrent request with the same client UUID won (nothing was written)."""
    at = row["at"]
    if channel != "staff":
        action, kind = "to_register", "to_register"
        response_due = at + timedelta(hours=related["category"].response_hours)
        row = {**row, "dispatched_at": None, "due_at": response_due, "next_escalation_at": response_due}
    else:
        action, kind = ("dispatch" if assignee is not None else "unrouted"), "assigned"
    told = {"by": reporter.username} if reporter is not None else {"channel": channel}
    # An urgent staff report goes to the area leader's attention at once: level 1 is written by the
    # same INSERT, with its event and the holders' notices (lifecycle.escalate's data, no second
    # round of UPDATE, event and notices).
    urgent = channel == "staff" and deadlines.escalates_at_once_as(row["priority"], assignee, row["assigned_as"])
    holders = deadlines.holders_at(session, 1, row["area_id"], row["town_id"]) if urgent else []
    told_urgent = list({u.id: u for u in holders}.values())   # each once (notify.notify's rule)
    escalation = {"level": 1, "trigger": "urgent", "holders": [u.username for u in holders]} if urgent else None
    if urgent:
        row = {**row, "next_escalation_at": deadlines.next_look(CREATED[action], 1, row["due_at"], at,
                                                                related["category"].escalate_after_hours)}
    incident = session.scalars(_insert_statement(), {
        **row, "status": CREATED[action], "second_action": action, "reporter_id": reporter.id if reporter else None,
        "assignee_id": assignee.id if assignee else None, "report_data": report_data, "told": told,
        "told_kind": kind, "channel": channel, "contact_phone": (contact or {}).get("phone"),
        "contact_name": (contact or {}).get("name"), "tracking_hash": tracking_hash,
        "escalation_level": 1 if urgent else 0, "escalated_at": at if urgent else None,
        "escalation_trigger": "urgent" if urgent else None, "escalation": escalation or {}, "urgent": urgent,
        "escalated_to": [u.id for u in told_urgent]}).one_or_none()
    if incident is None:
        return None
    for name, value in (*related.items(), ("reporter", reporter), ("assignee", assignee)):
        set_committed_value(incident, name, value)
    # The handler's notice is written by the INSERT itself (one round trip less on the busiest
    # path); the town's webhooks, where it has any, are queued as for every notice.
    told_here = [assignee] if assignee is not None and assignee != reporter else []
    if told_here and town_hooked is not False:
        webhooks.queue(session, incident, kind, told_here, told)
    if channel != "staff":   # the area's leader watches the residents' reports too
        notify.notify(session, incident, "to_register",
                      [p for p in deadlines.holders(session, incident, level=1) if p not in told_here], told)
    elif urgent:
        if told_urgent and town_hooked is not False:
            webhooks.queue(session, incident, "escalated", told_urgent, escalation)
        log_escalation(incident.id, incident.code, escalation, None)
    session.flush()
    return incident


@functools.cache
def _insert_statement():
    """The incident and its first two events (reported; dispatched or not) in one statement,
    compiled once. ON CONFLICT on the client UUID: a concurrent request with the same UUID won,
    nothing is inserted and no event is written. The code <zone>-<yyyymmdd>-<seq> is numbered
    by next_incident_seq inside the INSERT: at least three digits (001 … 999), then as many as
    it takes (1000, 1001 …), so a busy grid never runs out of codes on a day. (Plain SQL: the dialect's ON CONFLICT construct is
    not cacheable, and compiling it on every report cost more than the database work.)"""
    columns = [c for c in Incident.__table__.c]
    returning = ", ".join("ST_AsEWKB(geom) AS geom" if c.name == "geom" else c.name for c in columns)
    sql = text(f"""
        WITH inserted AS (
            INSERT INTO incidents (client_uuid, geom, address, category_code, description, priority, status,
                                   town_id, area_id, grid_id, reporter_id, created_at, observed_at,
                                   updated_at, routing,
                                   escalation_level, escalated_at, escalation_trigger, reopen_count, version, code,
                                   assignee_id, assigned_as,
                                   dispatched_at, due_at, next_escalation_at, channel, contact_phone,
                                   contact_name, tracking_hash)
            VALUES (:client_uuid, ST_SetSRID(ST_GeomFromWKB(decode(:geom_wkb, 'hex')), {geo.STORAGE_SRID}),
                    :address, :category_code, :description, :priority, :status, :town_id, :area_id, :grid_id,
                    :reporter_id, :at, :observed_at, :at, :routing, :escalation_level, :escalated_at,
                    :escalation_trigger, 0, 1,
                    :code_prefix || (SELECT lpad(n::text, greatest(3, length(n::text)), '0')
                                     FROM next_incident_seq(:prefix, :day) AS n),
                    :assignee_id, :assigned_as, :dispatched_at, :due_at, :next_escalation_at, :channel,
                    :contact_phone, :contact_name, :tracking_hash)
            ON CONFLICT (client_uuid) DO NOTHING
            RETURNING *
        ), events AS (
            INSERT INTO incident_events (incident_id, at, actor_id, action, from_status, to_status, note, data,
                                         grid_id, area_id)
            SELECT id, :at, :reporter_id, 'report', NULL, 'reported', '', :report_data, grid_id, area_id FROM inserted
            UNION ALL
            SELECT id, :at, NULL, :second_action, 'reported', status, '', :routing, grid_id, area_id FROM inserted
            UNION ALL   -- urgent: escalated to the area leader at once
            SELECT id, :at, NULL, 'escalate', status, status, '', :escalation, grid_id, area_id FROM inserted
            WHERE CAST(:urgent AS boolean)
        ), told AS (  -- the handler's notice (notify.notify's rule: never to whoever reported it)
            INSERT INTO notifications (user_id, incident_id, kind, data, created_at)
            SELECT assignee_id, id, :told_kind, :told, :at FROM inserted
            WHERE assignee_id IS NOT NULL AND assignee_id IS DISTINCT FROM reporter_id
            UNION ALL   -- urgent: each holder's notice of the escalation
            SELECT h.user_id, inserted.id, 'escalated', :escalation, :at
            FROM inserted, unnest(CAST(:escalated_to AS int[])) AS h(user_id)
        )
        SELECT {returning} FROM inserted""").bindparams(
        bindparam("routing", type_=JSONB), bindparam("report_data", type_=JSONB), bindparam("told", type_=JSONB),
        bindparam("escalation", type_=JSONB), bindparam("escalated_at", type_=DateTime(timezone=True)),
        bindparam("client_uuid", type_=Uuid), bindparam("day", type_=Date),
        bindparam("at", type_=DateTime(timezone=True)), bindparam("observed_at", type_=DateTime(timezone=True)),
        bindparam("dispatched_at", type_=DateTime(timezone=True)),
        bindparam("due_at", type_=DateTime(timezone=True)),
        bindparam("next_escalation_at", type_=DateTime(timezone=True)))
    return select(Incident).from_statement(sql.columns(*columns))
