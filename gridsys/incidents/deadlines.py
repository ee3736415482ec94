"""Deadlines and escalation levels: the rules, no writes of their own.

Level 0 is the handler, 1 the responsible area leader (of the area that holds the incident
now), 2 the town administrators. An incident is due ``due_hours`` after dispatch; the sweep
looks at it again at ``next_escalation_at`` (``schedule``). The lifecycle applies these rules
when it writes (``lifecycle.escalate``, ``lifecycle.escalate_due``, ``lifecycle.transition``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ..clock import now
from ..inputs import whole_number
from ..people.models import User
from . import routing
from .models import OPEN_STATUSES, Category, Incident

MAX_LEVEL = 2
URGENT_DEADLINE_HOURS = 4  # urgent priority shortens a longer category deadline to this
MAX_EXTENSION_HOURS = 24 * 60


def due_hours(category: Category, priority: str) -> int:
    if priority == "urgent":
        return min(category.deadline_hours, URGENT_DEADLINE_HOURS)
    return category.deadline_hours


def next_look(status: str, level: int, due_at: datetime | None, escalated_at: datetime | None,
              escalate_after_hours: int) -> datetime | None:
    """When the sweep should next look at an incident: its deadline at level 0, the category's
    second deadline after an escalation, never once closed or with the administrators."""
    if status not in OPEN_STATUSES or level >= MAX_LEVEL:
        return None
    if level == 0:
        return due_at
    return escalated_at + timedelta(hours=escalate_after_hours)


def schedule(incident: Incident) -> None:
    incident.next_escalation_at = next_look(incident.status, incident.escalation_level, incident.due_at,
                                            incident.escalated_at, incident.category.escalate_after_hours)


def de_escalate(incident: Incident) -> dict:
    """A leader acted (reassigned, extended, sent it down): back to level 0 on the new deadline."""
    data = {"from_level": incident.escalation_level} if incident.escalation_level else {}
    incident.escalation_level = 0
    incident.escalation_trigger = None
    schedule(incident)
    return data


def hand_down(incident: Incident, at) -> dict:
    """A leader acted on it: level 0 again, and a fresh deadline if the old one has passed."""
    return {**de_escalate(incident), **fresh_deadline(incident, at)}


def fresh_deadline(incident: Incident, at, force: bool = False) -> dict:
    if not force and incident.due_at is not None and incident.due_at > at:
        return {}
    old = incident.due_at
    incident.due_at = at + timedelta(hours=due_hours(incident.category, incident.priority))
    return {"due_from": old.isoformat() if old else None, "due_to": incident.due_at.isoformat()}


def extend(incident: Incident, hours) -> dict:
    """延期: ``hours`` more (a whole number, checked), counted from now if the deadline has passed."""
    hours = whole_number(hours, "hours_invalid", "hours (to add)", 1, MAX_EXTENSION_HOURS, status=422)
    old = incident.due_at
    base = max(old, now()) if old else now()  # extending a passed deadline counts from now
    incident.due_at = base + timedelta(hours=hours)
    return {"from": old.isoformat() if old else None, "to": incident.due_at.isoformat(), "hours": hours}


def escalates_at_once(incident: Incident) -> bool:
    """An urgent incident goes to the area leader's attention at once (it stays with its handler),
    unless a leader or an administrator already handles it."""
    return escalates_at_once_as(incident.priority, incident.assignee_id, incident.assigned_as)


def escalates_at_once_as(priority: str, assignee, assigned_as: str | None) -> bool:
    """``escalates_at_once`` for an incident not written yet."""
    return priority == "urgent" and assignee is not None and assigned_as not in ("area_leader", "town_admin")


def holders(session: Session, incident: Incident, level: int | None = None) -> list[User]:
    """Who holds the incident at ``level`` (default: its current level)."""
    level = incident.escalation_level if level is None else level
    if level == 0:
        return [incident.assignee] if incident.assignee else []
    return holders_at(session, level, incident.area_id, incident.town_id)


def _holders_key(level: int, area_id: int | None, town_id: int) -> tuple:
    return level, area_id if level == 1 else None, town_id


def _holders_of(session: Session, keys) -> dict[tuple, list[User]]:
    """``holders_at`` for many (level, area id, town id) keys (_holders_key) at once: one query for
    the areas' leaders and one for the administrators of the towns that need them, not one per area
    (a sweep's batch spread over a city touches thousands of areas)."""
    areas = {area for level, area, _ in keys if level == 1 and area is not None}
    leaders = routing.area_leaders(session, areas) if areas else {}
    towns = {town for level, area, town in keys if not (level == 1 and area in leaders)}
    admins = routing.towns_admins(session, towns) if towns else {}
    return {(level, area, town): [leaders[area]] if level == 1 and area in leaders else admins.get(town, [])
            for level, area, town in keys}


def prefetch_holders(session: Session, wanted) -> None:
    """Fill the sweep's cache of ``holders_at`` for many (level, area id, town id) at once."""
    cache = session.info.get("escalation_holders")
    if cache is not None:
        cache.update(_holders_of(session, {_holders_key(*w) for w in wanted} - cache.keys()))


def holders_at(session: Session, level: int, area_id: int | None, town_id: int) -> list[User]:
    """The area's active leader at level 1, else (and at level 2) the town's administrators."""
    cache = session.info.get("escalation_holders")  # set for the length of a sweep
    key = _holders_key(level, area_id, town_id)
    if cache is not None and key in cache:
        return cache[key]
    people = _holders_of(session, {key})[key]
    if cache is not None:
        cache[key] = people
    return people
