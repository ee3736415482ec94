"""Two real connections racing on one incident: the row lock and the version serialise them.

These tests cannot run inside the usual rolled-back transaction (the second connection would not
see the first one's rows), so their fixture commits a small town of its own (code 500106902, far
from the other tests' town) and deletes it afterwards. The event log is append-only by trigger;
the clean-up disables that trigger inside its own transaction only (DDL is transactional in
PostgreSQL, so no other connection ever sees the log unprotected).
"""
from __future__ import annotations

import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridsys.db import Base
from gridsys.errors import Conflict
from gridsys.incidents import lifecycle, services
from gridsys.incidents.catalogue import load_catalogue
from gridsys.incidents.models import Category, Incident, IncidentEvent
from gridsys.people import services as people
from gridsys.people.models import AreaLeader, GridAssignment, TownAdmin, User
from gridsys.zones.models import Town
from tests.factories import ORIGIN, STEP, cell, make_area, make_grid, make_town
from tests.incidents.helpers import CATALOGUE

TOWN = "500106902"
WAIT_S = 10


def spot(x=102, y=102):
    return ORIGIN[0] + x * STEP, ORIGIN[1] + y * STEP


USERNAMES = ("conc-worker", "conc-leader")


@pytest.fixture
def committed(engine, password_hash):
    """A committed town with one grid, a worker on it and a leader; removed again at the end
    (and before, should an interrupted run have left them behind)."""
    _clean_up(engine)
    with Session(engine, expire_on_commit=False) as s:
        before = set(s.scalars(select(Category.code)))
        load_catalogue(s, CATALOGUE.read_bytes())
        new_codes = set(s.scalars(select(Category.code))) - before
        town = make_town(s, TOWN, cell(100, 100, 110, 110), name="并发测试镇")
        area = make_area(s, town, 1, cell(100, 100, 110, 110))
        grid = make_grid(s, area, 1, cell(100, 100, 110, 110))
        worker, _ = people.create_user(s, USERNAMES[0], roles=["grid_worker"], password_hash=password_hash)
        leader, _ = people.create_user(s, USERNAMES[1], roles=["area_leader"], password_hash=password_hash)
        people.assign_grid(s, worker, grid.code, "general")
        people.set_area_leader(s, leader, area.code)
        s.commit()
        found = SimpleNamespace(grid_code=grid.code, worker_id=worker.id, leader_id=leader.id)
    try:
        yield found
    finally:
        _clean_up(engine, new_codes)


def _clean_up(engine, category_codes=()):
    """Delete what ``committed`` made: its town's incidents (with their events), people and zones."""
    incident_ids = (select(Incident.id).join(Town, Town.id == Incident.town_id).where(Town.code == TOWN)
                    .scalar_subquery())
    user_ids = select(User.id).where(User.username.in_(USERNAMES)).scalar_subquery()
    zone = {"p": TOWN + "%"}
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text("ALTER TABLE incident_events DISABLE TRIGGER incident_events_append_only"))
        for table in reversed(Base.metadata.sorted_tables):  # photos, events, notifications … first
            if "incident_id" in table.c and table.name != "incidents":
                conn.execute(table.delete().where(table.c.incident_id.in_(incident_ids)))
        conn.execute(text("ALTER TABLE incident_events ENABLE TRIGGER incident_events_append_only"))
        conn.execute(Incident.__table__.delete().where(Incident.id.in_(incident_ids)))
        conn.execute(text("DELETE FROM incident_counters WHERE prefix LIKE :p"), zone)
        for model in (GridAssignment, AreaLeader, TownAdmin):
            conn.execute(model.__table__.delete().where(model.user_id.in_(user_ids)))
        conn.execute(User.__table__.delete().where(User.id.in_(user_ids)))
        for table in ("grids", "areas", "towns"):
            conn.execute(text(f"DELETE FROM {table} WHERE code LIKE :p"), zone)
        conn.execute(text("DELETE FROM boundary_revisions WHERE zone_code LIKE :p"), zone)
        conn.execute(Category.__table__.delete().where(Category.code.in_(sorted(category_codes))))


class Racer:
    """Run ``work`` in a thread; keep its result or the exception it raised."""

    def __init__(self, work):
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self.thread.start()

    def _run(self, work):
        try:
            self.result = work()
        except Exception as exc:  # noqa: BLE001 (handed to the test)
            self.error = exc

    def join(self):
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "the second connection never finished"


def backend_pid(session: Session) -> int:
    return session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def wait_until_blocked(engine, pid: int, racer: Racer) -> None:
    """Wait until connection ``pid`` waits for a lock: proof the first one holds it."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            waiting = conn.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"),
                                   {"p": pid}).scalar()
        if waiting == "Lock":
            return
        assert racer.thread.is_alive(), f"the second connection did not wait for the first: {racer.error!r}"
        time.sleep(0.02)
    pytest.fail("the second connection was never seen waiting for the lock")


def report(session, reporter, client_uuid=None):
    lon, lat = spot()
    return services.create_incident(session, reporter, services.NewIncident(
        client_uuid=client_uuid or uuid.uuid4(), lon=lon, lat=lat, category="0201", description="并发测试"))


def test_second_of_two_racing_transitions_gets_stale_update(engine, committed):
    with Session(engine, expire_on_commit=False) as setup:
        incident, _ = report(setup, setup.get(User, committed.worker_id))
        setup.commit()
        incident_id, read_version = incident.id, incident.version
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        mine, theirs = first.get(Incident, incident_id), second.get(Incident, incident_id)
        assert mine.version == theirs.version == read_version  # both read version N
        pid = backend_pid(second)
        lifecycle.transition(first, mine, first.get(User, committed.worker_id), "accept",
                             expected_version=read_version)  # holds the row lock, not yet committed
        worker = second.get(User, committed.worker_id)
        racer = Racer(lambda: lifecycle.transition(second, theirs, worker, "resolve", note="已处理",
                                                   expected_version=read_version))
        wait_until_blocked(engine, pid, racer)
        first.commit()
        racer.join()
        second.rollback()
    assert isinstance(racer.error, Conflict) and racer.error.code == "stale_update", racer.error
    with Session(engine, expire_on_commit=False) as check:
        stored = check.get(Incident, incident_id)
        assert (stored.status, stored.version) == ("in_progress", read_version + 1)
        actions = check.scalars(select(IncidentEvent.action).where(IncidentEvent.incident_id == incident_id)
                                .order_by(IncidentEvent.id)).all()
        assert actions[-1] == "accept" and "resolve" not in actions


def test_same_client_uuid_from_two_connections_is_stored_once(engine, committed):
    client_uuid = uuid.uuid4()
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        pid = backend_pid(second)
        stored, created = report(first, first.get(User, committed.worker_id), client_uuid)  # not yet committed
        reporter = second.get(User, committed.worker_id)
        racer = Racer(lambda: report(second, reporter, client_uuid))
        wait_until_blocked(engine, pid, racer)
        first.commit()
        racer.join()
        assert racer.error is None, racer.error
        again, created_again = racer.result
        second.commit()
        assert (created, created_again, again.id) == (True, False, stored.id)
    with Session(engine, expire_on_commit=False) as check:
        assert check.scalar(select(func.count()).where(Incident.client_uuid == client_uuid)) == 1


def test_concurrent_reports_in_one_grid_get_consecutive_codes(engine, committed):
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        pid = backend_pid(second)
        one, _ = report(first, first.get(User, committed.worker_id))
        reporter = second.get(User, committed.worker_id)
        racer = Racer(lambda: report(second, reporter))
        wait_until_blocked(engine, pid, racer)
        first.commit()
        racer.join()
        assert racer.error is None, racer.error
        two, _ = racer.result
        second.commit()
    assert one.code.startswith(committed.grid_code + "-") and one.code.endswith("-001")
    assert two.code == one.code[:-3] + "002"
