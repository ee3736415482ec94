"""The write invariants of services.save_zone: codes, parents, containment, overlap, revisions."""
import pytest
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from gridsys import geo
from gridsys.errors import GridsysError
from gridsys.zones import services
from gridsys.zones.models import Area, BoundaryRevision, Grid, Town
from tests.factories import TOWN, cell, make_area, make_grid, make_town

AREA = TOWN + "001"
GRID = AREA + "001"
OTHER_TOWN = "500106902"


def refused(session, level, code, geom, name="测试"):
    with pytest.raises(GridsysError) as err:
        services.save_zone(session, level, code, name, geom, actor="test")
    return err.value


def stored_geom(session, model, code):
    return geo.from_db(session.scalar(select(model.geom).where(model.code == code)))


def count(session, model, **where):
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return session.scalar(query)


@pytest.fixture
def area(session):
    """Town 10x10 with area 001 on its left half (0..5 x 0..10)."""
    return make_area(session, make_town(session), 1, cell(0, 0, 5, 10))


# --- codes and parents ----------------------------------------------------------

@pytest.mark.parametrize("level,code", [
    ("town", "50010690"),            # 8 digits
    ("town", "5001069011"),          # 10 digits
    ("town", "50010690a"),           # a letter
    ("town", "５００１０６９０１"),   # full-width digits
    ("town", " 500106901"),          # padding
    ("town", "500106000"),           # township 000
    ("town", "500100901"),           # county code ending in 00 (a city, not a county)
    ("town", 500106901),             # not text
    ("area", "500106901"),           # a town code where an area code is expected
    ("area", "500106901000"),        # sequence 000
    ("area", "5001069010011"),       # 13 digits
    ("grid", "500106901001000"),     # sequence 000
    ("grid", "50010690100100"),      # 14 digits
    ("grid", "500106901001-01"),     # punctuation
])
def test_bad_code_is_refused(session, area, level, code):
    geom = cell(0, 0, 1, 1) if level == "grid" else MultiPolygon([cell(0, 0, 1, 1)])
    assert refused(session, level, code, geom).code == "code_invalid"


def test_unknown_level_is_refused(session):
    assert refused(session, "village", TOWN, MultiPolygon([cell(0, 0, 1, 1)])).code == "level_unknown"


def test_area_of_a_town_that_does_not_exist_is_refused(session, area):
    err = refused(session, "area", OTHER_TOWN + "001", MultiPolygon([cell(0, 0, 1, 1)]))
    assert err.code == "parent_not_found"
    assert count(session, Area) == 1


def test_grid_of_an_area_that_does_not_exist_is_refused(session, area):
    err = refused(session, "grid", TOWN + "002001", cell(6, 0, 7, 1))
    assert err.code == "parent_not_found"
    assert count(session, Grid) == 0


@pytest.mark.parametrize("name", ["", "   ", "名" * 101, None])
def test_missing_or_long_name_is_refused(session, area, name):
    assert refused(session, "grid", GRID, cell(0, 0, 1, 1), name=name).code == "name_invalid"


@pytest.mark.parametrize("level,geom", [
    ("grid", MultiPolygon([cell(0, 0, 1, 1)])),
    ("grid", Point(106.001, 29.001)),
    ("area", Point(106.001, 29.001)),
])
def test_wrong_geometry_type_is_refused(session, area, level, geom):
    code = GRID if level == "grid" else TOWN + "002"
    assert refused(session, level, code, geom).code == "geometry_wrong_type"


def test_polygon_for_a_town_is_stored_as_a_multipolygon(session):
    town = services.save_zone(session, "town", TOWN, "测试镇", cell(0, 0, 10, 10), actor="test")
    stored = stored_geom(session, Town, town.code)
    assert stored.geom_type == "MultiPolygon" and stored.equals(cell(0, 0, 10, 10))


# --- within the parent -------------------------------------------------------------

def test_grid_spilling_outside_its_area_is_refused_with_the_spill_location(session, area):
    grid = cell(3, 0, 7, 4)  # the area ends at x=5
    err = refused(session, "grid", GRID, grid)
    assert err.code == "outside_parent"
    assert err.details["zone_code"] == GRID
    spill = grid.difference(cell(0, 0, 5, 10))
    assert spill.buffer(1e-9).contains(Point(err.details["location"]))


def test_area_spilling_outside_its_town_is_refused(session, area):
    err = refused(session, "area", TOWN + "002", MultiPolygon([cell(5, 0, 12, 10)]))
    assert err.code == "outside_parent"
    assert cell(10, 0, 12, 10).buffer(1e-9).contains(Point(err.details["location"]))


def test_grid_entirely_outside_its_area_is_refused(session, area):
    assert refused(session, "grid", GRID, cell(20, 20, 21, 21)).code == "outside_parent"


def test_spill_within_the_snapping_tolerance_is_accepted(session, area):
    # 2e-6 degrees of longitude at 29°N is about 0.2 m: digitising noise, under SNAP_TOLERANCE_M.
    a = cell(0, 0, 5, 5)
    grid_geom = box(a.bounds[0], a.bounds[1], a.bounds[2] + 2e-6, a.bounds[3])
    make_grid(session, area, 1, grid_geom)
    assert stored_geom(session, Grid, GRID).equals(grid_geom)


def test_spill_beyond_the_snapping_tolerance_is_refused(session, area):
    # 5e-5 degrees of longitude at 29°N is about 4.9 m.
    a = cell(0, 0, 5, 5)
    grid_geom = box(a.bounds[0], a.bounds[1], a.bounds[2] + 5e-5, a.bounds[3])
    assert refused(session, "grid", GRID, grid_geom).code == "outside_parent"


def test_grid_on_the_area_boundary_is_accepted(session, area):
    make_grid(session, area, 1, cell(0, 0, 5, 10))  # exactly the area
    assert count(session, Grid) == 1


# --- siblings do not overlap ----------------------------------------------------------

def test_overlapping_sibling_grid_is_refused_naming_the_other(session, area):
    make_grid(session, area, 1, cell(0, 0, 3, 3))
    err = refused(session, "grid", AREA + "002", cell(2, 2, 5, 5))
    assert err.code == "sibling_overlap"
    assert err.details["other_code"] == GRID and err.details["zone_code"] == AREA + "002"
    assert cell(2, 2, 3, 3).contains(Point(err.details["location"]))


def test_grid_inside_a_sibling_is_refused(session, area):
    make_grid(session, area, 1, cell(0, 0, 5, 5))
    err = refused(session, "grid", AREA + "002", cell(1, 1, 2, 2))
    assert err.code == "sibling_overlap" and err.details["other_code"] == GRID


def test_grids_sharing_only_an_edge_are_accepted(session, area):
    make_grid(session, area, 1, cell(0, 0, 5, 5))
    make_grid(session, area, 2, cell(0, 5, 5, 10))
    assert count(session, Grid) == 2


def test_grids_sharing_only_a_corner_are_accepted(session):
    town = make_town(session)
    a = make_area(session, town, 1, cell(0, 0, 10, 10))
    make_grid(session, a, 1, cell(0, 0, 5, 5))
    make_grid(session, a, 2, cell(5, 5, 10, 10))
    assert count(session, Grid) == 2


def test_overlap_below_one_square_metre_is_tolerated(session, area):
    make_grid(session, area, 1, cell(0, 0, 5, 5))
    b = cell(0, 5, 5, 10)
    # A notch 1e-4° (about 10 m) long and 1e-7° (about 1 cm) deep into grid 1: about 0.1 m².
    nudge = box(b.bounds[0], b.bounds[1] - 1e-7, b.bounds[0] + 1e-4, b.bounds[1])
    make_grid(session, area, 2, b.union(nudge))
    assert count(session, Grid) == 2


def test_overlapping_towns_are_refused(session):
    make_town(session)
    err = refused(session, "town", OTHER_TOWN, MultiPolygon([cell(8, 8, 20, 20)]))
    assert err.code == "sibling_overlap" and err.details["other_code"] == TOWN


def test_neighbouring_towns_sharing_an_edge_are_accepted(session):
    make_town(session)
    make_town(session, OTHER_TOWN, cell(10, 0, 20, 10))
    assert count(session, Town) == 2


def test_overlapping_areas_of_one_town_are_refused(session, area):
    err = refused(session, "area", TOWN + "002", MultiPolygon([cell(4, 0, 10, 10)]))
    assert err.code == "sibling_overlap" and err.details["other_code"] == AREA


def test_grids_on_both_sides_of_an_area_boundary_are_accepted(session, area):
    other = make_area(session, area.town, 2, cell(5, 0, 10, 10))
    make_grid(session, area, 1, cell(0, 0, 5, 5))
    make_grid(session, other, 1, cell(5, 0, 10, 5))
    assert count(session, Grid) == 2


def test_moving_a_grid_onto_its_sibling_is_refused(session, area):
    make_grid(session, area, 1, cell(0, 0, 5, 5))
    make_grid(session, area, 2, cell(0, 5, 5, 10))
    err = refused(session, "grid", GRID, cell(0, 4, 5, 9))
    assert err.code == "sibling_overlap" and err.details["other_code"] == AREA + "002"


# --- children stay inside ----------------------------------------------------------------

def test_shrinking_an_area_past_its_grid_is_refused(session, area):
    make_grid(session, area, 1, cell(0, 5, 5, 10))
    err = refused(session, "area", AREA, MultiPolygon([cell(0, 0, 5, 7)]))
    assert err.code == "children_outside"
    assert err.details["zone_code"] == AREA
    assert cell(0, 7, 5, 10).buffer(1e-9).contains(Point(err.details["location"]))


def test_shrinking_a_town_past_its_area_is_refused(session, area):
    err = refused(session, "town", TOWN, MultiPolygon([cell(0, 0, 10, 5)]))
    assert err.code == "children_outside" and err.details["zone_code"] == TOWN


def test_shrinking_an_area_around_its_grids_is_accepted(session, area):
    make_grid(session, area, 1, cell(0, 0, 5, 5))
    services.save_zone(session, "area", AREA, "测试片区1", MultiPolygon([cell(0, 0, 5, 6)]), actor="test")
    assert stored_geom(session, Area, AREA).equals(cell(0, 0, 5, 6))


# --- revisions and versions ------------------------------------------------------------------

def test_creation_records_a_revision_with_the_new_geometry(session, area):
    make_grid(session, area, 1, cell(0, 0, 2, 2))
    (rev,) = services.revisions(session, "grid", GRID)
    assert (rev.action, rev.actor, rev.level) == ("create", "test", "grid")
    assert rev.old_geom is None
    assert geo.from_db(rev.new_geom).equals(cell(0, 0, 2, 2))


def test_geometry_change_records_old_and_new_geometry_and_bumps_the_version(session, area):
    grid = make_grid(session, area, 1, cell(0, 0, 2, 2))
    assert grid.version == 1
    services.save_zone(session, "grid", GRID, "测试网格1", cell(0, 0, 3, 3), actor="alice", reason="redraw")
    assert grid.version == 2
    latest, first = services.revisions(session, "grid", GRID)
    assert (latest.action, latest.actor, latest.reason) == ("update", "alice", "redraw")
    assert geo.from_db(latest.old_geom).equals(cell(0, 0, 2, 2))
    assert geo.from_db(latest.new_geom).equals(cell(0, 0, 3, 3))
    assert first.action == "create"
    assert stored_geom(session, Grid, GRID).equals(cell(0, 0, 3, 3))


def test_each_geometry_change_is_one_revision(session, area):
    make_grid(session, area, 1, cell(0, 0, 1, 1))
    for size in (2, 3, 4):
        grid = services.save_zone(session, "grid", GRID, "测试网格1", cell(0, 0, size, size), actor="test")
    assert grid.version == 4
    revs = services.revisions(session, "grid", GRID)
    assert [r.action for r in revs] == ["update", "update", "update", "create"]
    assert geo.from_db(revs[0].old_geom).equals(cell(0, 0, 3, 3))
    assert geo.from_db(revs[0].new_geom).equals(cell(0, 0, 4, 4))


def test_name_only_change_records_no_revision(session, area):
    make_grid(session, area, 1, cell(0, 0, 2, 2))
    grid = services.save_zone(session, "grid", GRID, "新名字", cell(0, 0, 2, 2), actor="test", name_en="New")
    assert (grid.name, grid.name_en, grid.version) == ("新名字", "New", 1)
    assert count(session, BoundaryRevision, zone_code=GRID) == 1


# --- refusals leave the database as it was -------------------------------------------------

def test_refused_create_inside_a_savepoint_leaves_nothing(session, area):
    make_grid(session, area, 1, cell(0, 0, 3, 3))
    before = count(session, Grid), count(session, BoundaryRevision)
    with pytest.raises(GridsysError) as err:
        with session.begin_nested():
            services.save_zone(session, "grid", AREA + "002", "重叠", cell(2, 2, 5, 5), actor="test")
    assert err.value.code == "sibling_overlap"
    assert (count(session, Grid), count(session, BoundaryRevision)) == before
    assert count(session, Grid, code=AREA + "002") == 0


def test_refused_update_inside_a_savepoint_keeps_the_old_geometry(session, area):
    make_grid(session, area, 1, cell(0, 0, 2, 2))
    with pytest.raises(GridsysError) as err:
        with session.begin_nested():
            services.save_zone(session, "grid", GRID, "测试网格1", cell(0, 0, 8, 2), actor="test")
    assert err.value.code == "outside_parent"
    session.expire_all()
    assert stored_geom(session, Grid, GRID).equals(cell(0, 0, 2, 2))
    assert session.scalar(select(Grid.version).where(Grid.code == GRID)) == 1
    assert count(session, BoundaryRevision, zone_code=GRID) == 1


def test_refused_area_shrink_inside_a_savepoint_keeps_the_area(session, area):
    make_grid(session, area, 1, cell(0, 5, 5, 10))
    with pytest.raises(GridsysError):
        with session.begin_nested():
            services.save_zone(session, "area", AREA, "测试片区1", MultiPolygon([cell(0, 0, 5, 7)]),
                               actor="test")
    session.expire_all()
    assert stored_geom(session, Area, AREA).equals(cell(0, 0, 5, 10))
    assert count(session, BoundaryRevision, zone_code=AREA) == 1


# --- the database refuses invalid geometry on its own ------------------------------------------

@pytest.mark.parametrize("table,wkt", [
    ("grids", "POLYGON((106 29, 106.01 29.01, 106.01 29, 106 29.01, 106 29))"),
    ("towns", "MULTIPOLYGON(((106 29, 106.01 29.01, 106.01 29, 106 29.01, 106 29)))"),
])
def test_database_check_refuses_an_invalid_geometry(session, area, table, wkt):
    columns = {"grids": ("code, name, area_id", f"'{GRID}', 'x', {area.id}"),
               "towns": ("code, name", f"'{OTHER_TOWN}', 'x'")}[table]
    with pytest.raises(IntegrityError) as err:
        with session.begin_nested():
            session.execute(text(f"INSERT INTO {table} ({columns[0]}, geom) "
                                 f"VALUES ({columns[1]}, ST_GeomFromText(:wkt, 4326))"), {"wkt": wkt})
    assert err.value.orig.sqlstate == "23514"  # check_violation, not a foreign key or NOT NULL
    assert err.value.orig.diag.constraint_name.endswith("geom_valid")
    assert session.scalar(text(f"SELECT count(*) FROM {table}")) == (0 if table == "grids" else 1)


def test_database_check_accepts_a_valid_geometry(session, area):
    session.execute(text("INSERT INTO grids (code, name, area_id, geom) "
                         "VALUES (:code, 'x', :area, ST_GeomFromText(:wkt, 4326))"),
                    {"code": GRID, "area": area.id, "wkt": cell(0, 0, 1, 1).wkt})
    assert count(session, Grid) == 1
