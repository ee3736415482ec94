"""People fixtures: a small world (one town, two areas of two grids) with an admin, a leader of
area 1 and a worker on grid 1 of area 1, committed so a view's rollback cannot undo them."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from gridsys.people import services
from tests.factories import cell, make_area, make_grid, make_town, make_user


@pytest.fixture
def world(session):
    town = make_town(session)
    a1 = make_area(session, town, 1, cell(0, 0, 5, 10))
    a2 = make_area(session, town, 2, cell(5, 0, 10, 10))
    g11 = make_grid(session, a1, 1, cell(0, 0, 5, 5))
    g12 = make_grid(session, a1, 2, cell(0, 5, 5, 10))
    g21 = make_grid(session, a2, 1, cell(5, 0, 10, 5))
    g22 = make_grid(session, a2, 2, cell(5, 5, 10, 10))
    admin = make_user(session, "admin1", ["admin"], display_name="管理员")
    leader = make_user(session, "leader1", ["area_leader"], display_name="领导一")
    worker = make_user(session, "worker1", ["grid_worker"], display_name="网格员一")
    services.set_area_leader(session, leader, a1.code)
    services.assign_grid(session, worker, g11.code, "general")
    session.commit()
    return SimpleNamespace(town=town, areas=(a1, a2), grids=(g11, g12, g21, g22),
                           admin=admin, leader=leader, worker=worker)
