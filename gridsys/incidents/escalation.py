"""Escalation: level 0 the handler, 1 the responsible area leader (of the area that holds the
incident now), 2 the town administrators."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..errors import Conflict
from ..people.models import User
from . import routing
from .models import Incident

MAX_LEVEL = 2


def holders(session: Session, incident: Incident, level: int) -> list[User]:
    """Who holds an incident escalated to ``level`` (a missing leader falls through to the town)."""
    if level >= 1 and level < 2:
        leader = routing.area_leader(session, incident.area_id)
        if leader is not None:
            return [leader]
    if level >= 1:
        return routing.town_admins(session, incident.town_id)
    return [incident.assignee] if incident.assignee else []


def raise_level(session: Session, incident: Incident, at: datetime, *, trigger: str) -> dict:
    """Move an incident one level up; returns the event data (level, trigger, holders)."""
    if incident.escalation_level >= MAX_LEVEL:
        raise Conflict("already_at_top", "this incident is already with the town administrators")
    incident.escalation_level += 1
    incident.escalated_at = at
    people = holders(session, incident, incident.escalation_level)
    return {"level": incident.escalation_level, "trigger": trigger, "holders": [u.username for u in people]}


def escalate_manually(session: Session, incident: Incident, actor: User, at: datetime) -> dict:
    return raise_level(session, incident, at, trigger="manual")
