"""The lifecycle's tables, written once, and the guard on every action."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import object_session

from ... import settings
from ...people import access
from ...people.models import User
from .. import scoping
from ..models import OPEN_STATUSES, Incident

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
    # A closed one only from the leader's 不满意 queue (a resident's unsatisfied 回访): single.py checks.
    "reopen": Action(("resolved", "closed"), "reopened", VERIFIER, needs_note=True),
    "cancel": Action(OPEN_STATUSES, "cancelled", CANCELLER, needs_note=True),
    "reassign": Action(OPEN_STATUSES, "assigned", MANAGER),
    "extend": Action(OPEN_STATUSES, None, MANAGER, needs_note=True),
    "escalate": Action(OPEN_STATUSES, None, HANDLER, needs_note=True),
    "take": Action(OPEN_STATUSES, "in_progress", MANAGER),
    "send_down": Action(OPEN_STATUSES, "assigned", MANAGER, needs_note=True),
    # A resident's report (any channel but staff) waits in 待立案 for the routed worker or the leader:
    "register": Action(("reported",), "assigned", HANDLER),                     # 立案: dispatched, deadline starts
    "decline": Action(("reported",), "cancelled", HANDLER, needs_note=True),    # 不予受理, with a reply
    "merge": Action(("reported",), "cancelled", HANDLER),                       # a duplicate of another
    # The leader's answer to an unsatisfied 回访 when the closure stands (a reply the resident reads).
    "confirm": Action(("closed",), None, MANAGER, needs_note=True),
}
# Actions only a resident's report has, and actions whose note the resident always reads.
RESIDENT_ONLY = ("register", "decline", "merge")
PUBLIC_NOTES = ("decline", "confirm")
# What the system does to the status. A new staff report is dispatched at once to the handler
# routing chose, or stays reported; a resident's waits for 立案 (to_register); a boundary change that gives an open incident a new handler hands it
# over (a report is dispatched, work under way must be accepted again; other statuses stay).
CREATED = {"dispatch": "assigned", "unrouted": "reported", "to_register": "reported"}
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
