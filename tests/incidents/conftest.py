"""Incident fixtures: the real category catalogue, a small town, its people and their duties.

The test town (factory units of ~1 km from ``tests.factories.ORIGIN``)::

    y 10 +-----------+-----------+
         |           |  no area  |   the town only: area 2 stops at y = 8
       8 |  grid     +-----------+
         |  1-2      |  gap      |   area 2, in none of its grids
       6 |           +-----------+
       5 +-----------+  grid 2-2 |
         |  grid     +-----------+ 4
         |  1-1      |  grid 2-1 |
       0 +-----------+-----------+
         0    area 1 5   area 2  10

Everything is committed (a savepoint released inside the test's rolled-back transaction), so a
view that calls ``session.rollback()`` after a refusal cannot undo what a test arranged.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gridsys import create_app
from gridsys.people import services as people
from tests.factories import cell, make_area, make_grid, make_town
from tests.incidents.helpers import ESCALATIONS_ASTRAY, PASSWORD


@pytest.fixture(autouse=True)
def escalations_follow_incidents(connection):
    """After every test here (reports, every transition, sweeps, redraws, the API and the pages),
    incident_escalations holds exactly the open incidents as they are."""
    yield
    try:
        astray = connection.execute(text(ESCALATIONS_ASTRAY)).all()
    except DBAPIError:   # the test left its transaction failed (what it tested): nothing to compare
        return
    assert astray == [], astray


@pytest.fixture
def app(database_url, session):
    """No app context held open across requests: each request gets its own ``g`` (user, scope)."""
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                       "SESSION_FACTORY": lambda: session, "TILES_URL": "",
                       "WEBHOOKS_IN_BACKGROUND": False})


@pytest.fixture(scope="session")
def password_hash():
    """scrypt is slow on purpose: hash the shared test password once per session."""
    return people.hash_password(PASSWORD)


@pytest.fixture
def zones(session, catalogue):
    town = make_town(session, geom=cell(0, 0, 10, 10))
    a1 = make_area(session, town, 1, cell(0, 0, 5, 10))
    a2 = make_area(session, town, 2, cell(5, 0, 10, 8))
    g11 = make_grid(session, a1, 1, cell(0, 0, 5, 5))
    g12 = make_grid(session, a1, 2, cell(0, 5, 5, 10))
    g21 = make_grid(session, a2, 1, cell(5, 0, 10, 4))
    g22 = make_grid(session, a2, 2, cell(5, 4, 10, 6))
    session.commit()
    return SimpleNamespace(town=town, a1=a1, a2=a2, g11=g11, g12=g12, g21=g21, g22=g22)


@pytest.fixture
def users(session, password_hash):
    """People without duties yet: routing tests give each the duty they assert on."""
    def user(username, roles, display_name):
        created, _generated = people.create_user(session, username, display_name=display_name, roles=roles,
                                                 password_hash=password_hash)
        return created
    found = SimpleNamespace(
        admin=user("admin", ["admin"], "镇管理员"),
        leader1=user("leader1", ["area_leader"], "包片领导一"),
        leader2=user("leader2", ["area_leader"], "包片领导二"),
        safety1=user("safety1", ["grid_worker"], "平安员一"),
        general1=user("general1", ["grid_worker"], "综合员一"),
        worker12=user("worker12", ["grid_worker"], "网格员一二"),
        worker21=user("worker21", ["grid_worker"], "网格员二一"),
    )
    session.commit()
    return found


@pytest.fixture
def world(session, zones, users):
    """The usual duties: a safety and a general worker on grid 1-1, a general worker on grids 1-2
    and 2-1, nobody on grid 2-2; leader1 leads area 1, leader2 area 2; admin administers the town."""
    people.assign_grid(session, users.safety1, zones.g11.code, "safety")
    people.assign_grid(session, users.general1, zones.g11.code, "general")
    people.assign_grid(session, users.worker12, zones.g12.code, "general")
    people.assign_grid(session, users.worker21, zones.g21.code, "general")
    people.set_area_leader(session, users.leader1, zones.a1.code)
    people.set_area_leader(session, users.leader2, zones.a2.code)
    people.add_town_admin(session, users.admin, zones.town.code)
    session.commit()
    return SimpleNamespace(**vars(zones), **vars(users))
