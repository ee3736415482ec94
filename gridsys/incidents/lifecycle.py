"""Every write of an incident's status, escalation level and event log is here.

reported → assigned → in_progress → resolved → closed, plus reopened (返工, counted) and
cancelled (with reason). People's actions are ``ACTIONS`` (from which states, to which, who
may), taken one at a time by ``transition``; what the system does is ``CREATED`` (a new report)
and ``HANDED_OVER`` (a boundary change gives it a new handler); escalation raises the level and
never the status. Single forms work on a locked ORM incident (``transition``, ``escalate``,
``create``); set-based forms move many rows in a few statements (``rehome`` for a redraw,
``escalate_due`` for the sweep). No other code writes ``Incident.status`` or an event.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Date, DateTime, Uuid, bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value

from .. import applog, geo, settings
from ..clock import now
from ..errors import Conflict, Forbidden, GridsysError
from ..inputs import has_visible, text_or_none, whole_number
from ..people import access
from ..people.models import User
from .models import OPEN_STATUSES, Category, Incident
from . import deadlines, notify, scoping, webhooks
from .deadlines import MAX_LEVEL
from .events import record

HANDLER, MANAGER, VERIFIER, PARTICIPANT, CANCELLER = "handler", "manager", "verifier", "participant", "canceller"


@dataclass(frozen=True)
class Action:
    allowed_from: tuple[str, ...]
    to: str | None          # None: the status does not change
    who: str
    needs_note: bool = False


ACTIONS = {
    "accept": Action(("assigned", "reopened"), "in_progress", HANDLER),
    "comment": Action((*OPEN_STATUSES, "resolved"), None, PARTICIPANT, needs_note=True),
    "resolve": Action(("assigned", "in_progress", "reopened"), "resolved", HANDLER, needs_note=True),
    "close": Action(("resolved",), "closed", VERIFIER),
    "reopen": Action(("resolved",), "reopened", VERIFIER, needs_note=True),
    "cancel": Action(OPEN_STATUSES, "cancelled", CANCELLER, needs_note=True),
    "reassign": Action(OPEN_STATUSES, "assigned", MANAGER),
    "extend": Action(OPEN_STATUSES, None, MANAGER, needs_note=True),
    "escalate": Action(OPEN_STATUSES, None, HANDLER, needs_note=True),
    "take": Action(OPEN_STATUSES, "in_progress", MANAGER),
    "send_down": Action(OPEN_STATUSES, "assigned", MANAGER, needs_note=True),
}
# What the system does to the status. A new report is dispatched at once to the handler routing
# chose, or stays reported; a boundary change that gives an open incident a new handler hands it
# over (a report is dispatched, work under way must be accepted again; other statuses stay).
CREATED = {"dispatch": "assigned", "unrouted": "reported"}
HANDED_OVER = {"reported": "assigned", "in_progress": "assigned"}
MAX_NOTE = 2000


def may(actor: User, scope: access.Scope, incident: Incident, who: str) -> bool:
    manager = scoping.manages_incident(scope, incident)
    if who == MANAGER:
        return manager
    if who == HANDLER:
        return manager or incident.assignee_id == actor.id
    if who == VERIFIER:
        return manager or (settings.of(object_session(incident)).reporter_may_close and incident.reporter_id == actor.id)
    if who == CANCELLER:
        return manager or (incident.reporter_id == actor.id and incident.status in ("reported", "assigned"))
    return True  # PARTICIPANT: whoever can see it (scope checked by the caller)


def transition(session: Session, incident: Incident, actor: User, action: str, *, note: str = "",
               expected_version: int | None = None, assignee: str | None = None,
               hours: int | None = None, at: datetime | None = None, scope: access.Scope | None = None):
    """Perform ``action`` on a row-locked incident; raises with a stable code when not allowed."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise GridsysError("action_unknown", f"unknown action {action!r}: one of {', '.join(ACTIONS)}",
                           status=400)
    session.refresh(incident, with_for_update={"of": Incident})
    if expected_version is not None and \
            whole_number(expected_version, "version_invalid", "version") != incident.version:
        raise Conflict("stale_update", "someone else changed this incident meanwhile: reload it and "
                                       "try again")
    scope = scope or access.scope_for(session, actor)
    if incident.status not in spec.allowed_from:
        raise Conflict("transition_not_allowed", f"cannot {action} an incident that is {incident.status}")
    if not may(actor, scope, incident, spec.who):
        raise Forbidden("actor_not_allowed", f"you may not {action} this incident")
    note = (text_or_none(note, "note_invalid", "note") or "").strip()
    if spec.needs_note and not has_visible(note):
        raise GridsysError("note_required", f"{action} needs a note saying why or what was done")
    if len(note) > MAX_NOTE:
        raise GridsysError("note_too_long", f"a note has at most {MAX_NOTE} characters", max_length=MAX_NOTE)
    at = at or now()
    before = incident.status
    data = _apply(session, incident, actor, action, assignee=assignee, hours=hours, at=at)
    if spec.to is not None:
        incident.status = spec.to
    deadlines.schedule(incident)
    incident.version += 1
    incident.updated_at = at
    event = record(session, incident, actor, action, before, incident.status, note=note, data=data, at=at)
    _tell(session, incident, actor, action, note, data)
    applog.event("transition", user=actor.username, incident=incident.id, code=incident.code, act=action,
                 from_status=before, to_status=incident.status)
    return event


# Who must act after an action, and the notice they get (escalate notifies from ``escalate``).
NOTICES = {"reassign": "assigned", "reopen": "returned", "send_down": "instructed", "extend": "extended"}
NOTICE_NOTE = 500   # the start of the note the notice carries


def _tell(session: Session, incident: Incident, actor: User, action: str, note: str, data: dict) -> None:
    said = {"by": actor.username, **({"note": note[:NOTICE_NOTE]} if note else {})}
    if action == "resolve":   # awaits verification by the area's leader (the town's administrators without one)
        notify.notify(session, incident, "to_verify", deadlines.holders(session, incident, level=1), said,
                      actor=actor)
    elif action in NOTICES:
        if action == "extend":
            said.update(due_at=incident.due_at.isoformat(), hours=data["hours"])
        notify.notify(session, incident, NOTICES[action], [incident.assignee], said, actor=actor)


def _apply(session, incident: Incident, actor: User, action: str, *, assignee, hours, at) -> dict:
    if action == "resolve":
        incident.resolved_at = at
    elif action == "close":
        incident.closed_at = at
    elif action == "reopen":  # 返工: back to the handler with a fresh deadline
        incident.reopen_count += 1
        incident.resolved_at = None
        return {**deadlines.fresh_deadline(incident, at, force=True), **deadlines.de_escalate(incident)}
    elif action == "reassign":
        return {**_reassign(session, incident, assignee, at), **deadlines.hand_down(incident, at)}
    elif action == "extend":
        return {**deadlines.extend(incident, hours), **deadlines.de_escalate(incident)}
    elif action == "escalate":
        return escalate(session, incident, at, trigger="manual", actor=actor, record_event=False)
    elif action == "take":
        previous = incident.assignee.username if incident.assignee else None
        incident.assignee_id, incident.assignee, incident.assigned_as = actor.id, actor, "taken"
        return {"from": previous, "to": actor.username, **deadlines.hand_down(incident, at)}
    elif action == "send_down":
        if incident.escalation_level == 0:
            raise Conflict("not_escalated", "only an escalated incident can be sent back down")
        return deadlines.hand_down(incident, at)
    return {}


def _reassign(session, incident: Incident, username, at) -> dict:
    username = text_or_none(username, "assignee_invalid", "assignee (a username)")
    target = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
    if target is None or not target.active:
        raise GridsysError("assignee_unknown", f"no active person named {username!r}", assignee=username)
    if not scoping.covers_incident(access.scope_for(session, target), incident):
        raise GridsysError("assignee_out_of_scope", f"{target.username} does not serve this incident's "
                                                    "grid or area: choose someone who does",
                           assignee=target.username)
    if target.id == incident.assignee_id:
        raise GridsysError("assignee_unchanged", f"{target.username} already handles this incident",
                           assignee=target.username)
    previous = incident.assignee.username if incident.assignee else None
    incident.assignee_id = target.id
    incident.assignee = target
    incident.assigned_as = "reassigned"
    incident.dispatched_at = at
    return {"from": previous, "to": target.username}


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
            SELECT i.id, i.status, i.assignee_id FROM incidents i JOIN m ON m.id = i.id
            WHERE i.status = ANY(CAST(:open AS text[])) FOR UPDATE OF i
        ), upd AS (
            UPDATE incidents i SET grid_id = m.grid_id, area_id = m.area_id, assignee_id = m.assignee_id,
                   assigned_as = m.assigned_as, routing = m.routing, version = i.version + 1, updated_at = :at,
                   status = CASE WHEN m.assignee_id IS NOT NULL AND m.assignee_id IS DISTINCT FROM i.assignee_id
                                 THEN coalesce(CAST(:handed_over AS jsonb) ->> i.status, i.status)
                                 ELSE i.status END,  -- HANDED_OVER
                   dispatched_at = CASE WHEN m.assignee_id IS DISTINCT FROM i.assignee_id THEN :at
                                        ELSE i.dispatched_at END,
                   -- dispatched for the first time by the move: it gets its deadline now
                   due_at = CASE WHEN i.due_at IS NULL AND m.assignee_id IS NOT NULL
                                 THEN CAST(:at AS timestamptz) + make_interval(hours => m.hours) ELSE i.due_at END,
                   next_escalation_at = CASE WHEN i.due_at IS NULL AND m.assignee_id IS NOT NULL
                                                  AND i.escalation_level = 0
                                             THEN CAST(:at AS timestamptz) + make_interval(hours => m.hours)
                                             ELSE i.next_escalation_at END
            FROM m, old WHERE i.id = m.id AND old.id = m.id
            RETURNING i.id, old.status AS from_status, i.status AS to_status, m.data, i.assignee_id,
                      old.assignee_id AS old_assignee_id
        ), told AS (  -- a new handler is told (in the app; group robots are not sent a whole redraw)
            INSERT INTO notifications (user_id, incident_id, kind, data, created_at)
            SELECT upd.assignee_id, upd.id, 'assigned', jsonb_build_object('by', CAST(:actor AS text), 'moved', true),
                   CAST(:at AS timestamptz)
            FROM upd WHERE upd.assignee_id IS NOT NULL AND upd.assignee_id IS DISTINCT FROM upd.old_assignee_id
              AND upd.assignee_id IS DISTINCT FROM (SELECT id FROM users WHERE username = CAST(:actor AS text))
        )
        INSERT INTO incident_events (incident_id, at, actor_id, action, from_status, to_status, note, data)
        SELECT upd.id, :at, (SELECT id FROM users WHERE username = :actor), 'rehome', upd.from_status,
               upd.to_status, :note, upd.data FROM upd
        RETURNING incident_id
    """), {"ids": [m["id"] for m in moves], "grid_ids": [m["grid_id"] for m in moves],
           "area_ids": [m["area_id"] for m in moves], "assignee_ids": [m["assignee_id"] for m in moves],
           "assigned_as": [m["assigned_as"] for m in moves], "routings": [json.dumps(m["routing"]) for m in moves],
           "datas": [json.dumps(m["data"]) for m in moves], "hours": [m.get("deadline_hours") for m in moves],
           "at": at, "actor": actor, "note": reason, "open": list(OPEN_STATUSES),
           "handed_over": json.dumps(HANDED_OVER)}).all()
    session.expire_all()
    return len(rows)


# --- escalation: one incident, and the sweep's set-based form -------------------------------------

def escalate(session: Session, incident: Incident, at: datetime, *, trigger: str,
             actor: User | None = None, note: str = "", record_event: bool = True) -> dict:
    """Move a locked incident one level up, notify the new holders (inbox and town webhooks) and
    return the event data (``record_event=False``: ``transition`` records it)."""
    if incident.escalation_level >= MAX_LEVEL:
        raise Conflict("already_at_top", "this incident is already with the town administrators")
    incident.escalation_level += 1
    incident.escalated_at = at
    incident.escalation_trigger = trigger
    deadlines.schedule(incident)
    people = deadlines.holders(session, incident)
    data = {"level": incident.escalation_level, "trigger": trigger, "holders": [u.username for u in people]}
    if record_event:
        record(session, incident, actor, "escalate", incident.status, incident.status, note=note, data=data, at=at,
               flush=False)
    notify.notify(session, incident, "escalated", people, data, actor=actor)
    _log_escalation(incident.id, incident.code, data, actor)
    return data


def _log_escalation(incident_id: int, code: str, data: dict, actor: User | None) -> None:
    applog.event("escalated", incident=incident_id, code=code, to_level=data["level"], trigger=data["trigger"],
                 holders=data["holders"], **({"user": actor.username} if actor else {}))


def escalate_due(session: Session, as_of: datetime, *, batch: int, after_id: int = 0) -> list[int]:
    """Raise by one level each open incident whose ``next_escalation_at`` has passed at ``as_of``
    (up to ``batch`` of them, ids above ``after_id``, each taken ``FOR UPDATE SKIP LOCKED`` so
    concurrent sweeps never escalate one twice): one UPDATE, one INSERT of events and one of
    notices for the whole batch, the same data ``escalate`` writes one by one. A drill (``as_of``
    ahead of now) counts the next deadline from ``as_of`` too, so the same drill run again raises
    nothing more (events keep the real time). Returns the ids raised, in order."""
    at = now()
    drill = as_of - at if as_of > at else timedelta(0)
    rows = session.execute(
        select(Incident.id, Incident.code, Incident.status, Incident.escalation_level, Incident.area_id,
               Incident.town_id, Category.escalate_after_hours)
        .join(Category, Category.code == Incident.category_code)
        .where(Incident.status.in_(OPEN_STATUSES), Incident.next_escalation_at <= as_of,
               Incident.next_escalation_at.is_not(None), Incident.id > after_id)
        .order_by(Incident.id).limit(batch).with_for_update(skip_locked=True, of=Incident)).all()
    if not rows:
        return []
    moves, told = [], []
    for row in rows:
        level = row.escalation_level + 1
        people = deadlines.holders_at(session, level, row.area_id, row.town_id)
        data = {"level": level, "trigger": "overdue" if level == 1 else "stale",
                "holders": [u.username for u in people]}
        following = deadlines.next_look(row.status, level, None, at, row.escalate_after_hours)
        moves.append((row, data, following + drill if following is not None else None, people))
        told += [(person.id, row.id, data) for person in {p.id: p for p in people}.values()]
    session.execute(text("""
        WITH m AS (
            SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:levels AS int[]), CAST(:triggers AS text[]),
                                 CAST(:next_at AS timestamptz[]), CAST(:datas AS jsonb[]))
                   AS m(id, level, trigger, next_at, data)
        ), upd AS (
            UPDATE incidents i SET escalation_level = m.level, escalated_at = :at, escalation_trigger = m.trigger,
                   next_escalation_at = m.next_at
            FROM m WHERE i.id = m.id
            RETURNING i.id, i.status, m.data
        )
        INSERT INTO incident_events (incident_id, at, actor_id, action, from_status, to_status, note, data)
        SELECT id, :at, NULL, 'escalate', status, status, '', data FROM upd
    """), {"ids": [m[0].id for m in moves], "levels": [m[1]["level"] for m in moves],
           "triggers": [m[1]["trigger"] for m in moves], "next_at": [m[2] for m in moves],
           "datas": [json.dumps(m[1]) for m in moves], "at": at})
    notify.notify_many(session, "escalated", told, at=at)
    _expire(session, [r.id for r in rows])
    for row, data, _, people in moves:   # the town's webhooks (a town without any: one cached lookup)
        if people and webhooks.town_webhooks(session, row.town_id):
            webhooks.queue(session, session.get(Incident, row.id), "escalated", people, data)
        _log_escalation(row.id, row.code, data, None)
    session.flush()
    return [r.id for r in rows]


def _expire(session: Session, ids: list[int]) -> None:
    """Incidents written by SQL: any copy already loaded is read again when next used."""
    wanted = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Incident) and obj.id in wanted:
            session.expire(obj)


# --- a new report ----------------------------------------------------------------------------------

def create(session: Session, row: dict, *, reporter: User, assignee: User | None, related: dict,
           report_data: dict, town_hooked: bool | None) -> Incident | None:
    """Write a new incident (``row``: its columns and ``at``), its first two events (reported;
    dispatched or not: ``CREATED``) and the handler's notice in one statement; then the town's
    webhooks and, for an urgent one, the escalation to the area leader. ``related``: the objects
    already in hand (category, town, area, grid), so nothing is loaded again. None when a
    concurrent request with the same client UUID won (nothing was written)."""
    action = "dispatch" if assignee is not None else "unrouted"
    incident = session.scalars(_insert_statement(), {
        **row, "status": CREATED[action], "second_action": action, "reporter_id": reporter.id,
        "assignee_id": assignee.id if assignee else None, "report_data": report_data,
        "told": {"by": reporter.username}}).one_or_none()
    if incident is None:
        return None
    for name, value in (*related.items(), ("reporter", reporter), ("assignee", assignee)):
        set_committed_value(incident, name, value)
    # The handler's "assigned" notice is written by the INSERT itself (one round trip less on the
    # busiest path); the town's webhooks, where it has any, are queued as for every notice.
    if assignee is not None and assignee.id != reporter.id and town_hooked is not False:
        webhooks.queue(session, incident, "assigned", [assignee], {"by": reporter.username})
    if deadlines.escalates_at_once(incident):
        escalate(session, incident, row["at"], trigger="urgent")
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
                                   escalation_level, reopen_count, version, code, assignee_id, assigned_as,
                                   dispatched_at, due_at, next_escalation_at)
            VALUES (:client_uuid, ST_SetSRID(ST_GeomFromWKB(decode(:geom_wkb, 'hex')), {geo.STORAGE_SRID}),
                    :address, :category_code, :description, :priority, :status, :town_id, :area_id, :grid_id,
                    :reporter_id, :at, :observed_at, :at, :routing, 0, 0, 1,
                    :code_prefix || (SELECT lpad(n::text, greatest(3, length(n::text)), '0')
                                     FROM next_incident_seq(:prefix, :day) AS n),
                    :assignee_id, :assigned_as, :dispatched_at, :due_at, :next_escalation_at)
            ON CONFLICT (client_uuid) DO NOTHING
            RETURNING *
        ), events AS (
            INSERT INTO incident_events (incident_id, at, actor_id, action, from_status, to_status, note, data)
            SELECT id, :at, :reporter_id, 'report', NULL, 'reported', '', :report_data FROM inserted
            UNION ALL
            SELECT id, :at, NULL, :second_action, 'reported', status, '', :routing FROM inserted
        ), told AS (  -- the handler's notice (notify.notify's rule: never to whoever reported it)
            INSERT INTO notifications (user_id, incident_id, kind, data, created_at)
            SELECT assignee_id, id, 'assigned', :told, :at FROM inserted
            WHERE assignee_id IS NOT NULL AND assignee_id <> reporter_id
        )
        SELECT {returning} FROM inserted""").bindparams(
        bindparam("routing", type_=JSONB), bindparam("report_data", type_=JSONB), bindparam("told", type_=JSONB),
        bindparam("client_uuid", type_=Uuid), bindparam("day", type_=Date),
        bindparam("at", type_=DateTime(timezone=True)), bindparam("observed_at", type_=DateTime(timezone=True)),
        bindparam("dispatched_at", type_=DateTime(timezone=True)),
        bindparam("due_at", type_=DateTime(timezone=True)),
        bindparam("next_escalation_at", type_=DateTime(timezone=True)))
    return select(Incident).from_statement(sql.columns(*columns))
