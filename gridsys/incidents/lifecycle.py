"""The one function that changes an incident's status: ``transition``.

reported → assigned → in_progress → resolved → closed, plus reopened (返工, counted) and
cancelled (with reason). Each action says from which states it is allowed and who may take
it; every call appends an event. No other code writes ``Incident.status``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, object_session

from .. import applog, settings
from ..clock import now
from ..errors import Conflict, Forbidden, GridsysError
from ..inputs import has_visible, text_or_none, whole_number
from ..people import access
from ..people.models import User
from .models import OPEN_STATUSES, Incident
from . import escalation, notify, scoping
from .events import record
from .services import due_hours

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
MAX_NOTE = 2000
MAX_EXTENSION_HOURS = 24 * 60


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


def allowed_actions(actor: User, scope: access.Scope, incident: Incident) -> list[str]:
    """What this person can do now (for showing buttons)."""
    hidden = {"escalate"} if incident.escalation_level >= escalation.MAX_LEVEL else set()
    if incident.escalation_level == 0:
        hidden.add("send_down")
    return [name for name, a in ACTIONS.items()
            if name not in hidden and incident.status in a.allowed_from and may(actor, scope, incident, a.who)]


def primary_actions(actor: User, scope: access.Scope, incident: Incident, allowed: list[str]) -> list[str]:
    """What this person should do next, of what they may (shown first and open; the rest folded):
    the handler accepts, then resolves; a verifier closes or sends back a resolved incident; a
    leader acts on one escalated to them (instructions down, or another handler); an incident
    routed to nobody gets a handler."""
    manager = scoping.manages_incident(scope, incident)
    if incident.status == "resolved":
        wanted = ["close", "reopen"]
    elif incident.assignee_id == actor.id:
        wanted = ["accept"] if incident.status in ("assigned", "reopened") else ["resolve"]
    elif manager and incident.escalation_level:
        wanted = ["send_down", "reassign", "take"]
    elif manager and incident.assignee_id is None:
        wanted = ["reassign", "take"]
    else:
        wanted = []
    return [a for a in wanted if a in allowed]


@dataclass
class Candidate:
    user: User
    duties: list[str]       # their duties on the incident's grid ("general" included)
    backup: list[str]       # duties they cover there as a backup
    roles: list[str]        # area_leader (of its area), admin (of its town)


def reassign_candidates(session: Session, incident: Incident) -> list[Candidate]:
    """Who the incident may be handed to (改派), with what they are: the grid's workers by duty,
    the area's leader and the town's administrators; never its current handler."""
    from sqlalchemy import select
    from ..people.models import GridAssignment
    from . import routing
    found: dict[int, Candidate | None] = {}

    def entry(user) -> Candidate | None:
        if user is None or not user.active or user.id == incident.assignee_id:
            return None
        if user.id not in found:   # offered only if reassignment would take them (their roles, not only rows)
            if not scoping.covers_incident(access.scope_for(session, user), incident):
                found[user.id] = None
            else:
                found[user.id] = Candidate(user, [], [], [])
        return found[user.id]
    if incident.grid_id is not None:
        for a in session.scalars(select(GridAssignment).where(GridAssignment.grid_id == incident.grid_id,
                                                              GridAssignment.valid_to.is_(None))
                                 .order_by(GridAssignment.backup, GridAssignment.duty)):
            if (c := entry(a.user)) is not None:
                (c.backup if a.backup else c.duties).append(a.duty)
    if (c := entry(routing.area_leader(session, incident.area_id))) is not None:
        c.roles.append("area_leader")
    for admin in routing.town_admins(session, incident.town_id):
        if (c := entry(admin)) is not None:
            c.roles.append("admin")
    duty = incident.category.duty   # who holds the category's duty first, then the grid's others, then leaders
    return sorted((c for c in found.values() if c is not None),
                  key=lambda c: (duty not in c.duties + c.backup, not (c.duties or c.backup)))


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
    escalation.schedule(incident)
    incident.version += 1
    incident.updated_at = at
    event = record(session, incident, actor, action, before, incident.status, note=note, data=data, at=at)
    _tell(session, incident, actor, action, note, data)
    applog.event("transition", user=actor.username, incident=incident.id, code=incident.code, act=action,
                 from_status=before, to_status=incident.status)
    return event


# Who must act after an action, and the notice they get (escalate notifies from escalation.raise_level).
NOTICES = {"reassign": "assigned", "reopen": "returned", "send_down": "instructed", "extend": "extended"}
NOTICE_NOTE = 500   # the start of the note the notice carries


def _tell(session: Session, incident: Incident, actor: User, action: str, note: str, data: dict) -> None:
    said = {"by": actor.username, **({"note": note[:NOTICE_NOTE]} if note else {})}
    if action == "resolve":   # awaits verification by the area's leader (the town's administrators without one)
        notify.notify(session, incident, "to_verify", escalation.holders(session, incident, level=1), said,
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
        return {**_fresh_deadline(incident, at, force=True), **escalation.de_escalate(incident)}
    elif action == "reassign":
        return {**_reassign(session, incident, assignee, at), **_hand_down(incident, at)}
    elif action == "extend":
        return {**_extend(incident, hours), **escalation.de_escalate(incident)}
    elif action == "escalate":
        return escalation.raise_level(session, incident, at, trigger="manual", actor=actor, record_event=False)
    elif action == "take":
        previous = incident.assignee.username if incident.assignee else None
        incident.assignee_id, incident.assignee, incident.assigned_as = actor.id, actor, "taken"
        return {"from": previous, "to": actor.username, **_hand_down(incident, at)}
    elif action == "send_down":
        if incident.escalation_level == 0:
            raise Conflict("not_escalated", "only an escalated incident can be sent back down")
        return _hand_down(incident, at)
    return {}


def _hand_down(incident: Incident, at) -> dict:
    """A leader acted on it: level 0 again, and a fresh deadline if the old one has passed."""
    return {**escalation.de_escalate(incident), **_fresh_deadline(incident, at)}


def _fresh_deadline(incident: Incident, at, force: bool = False) -> dict:
    if not force and incident.due_at is not None and incident.due_at > at:
        return {}
    old = incident.due_at
    incident.due_at = at + timedelta(hours=due_hours(incident.category, incident.priority))
    return {"due_from": old.isoformat() if old else None, "due_to": incident.due_at.isoformat()}


def _reassign(session, incident: Incident, username, at) -> dict:
    from sqlalchemy import select
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


def _extend(incident: Incident, hours) -> dict:
    hours = whole_number(hours, "hours_invalid", "hours (to add)", 1, MAX_EXTENSION_HOURS, status=422)
    old = incident.due_at
    base = max(old, now()) if old else now()  # extending a passed deadline counts from now
    incident.due_at = base + timedelta(hours=hours)
    return {"from": old.isoformat() if old else None, "to": incident.due_at.isoformat(), "hours": hours}


def rehome(session: Session, moves: list[dict], *, actor: str, reason: str, at: datetime) -> int:
    """Boundary changes move open incidents: new grid, area and handler (from routing), set-based
    so a redraw over a large town stays fast. A new handler must accept again (in_progress →
    assigned) and is notified; an event on each incident explains the move. Returns the number moved."""
    import json
    from sqlalchemy import text
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
                   status = CASE WHEN m.assignee_id IS NULL THEN i.status
                                 WHEN i.status = 'reported' THEN 'assigned'
                                 WHEN i.status = 'in_progress' AND m.assignee_id IS DISTINCT FROM i.assignee_id
                                      THEN 'assigned'
                                 ELSE i.status END,
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
           "at": at, "actor": actor, "note": reason, "open": list(OPEN_STATUSES)}).all()
    session.expire_all()
    return len(rows)
