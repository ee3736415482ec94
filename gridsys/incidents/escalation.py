"""Escalation: level 0 the handler, 1 the responsible area leader (of the area that holds the
incident now), 2 the town administrators.

Triggers: overdue (past due_at, not resolved), urgent at creation, manual (the handler, with a
reason), and a level-1 incident nobody acted on within the category's second deadline. The
sweep finds due incidents through one partial index on ``next_escalation_at`` and takes each
with ``FOR UPDATE SKIP LOCKED``, so concurrent sweeps escalate each incident exactly once.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import applog, settings
from ..clock import now
from ..errors import Conflict
from ..people.models import User
from . import notify, queues, routing
from .models import OPEN_STATUSES, Incident
from .events import record

MAX_LEVEL = 2
SWEEP_BATCH = 500


def holders(session: Session, incident: Incident, level: int | None = None) -> list[User]:
    """Who holds the incident at ``level`` (default: its current level). A missing leader
    falls through to the town administrators."""
    level = incident.escalation_level if level is None else level
    if level == 0:
        return [incident.assignee] if incident.assignee else []
    cache = session.info.get("escalation_holders")  # set for the length of a sweep
    key = (level, incident.area_id if level == 1 else None, incident.town_id)
    if cache is not None and key in cache:
        return cache[key]
    people = None
    if level == 1:
        leader = routing.area_leader(session, incident.area_id)
        people = [leader] if leader is not None else None
    people = people or routing.town_admins(session, incident.town_id)
    if cache is not None:
        cache[key] = people
    return people


def schedule(incident: Incident) -> None:
    """Set when the sweep should next look at the incident, from its level and deadlines."""
    if incident.status not in OPEN_STATUSES or incident.escalation_level >= MAX_LEVEL:
        incident.next_escalation_at = None
    elif incident.escalation_level == 0:
        incident.next_escalation_at = incident.due_at
    else:
        incident.next_escalation_at = incident.escalated_at + \
            timedelta(hours=incident.category.escalate_after_hours)


def raise_level(session: Session, incident: Incident, at: datetime, *, trigger: str,
                actor: User | None = None, note: str = "", record_event: bool = True) -> dict:
    """Move an incident one level up, notify the new holders (inbox + town webhooks, sent after
    commit) and return the event data."""
    if incident.escalation_level >= MAX_LEVEL:
        raise Conflict("already_at_top", "this incident is already with the town administrators")
    incident.escalation_level += 1
    incident.escalated_at = at
    incident.escalation_trigger = trigger
    schedule(incident)
    people = holders(session, incident)
    data = {"level": incident.escalation_level, "trigger": trigger, "holders": [u.username for u in people]}
    if record_event:
        record(session, incident, actor, "escalate", incident.status, incident.status, note=note, data=data, at=at,
               flush=False)
    notify.escalated(session, incident, people, data, actor=actor)
    applog.event("escalated", incident=incident.id, code=incident.code, to_level=incident.escalation_level,
                 trigger=trigger, holders=data["holders"], **({"user": actor.username} if actor else {}))
    return data


def on_created(session: Session, incident: Incident, at: datetime) -> None:
    """An urgent incident goes to the area leader's attention at once; it stays with its handler."""
    if incident.priority == "urgent" and incident.assignee_id is not None and incident.assigned_as not in (
            "area_leader", "town_admin"):
        raise_level(session, incident, at, trigger="urgent")


def de_escalate(incident: Incident) -> dict:
    """A leader acted (reassigned, extended, sent it down): back to level 0 on the new deadline."""
    data = {"from_level": incident.escalation_level} if incident.escalation_level else {}
    incident.escalation_level = 0
    incident.escalation_trigger = None
    schedule(incident)
    return data


def sweep(session: Session, *, as_of: datetime | None = None, batch: int = SWEEP_BATCH,
          due_soon_hours: int | None = None) -> list[int]:
    """One pass: escalate every incident whose next_escalation_at has passed (evaluated at
    ``as_of``, default now; events carry the real time), and tell each handler whose deadline is
    near (``due_soon``, once per deadline). Flushes; the caller commits. Returns the ids escalated."""
    as_of = as_of or now()
    done: list[int] = []
    last_id = 0
    session.info["escalation_holders"], session.info["town_webhooks"] = {}, {}
    try:
        _warn_due_soon(session, as_of, settings.of(session).due_soon_hours if due_soon_hours is None else due_soon_hours,
                       batch)
        return _sweep(session, as_of, batch, done, last_id)
    finally:
        session.info.pop("escalation_holders", None)
        session.info.pop("town_webhooks", None)


def _warn_due_soon(session: Session, as_of: datetime, hours: int, batch: int) -> int:
    """Tell each handler once that their incident is due within ``hours`` (not yet overdue, not
    resolved); a new deadline (extended, reassigned) gets a new notice. Returns how many were told."""
    told = 0
    while True:
        rows = session.scalars(
            select(Incident).where(Incident.status.in_(queues.WORKING), Incident.assignee_id.is_not(None),
                                   Incident.due_at > as_of, Incident.due_at <= as_of + timedelta(hours=hours),
                                   Incident.due_soon_sent_for.is_distinct_from(Incident.due_at))
            .order_by(Incident.id).limit(batch).with_for_update(skip_locked=True, of=Incident)).unique().all()
        for incident in rows:
            incident.due_soon_sent_for = incident.due_at
            notify.notify(session, incident, "due_soon", [incident.assignee],
                          {"due_at": incident.due_at.isoformat()})
        session.flush()
        told += len(rows)
        if len(rows) < batch:
            return told


def _sweep(session: Session, as_of: datetime, batch: int, done: list[int], last_id: int) -> list[int]:
    while True:
        rows = session.scalars(
            select(Incident).where(Incident.status.in_(OPEN_STATUSES), Incident.next_escalation_at <= as_of,
                                   Incident.next_escalation_at.is_not(None), Incident.id > last_id)
            .order_by(Incident.id).limit(batch)
            .with_for_update(skip_locked=True, of=Incident)).unique().all()
        for incident in rows:  # one level per pass, even when --now lies far ahead
            trigger = "overdue" if incident.escalation_level == 0 else "stale"
            at = now()
            raise_level(session, incident, at, trigger=trigger)
            if as_of > at and incident.next_escalation_at is not None:
                # A drill (--now T) evaluates as if it were T: the next deadline counts from T too,
                # so the same drill run again escalates nothing more (events keep the real time).
                incident.next_escalation_at += as_of - at
            done.append(incident.id)
        session.flush()
        if len(rows) < batch:
            return done
        last_id = rows[-1].id
