"""Notifications: tell the person who must act, in the app (the inbox, with an unread count)
and, where the town configured one, through its group robots and JSON webhook (``webhooks``).

Kinds: ``assigned`` (dispatched, reassigned or taken over to them), ``returned`` (返工),
``instructed`` (批示下派: sent back down with instructions), ``extended``, ``due_soon`` (once per
deadline, from the sweep), ``to_verify`` (resolved: awaits their 核查), ``escalated``, ``to_register``
(a resident's report awaits their 立案), ``unsatisfied`` (a resident rated the closure 不满意).
"""
from __future__ import annotations

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, object_session

from .. import db
from ..clock import now
from ..people import access
from ..people.models import User
from . import scoping, webhooks
from .models import Incident, Notification

KINDS = ("assigned", "returned", "instructed", "extended", "due_soon", "to_verify", "escalated", "to_register",
         "unsatisfied")


def notify(session: Session, incident: Incident, kind: str, people, data: dict | None = None, *,
           actor: User | None = None) -> list[User]:
    """One notice to each person (once, never to whoever caused it), and the town's webhooks.
    Returns who was told."""
    assert kind in KINDS, kind
    seen, told = set(), []
    for person in people:
        if person is None or person.id in seen or (actor is not None and person.id == actor.id):
            continue
        seen.add(person.id)
        told.append(person)
        session.add(Notification(user_id=person.id, incident_id=incident.id, kind=kind, data=data or {}))
    if told:
        webhooks.queue(session, incident, kind, told, data or {})
    return told


# --- inbox -----------------------------------------------------------------------------

def _mine(user: User, scope, *columns):
    """select(columns) of a person's notifications about incidents they may still see (a leader
    whose term ended, or whose incident moved to another area, no longer reads about it). The
    scope is checked on each notification's own incident (a join on its key), so the cost follows
    the person's notifications, not the number of incidents in their scope."""
    if scope is None:
        scope = access.scope_for(object_session(user), user)
    return (select(*columns).select_from(Notification)
            .outerjoin(Incident, Incident.id == Notification.incident_id)
            .where(Notification.user_id == user.id,
                   or_(Notification.incident_id.is_(None), scoping.incidents_where(scope))))


COUNT_CAP = 100   # counts shown in headers stop here ("99+"): counting 195 000 unread cost 1.3 s


def unread_count(session: Session, user: User, scope=None, cap: int = COUNT_CAP) -> int:
    """How many unread, up to ``cap`` (a count of ``cap`` means that many or more): what the header
    and the phone show costs the same for 10 unread as for 200 000. ``scope``: the person's,
    when the caller has it already (a request does)."""
    db.planned_for_parameters(session)
    unread = _mine(user, scope, Notification.id).where(Notification.read_at.is_(None)) \
        .order_by(Notification.id.desc()).limit(cap).subquery()
    return session.scalar(select(func.count()).select_from(unread))


def inbox(session: Session, user: User, limit: int = 100, *, unread_only: bool = False,
          unread_first: bool = True, scope=None) -> list[Notification]:
    """Newest first, unread ones before read ones unless ``unread_first`` is false (the API lists
    them by time alone); ``unread_only`` keeps only those."""
    db.planned_for_parameters(session)
    query = _mine(user, scope, Notification)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    order = (Notification.read_at.is_not(None), Notification.id.desc()) if unread_first else (Notification.id.desc(),)
    return list(session.scalars(query.order_by(*order).limit(limit)))


def mark_read(session: Session, user: User, ids: list[int] | None = None, *, incident_id: int | None = None) -> int:
    """Mark this person's notifications read: the ones with ``ids``, those about ``incident_id`` (they
    opened it), or all (neither given). Others' notifications are never touched."""
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    if incident_id is not None:
        query = query.where(Notification.incident_id == incident_id)
    return session.execute(query.values(read_at=now())).rowcount
