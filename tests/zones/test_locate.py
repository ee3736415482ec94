import pytest

from gridsys.errors import GridsysError
from gridsys.zones.services import locate
from tests.factories import ORIGIN, STEP, cell, make_area, make_grid, make_town


def lonlat(x, y):
    return ORIGIN[0] + x * STEP, ORIGIN[1] + y * STEP


@pytest.fixture
def town(session):
    """Town 10x10: area 1 (left half) with grids 1 (bottom) and 2 (top); area 2 (right half)
    with one grid covering only its bottom; the top-right quarter is an area-level gap."""
    town = make_town(session)
    a1 = make_area(session, town, 1, cell(0, 0, 5, 10))
    a2 = make_area(session, town, 2, cell(5, 0, 10, 8))
    make_grid(session, a1, 1, cell(0, 0, 5, 5))
    make_grid(session, a1, 2, cell(0, 5, 5, 10))
    make_grid(session, a2, 1, cell(5, 0, 10, 4))
    return town


def test_interior_point_resolves_grid_area_town(session, town):
    where = locate(session, *lonlat(1, 1))
    assert (where.grid.code, where.area.code, where.town.code) == (
        "500106901001001", "500106901001", "500106901")
    assert where.level == "grid"


def test_point_on_shared_edge_goes_to_lowest_code(session, town):
    where = locate(session, *lonlat(2, 5))
    assert where.grid.code == "500106901001001"


def test_point_on_vertex_shared_by_three_grids_is_deterministic(session, town):
    codes = {locate(session, *lonlat(5, 4)).grid.code for _ in range(3)}
    assert codes == {"500106901001001"}


def test_point_in_grid_gap_falls_back_to_area(session, town):
    where = locate(session, *lonlat(7, 6))
    assert where.grid is None and where.area.code == "500106901002" and where.level == "area"


def test_point_in_area_gap_falls_back_to_town(session, town):
    where = locate(session, *lonlat(7, 9))
    assert where.grid is None and where.area is None and where.level == "town"


def test_point_outside_every_town_is_refused(session, town):
    with pytest.raises(GridsysError) as err:
        locate(session, *lonlat(20, 20))
    assert err.value.code == "point_outside_towns"


@pytest.mark.parametrize("lon,lat", [(181, 29), (106, -91), (float("nan"), 29)])
def test_out_of_range_coordinates_are_refused(session, town, lon, lat):
    with pytest.raises(GridsysError) as err:
        locate(session, lon, lat)
    assert err.value.code in ("coordinates_out_of_range", "coordinates_invalid")
