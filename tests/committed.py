"""For the few tests that need committed data and real concurrent connections (row locks,
SKIP LOCKED, stale versions): removing what they made, and racing two connections."""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridsys.clock import now
from gridsys.db import Base
from gridsys.incidents import services
from gridsys.incidents.catalogue import load_catalogue
from gridsys.incidents.models import Category, Incident, Notification
from gridsys.people.models import AreaLeader, GridAssignment, TownAdmin, User
from gridsys.people import services as people
from gridsys.zones.models import Town
from tests.factories import ORIGIN, STEP, cell, make_area, make_grid, make_town
from tests.incidents.helpers import CATALOGUE

WAIT_S = 10


def clean_up(engine, town: str, usernames, category_codes=()) -> None:
    """Delete a committed test town: its incidents (events, photos, notifications …), people and
    zones. One transaction: the append-only trigger is off only inside it, so nobody else ever
    sees the event log unprotected."""
    incident_ids = (select(Incident.id).join(Town, Town.id == Incident.town_id).where(Town.code == town)
                    .scalar_subquery())
    user_ids = select(User.id).where(User.username.in_(usernames)).scalar_subquery()
    zone = {"p": town + "%"}
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text("ALTER TABLE incident_events DISABLE TRIGGER incident_events_append_only"))
        for table in reversed(Base.metadata.sorted_tables):  # photos, events, notifications … first
            if "incident_id" in table.c and table.name != "incidents":
                conn.execute(table.delete().where(table.c.incident_id.in_(incident_ids)))
        conn.execute(text("ALTER TABLE incident_events ENABLE TRIGGER incident_events_append_only"))
        conn.execute(Incident.__table__.delete().where(Incident.id.in_(incident_ids)))
        conn.execute(text("DELETE FROM incident_counters WHERE prefix LIKE :p"), zone)
        for model in (GridAssignment, AreaLeader, TownAdmin, Notification):
            conn.execute(model.__table__.delete().where(model.user_id.in_(user_ids)))
        conn.execute(User.__table__.delete().where(User.id.in_(user_ids)))
        for table in ("grids", "areas", "towns"):
            conn.execute(text(f"DELETE FROM {table} WHERE code LIKE :p"), zone)
        conn.execute(text("DELETE FROM boundary_revisions WHERE zone_code LIKE :p"), zone)
        conn.execute(Category.__table__.delete().where(Category.code.in_(sorted(category_codes))))


@contextmanager
def committed_town(engine, code: str, corner: int, name: str, usernames, password_hash, *, before_clean=None):
    """A committed town of one area and one grid (10 × 10 units from ``corner``), the category
    catalogue, a grid worker and the area's leader (``usernames``); removed again at the end
    (``before_clean`` first: what hangs off the town other than incidents). Yields the open session
    with ``town``, ``area``, ``grid``, ``worker`` and ``leader``."""
    def clean(category_codes=()):
        if before_clean is not None:
            before_clean()
        clean_up(engine, code, usernames, category_codes)
    clean()
    new_codes = ()
    try:
        with Session(engine, expire_on_commit=False) as s:
            before = set(s.scalars(select(Category.code)))
            load_catalogue(s, CATALOGUE.read_bytes())
            new_codes = set(s.scalars(select(Category.code))) - before
            shape = cell(corner, corner, corner + 10, corner + 10)
            town = make_town(s, code, shape, name=name)
            area = make_area(s, town, 1, shape)
            grid = make_grid(s, area, 1, shape)
            worker, _ = people.create_user(s, usernames[0], roles=["grid_worker"], password_hash=password_hash)
            leader, _ = people.create_user(s, usernames[1], roles=["area_leader"], password_hash=password_hash)
            people.assign_grid(s, worker, grid.code, "general")
            people.set_area_leader(s, leader, area.code)
            s.commit()
            yield SimpleNamespace(session=s, town=town, area=area, grid=grid, worker=worker, leader=leader)
    finally:
        clean(new_codes)


def overdue_incidents(made: SimpleNamespace, corner: int, count: int, description: str) -> list[int]:
    """``count`` reports of the town's worker, dispatched two days ago: a day past their deadline."""
    late = now() - timedelta(days=2)
    return [services.create_incident(made.session, made.worker, services.NewIncident(
        client_uuid=uuid.uuid4(), lon=ORIGIN[0] + (corner + 1 + n % 8) * STEP,
        lat=ORIGIN[1] + (corner + 1 + n // 8) * STEP, category="0201", description=description), at=late)[0].id
        for n in range(count)]


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
