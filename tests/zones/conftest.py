"""Fixtures of the boundary-redraw tests: a small town, its people and incidents.

The layout (factory units of ~1 km from ``tests.factories.ORIGIN``)::

    y 10 +-----+-----------+---------------------+
         | g3  |    g4     |                     |
       6 +-----+-----------+    grid 2-1         |
         | g1  |    g2     |   (all of area 2)   |
       0 +-----+-----------+---------------------+
         0     4   area 1  10       area 2       20

g1 shares an edge of 6 units with g2 and 4 with g3, and only a corner with g4, so the
"longest shared edge" rule always has one answer. Everything is committed (a savepoint of the
test's rolled-back transaction), so a view that rolls back after a preview keeps it.
"""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from gridsys import geo
from gridsys.incidents import lifecycle, services as incidents
from gridsys.incidents.models import Incident, IncidentEvent
from gridsys.people import services as people
from gridsys.zones.models import Area, BoundaryRevision, Grid
from tests.factories import ORIGIN, STEP, cell, make_area, make_grid, make_town, make_user

SAFETY = "0201"  # a category of the safety duty


def at(x, y) -> tuple[float, float]:
    """lon, lat of a point given in factory units."""
    return ORIGIN[0] + x * STEP, ORIGIN[1] + y * STEP


def stored(session, code, model=Grid):
    """The stored geometry of a zone (shapely), read afresh."""
    return geo.from_db(session.scalar(select(model.geom).where(model.code == code)))


def grid_row(session, code) -> Grid:
    return session.scalar(select(Grid).where(Grid.code == code).execution_options(populate_existing=True))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def snapshot(session) -> dict:
    """What a preview must not change: every grid and area (geometry, version, retirement), row
    counts, and every incident's grid, area, handler and status."""
    session.expire_all()
    zones = {(m.__name__, z.code): (geo.from_db(z.geom), z.version, getattr(z, "retired_at", None))
             for m in (Grid, Area) for z in session.scalars(select(m))}
    return {"zones": zones, "revisions": count(session, BoundaryRevision), "events": count(session, IncidentEvent),
            "incidents": sorted(session.execute(select(Incident.id, Incident.grid_id, Incident.area_id,
                                                       Incident.assignee_id, Incident.status, Incident.version))
                                .all())}


def same_snapshot(a: dict, b: dict) -> bool:
    if a.keys() != b.keys() or a["zones"].keys() != b["zones"].keys():
        return False
    for key, (geom, version, retired) in a["zones"].items():
        other = b["zones"][key]
        if not geom.equals(other[0]) or (version, retired) != other[1:]:
            return False
    return all(a[k] == b[k] for k in ("revisions", "events", "incidents"))


def report(session, reporter, x, y, category=SAFETY) -> Incident:
    lon, lat = at(x, y)
    incident, created = incidents.create_incident(session, reporter, incidents.NewIncident(
        client_uuid=uuid.uuid4(), lon=lon, lat=lat, category=category, description="测试事件"))
    assert created
    session.commit()
    return incident


def act(session, incident, actor, action, **kw):
    lifecycle.transition(session, incident, actor, action, **kw)
    session.commit()


@pytest.fixture
def layout(session):
    """The town, two areas and five grids drawn above; no people."""
    town = make_town(session, geom=cell(0, 0, 20, 10))
    a1 = make_area(session, town, 1, cell(0, 0, 10, 10))
    a2 = make_area(session, town, 2, cell(10, 0, 20, 10))
    g1 = make_grid(session, a1, 1, cell(0, 0, 4, 6))
    g2 = make_grid(session, a1, 2, cell(4, 0, 10, 6))
    g3 = make_grid(session, a1, 3, cell(0, 6, 4, 10))
    g4 = make_grid(session, a1, 4, cell(4, 6, 10, 10))
    g21 = make_grid(session, a2, 1, cell(10, 0, 20, 10))
    session.commit()
    return SimpleNamespace(town=town, a1=a1, a2=a2, g1=g1, g2=g2, g3=g3, g4=g4, g21=g21)


@pytest.fixture
def staff(session, layout, catalogue):
    """A safety worker on each of g1, g2 and g3 and a general worker on grid 2-1; an admin who
    administers no town yet and a leader who leads no area yet (tests add those they need)."""
    found = SimpleNamespace(
        admin=make_user(session, "rd-admin", ["admin"]),
        leader=make_user(session, "rd-leader", ["area_leader"]),
        w1=make_user(session, "rd-w1", ["grid_worker"]),
        w2=make_user(session, "rd-w2", ["grid_worker"]),
        w3=make_user(session, "rd-w3", ["grid_worker"]),
        w21=make_user(session, "rd-w21", ["grid_worker"]),
    )
    people.assign_grid(session, found.w1, layout.g1.code, "safety")
    people.assign_grid(session, found.w2, layout.g2.code, "safety")
    people.assign_grid(session, found.w3, layout.g3.code, "safety")
    people.assign_grid(session, found.w21, layout.g21.code, "general")
    session.commit()
    return SimpleNamespace(**vars(layout), **vars(found))
