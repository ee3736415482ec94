"""The sweep (``flask escalate``, every few minutes): escalation of what is overdue, and the
"due soon" notice.

Levels: 0 the handler, 1 the responsible area leader, 2 the town administrators (the rules are
in ``deadlines``). Triggers: overdue (past due_at, not resolved), urgent at creation, manual (the
handler, with a reason), and a level-1 incident nobody acted on within the category's second
deadline (stale). The sweep finds due incidents through one partial index on
``next_escalation_at`` and raises them set-based, a batch at a time (``lifecycle.escalate_due``,
``FOR UPDATE SKIP LOCKED``), so concurrent sweeps escalate each incident exactly once.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import settings
from ..clock import now
from . import lifecycle, notify, privacy, queues
from .models import Incident

SWEEP_BATCH = 5000   # rows raised per statement: fewer statements (2 000 a batch cost 10 % more); each batch locks only its rows
MAX_WORKERS = 8


def sweep(session: Session, *, as_of: datetime | None = None, batch: int = SWEEP_BATCH,
          due_soon_hours: int | None = None) -> list[int]:
    """One pass: escalate every incident whose next_escalation_at has passed (evaluated at
    ``as_of``, default now; events carry the real time), tell each handler whose deadline is
    near (``due_soon``, once per deadline), and forget residents' contacts past their time. Flushes; the caller commits. Returns the ids escalated."""
    as_of = as_of or now()
    with _collector_paused(), _cached_lookups(session):
        _before_raising(session, as_of, batch, due_soon_hours)
        return _raise_due(session, as_of, batch)


def sweep_in_parallel(open_session: Callable[[], Session], *, workers: int, as_of: datetime | None = None,
                      batch: int = SWEEP_BATCH, due_soon_hours: int | None = None) -> list[int]:
    """``sweep`` on ``workers`` connections at once, for a machine with cores to spare: the due-soon
    notices and the contact purge first (one transaction), then each worker raises batch after batch
    and commits each. ``FOR UPDATE SKIP LOCKED`` keeps them apart: a batch another worker holds is
    skipped, and raised by that worker, so every incident is escalated once. Unlike ``sweep`` it
    commits (batch by batch: a failure keeps what earlier batches did; the next pass does the rest).
    ``open_session`` makes a new session (each worker gets its own, used only in its thread).
    Returns the ids escalated."""
    as_of = as_of or now()
    with open_session() as first, _cached_lookups(first):
        _before_raising(first, as_of, batch, due_soon_hours)
        first.commit()
    sessions = [open_session() for _ in range(workers)]
    raised: list[list[int]] = [[] for _ in sessions]
    errors: list[BaseException] = []

    def work(session: Session, done: list[int]) -> None:
        try:
            with _cached_lookups(session):
                done += _raise_due(session, as_of, batch, each_batch=session.commit)
        except BaseException as exc:  # noqa: BLE001 (raised again in the calling thread)
            session.rollback()
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=work, args=(s, d), name=f"sweep-{n}")
               for n, (s, d) in enumerate(zip(sessions, raised))]
    with _collector_paused():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return sorted(i for done in raised for i in done)


def _before_raising(session: Session, as_of: datetime, batch: int, due_soon_hours: int | None) -> None:
    """A pass's work before the escalations: the due-soon notices and the contact purge."""
    rules = settings.of(session)
    _warn_due_soon(session, as_of, rules.due_soon_hours if due_soon_hours is None else due_soon_hours, batch)
    privacy.purge_contacts(session, days=rules.contact_retention_days, as_of=as_of)


def _raise_due(session: Session, as_of: datetime, batch: int, each_batch: Callable[[], None] = lambda: None
               ) -> list[int]:
    """Raise batch after batch (``each_batch`` after each: a worker commits) until none is left
    due. Returns the ids raised."""
    done: list[int] = []
    last_id: int | None = 0
    while last_id is not None:
        raised, last_id = lifecycle.escalate_due(session, as_of, batch=batch, after_id=last_id)
        each_batch()
        done += raised
    return done


@contextmanager
def _collector_paused():
    """No cyclic garbage collection during a pass. A pass makes and drops tens of thousands of
    short-lived objects (rows, ORM states, parameters), which set off full collections that walk
    everything the process holds: about 80 ms of a city sweep of 10 000 (1.3 s). What a pass
    leaves is collected after it."""
    if not gc.isenabled():   # (paused by an enclosing pass)
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def _cached_lookups(session: Session):
    """For the length of a pass, holders and town webhooks are looked up once each (deadlines,
    webhooks read these caches)."""
    session.info["escalation_holders"], session.info["town_webhooks"] = {}, {}
    try:
        yield
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
