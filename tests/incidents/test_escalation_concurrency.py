"""Two sweeps at the same moment on two connections: each overdue incident is escalated once.

Like test_concurrency.py this needs committed data (a second connection cannot see the test's
rolled-back transaction): a town of its own (code 500106904) with N overdue incidents, removed
again at the end. Both sweeps start together (a barrier) and both hold their transaction open
until the other has swept too, so without ``FOR UPDATE SKIP LOCKED`` the second would escalate
again what the first has not committed yet (or, with a plain ``FOR UPDATE``, wait for it forever).
"""
from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridsys.incidents import escalation
from gridsys.incidents.models import Incident, IncidentEvent, Notification
from tests.committed import committed_town, overdue_incidents

TOWN = "500106904"
USERNAMES = ("esc-conc-worker", "esc-conc-leader")
N = 40
WAIT_S = 10


@pytest.fixture
def overdue_town(engine, password_hash):
    """A committed town, a worker and a leader, and N incidents a day past their deadline."""
    with committed_town(engine, TOWN, 200, "升级并发测试镇", USERNAMES, password_hash) as made:
        ids = overdue_incidents(made, 200, N, "升级并发测试")
        made.session.commit()
        yield SimpleNamespace(ids=sorted(ids), leader_id=made.leader.id)


def assert_escalated_once(engine, overdue_town) -> None:
    """Committed: every overdue incident at level 1, with one escalate event and the leader's notice."""
    with Session(engine) as check:
        ours = Incident.id.in_(overdue_town.ids)
        levels = check.execute(select(Incident.escalation_level, func.count()).where(ours)
                               .group_by(Incident.escalation_level)).all()
        assert levels == [(1, N)]
        per_incident = check.execute(select(IncidentEvent.incident_id, func.count())
                                     .where(IncidentEvent.incident_id.in_(overdue_town.ids),
                                            IncidentEvent.action == "escalate")
                                     .group_by(IncidentEvent.incident_id)).all()
        assert sorted(per_incident) == [(i, 1) for i in overdue_town.ids]
        notified = check.scalars(select(Notification.incident_id).where(Notification.user_id == overdue_town.leader_id))
        assert sorted(notified) == overdue_town.ids


class Sweeper:
    """One sweep on its own connection: start at the barrier, sweep, wait for the other, commit."""

    def __init__(self, engine, start: threading.Barrier, swept: threading.Barrier, batch: int):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(engine, start, swept, batch), daemon=True)
        self.thread.start()

    def _run(self, engine, start, swept, batch):
        try:
            with Session(engine, expire_on_commit=False) as session:
                start.wait()
                done = escalation.sweep(session, batch=batch)
                swept.wait()  # both transactions are open here: the locks, not the timing, keep them apart
                session.commit()
                self.result = done
        except Exception as exc:  # noqa: BLE001 (handed to the test)
            self.error = exc
            start.abort()
            swept.abort()

    def join(self):
        self.thread.join(WAIT_S + 5)
        assert not self.thread.is_alive(), "a sweep never finished"


@pytest.mark.parametrize("batch", [escalation.SWEEP_BATCH, 7])
def test_two_sweeps_at_once_escalate_each_incident_exactly_once(engine, overdue_town, batch):
    start, swept = threading.Barrier(2, timeout=WAIT_S), threading.Barrier(2, timeout=WAIT_S)
    sweepers = [Sweeper(engine, start, swept, batch) for _ in range(2)]
    for s in sweepers:
        s.join()
    assert [s.error for s in sweepers] == [None, None]
    first, second = (s.result for s in sweepers)
    assert not set(first) & set(second)
    assert sorted(first + second) == overdue_town.ids
    assert_escalated_once(engine, overdue_town)


@pytest.mark.parametrize("workers, batch", [(2, escalation.SWEEP_BATCH), (3, 7)])
def test_a_sweep_on_several_connections_escalates_each_incident_exactly_once(engine, overdue_town, workers, batch):
    """``flask escalate --workers N``: the workers race for the same due rows, batch by batch."""
    opened = []

    def open_session():
        opened.append(Session(engine, expire_on_commit=False))
        return opened[-1]

    done = escalation.sweep_in_parallel(open_session, workers=workers, batch=batch)
    assert done == overdue_town.ids
    assert len(opened) == workers + 1   # the due-soon pass, then one per worker
    assert escalation.sweep_in_parallel(open_session, workers=workers, batch=batch) == []   # nothing twice
    assert_escalated_once(engine, overdue_town)


def test_a_failing_worker_keeps_what_the_others_committed(engine, overdue_town, monkeypatch):
    """A worker that fails rolls back its own batch only, and the sweep raises: the next pass does the rest."""
    real, calls = escalation.lifecycle.escalate_due, []

    def flaky(session, as_of, *, batch, after_id=0):
        calls.append(after_id)
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        return real(session, as_of, batch=batch, after_id=after_id)

    monkeypatch.setattr(escalation.lifecycle, "escalate_due", flaky)
    with pytest.raises(RuntimeError):
        escalation.sweep_in_parallel(lambda: Session(engine, expire_on_commit=False), workers=1, batch=7)
    monkeypatch.setattr(escalation.lifecycle, "escalate_due", real)
    with Session(engine) as check:
        raised = check.scalar(select(func.count()).where(Incident.id.in_(overdue_town.ids),
                                                         Incident.escalation_level == 1))
    assert raised == 7   # the first batch stayed committed
    rest = escalation.sweep_in_parallel(lambda: Session(engine, expire_on_commit=False), workers=2, batch=7)
    assert len(rest) == N - 7
