"""What a person may do with an incident, for the pages: the actions to show (and which first),
and whom it may be handed to. The guard itself is ``lifecycle.may``, checked on every action."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Forbidden
from ..people import access
from ..people.models import GridAssignment, User
from . import routing, scoping
from .deadlines import MAX_LEVEL
from .lifecycle import ACTIONS, may
from .lifecycle.rules import RESIDENT_ONLY
from .models import Incident


def allowed_actions(actor: User, scope: access.Scope, incident: Incident) -> list[str]:
    """What this person can do now (for showing buttons)."""
    hidden = {"escalate"} if incident.escalation_level >= MAX_LEVEL else set()
    if incident.escalation_level == 0:
        hidden.add("send_down")
    if incident.channel == "staff":
        hidden.update(RESIDENT_ONLY)
    elif incident.status == "reported":   # a resident's report is registered, not reassigned or taken
        hidden.update({"reassign", "take"})
    if incident.status == "closed" and not (incident.rating == "unsatisfied" and incident.review is None
                                            and scoping.manages_incident(scope, incident)):
        hidden.update({"reopen", "confirm"})
    return [name for name, a in ACTIONS.items()
            if name not in hidden and incident.status in a.allowed_from and may(actor, scope, incident, a.who)]


def primary_actions(actor: User, scope: access.Scope, incident: Incident, allowed: list[str]) -> list[str]:
    """What this person should do next, of what they may (shown first and open; the rest folded):
    a resident's report in 待立案 is registered or declined (by the routed worker or the leader);
    the handler accepts, then resolves; a verifier closes or sends back a resolved incident; a
    closure the resident rated 不满意 is reopened or confirmed by the leader; a leader acts on one
    escalated to them (instructions down, or another handler); an incident routed to nobody gets a
    handler."""
    manager = scoping.manages_incident(scope, incident)
    if incident.status == "reported" and incident.channel != "staff":
        wanted = ["register", "decline"]
    elif incident.status == "closed":   # offered only for an undecided 不满意 (allowed_actions)
        wanted = ["reopen", "confirm"]
    elif incident.status == "resolved":
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


def may_record_callback(actor: User, scope: access.Scope, incident: Incident) -> bool:
    """Whether to offer this person the telephone 回访 of a closed resident's report not yet rated:
    its handler, and the leaders and administrators in scope (lifecycle.rate checks the rest)."""
    return (incident.channel != "staff" and incident.status == "closed" and incident.rating is None
            and (incident.assignee_id == actor.id or scoping.manages_incident(scope, incident)))


def require_callback(actor: User, scope: access.Scope, incident: Incident) -> None:
    """Refuse a telephone 回访 recorded by anyone but the handler or a leader in scope (what the
    report's state allows is lifecycle.rate's to say, with its own codes)."""
    if not (incident.assignee_id == actor.id or scoping.manages_incident(scope, incident)):
        raise Forbidden("actor_not_allowed", "only the handler or the area's leader records a telephone 回访")


@dataclass
class Candidate:
    user: User
    duties: list[str]       # their duties on the incident's grid ("general" included)
    backup: list[str]       # duties they cover there as a backup
    roles: list[str]        # area_leader (of its area), admin (of its town)


def reassign_candidates(session: Session, incident: Incident) -> list[Candidate]:
    """Who the incident may be handed to (改派), with what they are: the grid's workers by duty,
    the area's leader and the town's administrators; never its current handler."""
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
