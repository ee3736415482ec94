"""Notifications: tell the person who must act, in the app (the inbox, with an unread count)
and, where the town configured one, through its group robots and JSON webhook (``webhooks``).

Kinds: ``assigned`` (dispatched, reassigned or taken over to them), ``returned`` (返工),
``instructed`` (批示下派: sent back down with instructions), ``extended``, ``due_soon`` (once per
deadline, from the sweep), ``to_verify`` (resolved: awaits their 核查), ``escalated``, ``to_register``
(a resident's report awaits their 立案), ``unsatisfied`` (a resident rated the closure 不满意).
"""
from __future__ import annotations

from sqlalchemy import false, func, or_, select, true, update
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
    scope is checked on each notification's own incident, by a subquery on its key, so the cost
    follows the person's notifications newest first (an index walk that stops at the limit), not
    the number of incidents in their scope. A join (or EXISTS) let the planner trust its estimate
    of how many pass the scope: a leader whose 5 744 unread were all in scope had them all read
    and sorted (20-40 ms), and EXISTS was hashed over the dense leader's 283 000 incidents."""
    if scope is None:
        scope = access.scope_for(object_session(user), user)
    visible = func.coalesce(select(true()).where(Incident.id == Notification.incident_id,
                                                 scoping.incidents_where(scope)).scalar_subquery(), false())
    return (select(*columns).select_from(Notification)
            .where(Notification.user_id == user.id, or_(Notification.incident_id.is_(None), visible)))


COUNT_CAP = 100   # counts shown in headers stop here ("99+"): counting 195 000 unread cost 1.3 s


def unread_count(session: Session, user: User, scope=None, cap: int = COUNT_CAP) -> int:
    """How many unread, up to ``cap`` (a count of ``cap`` means that many or more): what the header
    and the phone show costs the same for 10 unread as for 200 000. ``scope``: the person's,
    when the caller has it already (a request does)."""
    db.planned_for_parameters(session)
    return session.scalar(unread_statement(user, scope, cap))


def unread_statement(user: User, scope, cap: int = COUNT_CAP):
    """unread_count's query: the person's unread newest first (their index), stopping at ``cap``."""
    unread = _mine(user, scope, Notification.id).where(Notification.read_at.is_(None)) \
        .order_by(Notification.id.desc()).limit(cap).subquery()
    return select(func.count()).select_from(unread)


def inbox(session: Session, user: User, limit: int = 100, *, unread_only: bool = False,
          unread_first: bool = True, scope=None) -> list[Notification]:
    """Newest first, unread ones before read ones unless ``unread_first`` is false (the API lists
    them by time alone); ``unread_only`` keeps only those. Unread first is read as two walks of
    the person's notices newest first (the unread ones, then if they fall short the read ones),
    each stopping at ``limit``: sorting all of them by read-or-not took 290 ms for a leader with
    195 000."""
    db.planned_for_parameters(session)
    newest = _mine(user, scope, Notification).order_by(Notification.id.desc())
    if not (unread_only or unread_first):
        return list(session.scalars(newest.limit(limit)))
    unread = list(session.scalars(newest.where(Notification.read_at.is_(None)).limit(limit)))
    if unread_only or len(unread) == limit:
        return unread
    return unread + list(session.scalars(newest.where(Notification.read_at.is_not(None)).limit(limit - len(unread))))


def mark_read(session: Session, user: User, ids: list[int] | None = None, *, incident_id: int | None = None) -> int:
    """Mark this person's notifications read: the ones with ``ids``, those about ``incident_id`` (they
    opened it), or all (neither given). Others' notifications are never touched."""
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    if incident_id is not None:
        query = query.where(Notification.incident_id == incident_id)
    return session.execute(query.values(read_at=now())).rowcount
