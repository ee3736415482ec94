"""Two real connections racing on one incident: the row lock and the version serialise them.

These tests cannot run inside the usual rolled-back transaction (the second connection would not
see the first one's rows), so their fixture commits a small town of its own (code 500106902, far
from the other tests' town) and deletes it afterwards. The event log is append-only by trigger;
the clean-up disables that trigger inside its own transaction only (DDL is transactional in
PostgreSQL, so no other connection ever sees the log unprotected).
"""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridsys.errors import Conflict
from gridsys.incidents import lifecycle, services
from gridsys.incidents.catalogue import load_catalogue
from gridsys.incidents.models import Category, Incident, IncidentEvent
from gridsys.people import services as people
from gridsys.people.models import User
from tests.factories import ORIGIN, STEP, cell, make_area, make_grid, make_town
from tests.committed import Racer, backend_pid, clean_up, wait_until_blocked
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
    clean_up(engine, TOWN, USERNAMES, category_codes)


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
