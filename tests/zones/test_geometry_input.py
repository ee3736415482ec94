"""gridsys.geo.parse_geometry: every refusal has a stable code; repairable rings are repaired."""
import math

import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gridsys.geo import GeometryError, parse_geometry

LON, LAT = 106.0, 29.0
U = 0.001  # degrees per unit of the small integer shapes below (about 100 m)


def ring(*xy):
    """Positions in units from (LON, LAT), as GeoJSON lists."""
    return [[LON + x * U, LAT + y * U] for x, y in xy]


SQUARE = ring((0, 0), (10, 0), (10, 10), (0, 10), (0, 0))


def polygon(*rings):
    return {"type": "Polygon", "coordinates": list(rings)}


def refused(obj, expected="Polygon"):
    with pytest.raises(GeometryError) as err:
        parse_geometry(obj, expected)
    return err.value


def test_valid_polygon_is_returned_unchanged():
    geom = parse_geometry(polygon(SQUARE), "Polygon")
    assert geom.geom_type == "Polygon"
    assert geom.equals_exact(Polygon(SQUARE), 0)
    assert geom.equals(box(LON, LAT, LON + 10 * U, LAT + 10 * U))


def test_self_intersecting_bowtie_is_refused_with_the_crossing_location():
    bowtie = ring((0, 0), (10, 10), (10, 0), (0, 10), (0, 0))
    err = refused(polygon(bowtie))
    assert err.code == "geometry_invalid"
    assert Point(err.details["location"]).equals_exact(Point(LON + 5 * U, LAT + 5 * U), 1e-9)


def test_overlapping_parts_of_a_multipolygon_are_refused():
    a = ring((0, 0), (10, 0), (10, 10), (0, 10), (0, 0))
    b = ring((5, 0), (15, 0), (15, 10), (5, 10), (5, 0))
    err = refused({"type": "MultiPolygon", "coordinates": [[a], [b]]}, "MultiPolygon")
    assert err.code == "geometry_invalid"
    assert "location" in err.details


def test_self_touching_ring_is_repaired_keeping_its_area():
    # The ring touches itself at (5, 10): invalid, but ST_MakeValid keeps one polygon (with a hole).
    coords = ring((0, 0), (10, 0), (10, 10), (5, 10), (7, 5), (3, 5), (5, 10), (0, 10), (0, 0))
    raw = Polygon(coords)
    assert not raw.is_valid
    geom = parse_geometry(polygon(coords), "Polygon")
    assert geom.geom_type == "Polygon" and geom.is_valid
    assert geom.area == pytest.approx(raw.area, rel=1e-9)
    assert geom.symmetric_difference(raw.buffer(0)).area == pytest.approx(0, abs=1e-15)


def test_self_touching_ring_is_repaired_and_wrapped_for_a_multipolygon():
    coords = ring((0, 0), (10, 0), (10, 10), (5, 10), (7, 5), (3, 5), (5, 10), (0, 10), (0, 0))
    geom = parse_geometry(polygon(coords), "MultiPolygon")
    assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1 and geom.is_valid
    assert geom.area == pytest.approx(Polygon(coords).area, rel=1e-9)


def test_polygon_is_accepted_and_wrapped_where_a_multipolygon_is_expected():
    geom = parse_geometry(polygon(SQUARE), "MultiPolygon")
    assert isinstance(geom, MultiPolygon) and len(geom.geoms) == 1
    assert geom.geoms[0].equals(Polygon(SQUARE))


def test_multipolygon_with_an_island_is_kept():
    island = ring((20, 0), (25, 0), (25, 5), (20, 5), (20, 0))
    geom = parse_geometry({"type": "MultiPolygon", "coordinates": [[SQUARE], [island]]}, "MultiPolygon")
    assert geom.equals(MultiPolygon([Polygon(SQUARE), Polygon(island)]))


@pytest.mark.parametrize("obj,expected", [
    ({"type": "Point", "coordinates": [LON, LAT]}, "Polygon"),
    ({"type": "LineString", "coordinates": [[LON, LAT], [LON + U, LAT]]}, "Polygon"),
    ({"type": "MultiPolygon", "coordinates": [[SQUARE]]}, "Polygon"),
    ({"type": "Point", "coordinates": [LON, LAT]}, "MultiPolygon"),
    ({"type": "GeometryCollection", "geometries": []}, "MultiPolygon"),
    (polygon(SQUARE), "Point"),
], ids=["point-for-polygon", "line-for-polygon", "multi-for-polygon", "point-for-multi",
        "collection-for-multi", "polygon-for-point"])
def test_wrong_geometry_type_is_refused(obj, expected):
    assert refused(obj, expected).code == "geometry_wrong_type"


@pytest.mark.parametrize("obj,expected", [
    (polygon([[x, y, 250.0] for x, y in SQUARE]), "Polygon"),
    (polygon(SQUARE[:1] + [[*SQUARE[1], 0.0]] + SQUARE[2:]), "Polygon"),
    ({"type": "Point", "coordinates": [LON, LAT, 300.0]}, "Point"),
    ({"type": "Point", "coordinates": [LON, LAT, 300.0, 1.0]}, "Point"),
], ids=["3d-ring", "one-3d-position", "3d-point", "xyzm-point"])
def test_3d_coordinates_are_refused(obj, expected):
    assert refused(obj, expected).code == "geometry_not_2d"


@pytest.mark.parametrize("lon,lat", [(180.5, LAT), (-181.0, LAT), (LON, 90.5), (LON, -91.0)])
def test_out_of_range_coordinates_are_refused_with_their_location(lon, lat):
    coords = [[lon, lat], [LON, LAT], [LON + U, LAT], [lon, lat]]
    err = refused(polygon(coords))
    assert err.code == "coordinates_out_of_range"
    assert err.details["location"] == [lon, lat]


def test_swapped_lat_lon_is_refused_as_out_of_range():
    swapped = [[y, x] for x, y in SQUARE]  # latitude first: 106 is not a latitude
    assert refused(polygon(swapped)).code == "coordinates_out_of_range"


@pytest.mark.parametrize("obj,expected", [
    ({"type": "Polygon", "coordinates": []}, "Polygon"),
    ({"type": "Polygon"}, "Polygon"),
    ({"type": "Polygon", "coordinates": None}, "Polygon"),
    ({"type": "MultiPolygon", "coordinates": []}, "MultiPolygon"),
    ({"type": "Point", "coordinates": []}, "Point"),
], ids=["empty-polygon", "no-coordinates", "null-coordinates", "empty-multipolygon", "empty-point"])
def test_empty_coordinates_are_refused(obj, expected):
    assert refused(obj, expected).code == "geometry_empty"


def test_unclosed_ring_is_refused_with_its_first_position():
    open_ring = SQUARE[:-1]
    err = refused(polygon(open_ring))
    assert err.code == "ring_not_closed"
    assert err.details["location"] == SQUARE[0]


def test_unclosed_hole_is_refused():
    hole = ring((2, 2), (4, 2), (4, 4), (2, 4))
    assert refused(polygon(SQUARE, hole)).code == "ring_not_closed"


@pytest.mark.parametrize("coords", [
    ring((0, 0), (10, 0), (0, 0)),
    ring((0, 0), (10, 0)),
    ring((0, 0)),
    [],
], ids=["3-positions", "2-positions", "1-position", "no-positions"])
def test_ring_with_fewer_than_four_positions_is_refused(coords):
    assert refused(polygon(coords)).code == "ring_too_short"


def test_short_hole_is_refused():
    assert refused(polygon(SQUARE, ring((2, 2), (4, 2), (2, 2)))).code == "ring_too_short"


@pytest.mark.parametrize("bad", ["106", "abc", True, False, None, float("nan"), float("inf"),
                                 float("-inf"), [106.0], {"lon": 106.0}],
                         ids=["numeric-string", "string", "true", "false", "null", "nan", "inf",
                              "-inf", "list", "object"])
def test_non_numeric_coordinates_are_refused(bad):
    coords = [[bad, LAT]] + SQUARE[1:-1] + [[bad, LAT]]
    assert refused(polygon(coords)).code == "coordinates_invalid"


@pytest.mark.parametrize("bad", ["29", True, float("nan")], ids=["string", "bool", "nan"])
def test_non_numeric_latitude_is_refused(bad):
    coords = [[LON, bad]] + SQUARE[1:-1] + [[LON, bad]]
    assert refused(polygon(coords)).code == "coordinates_invalid"


def test_non_numeric_point_is_refused():
    assert refused({"type": "Point", "coordinates": ["106", "29"]}, "Point").code == "coordinates_invalid"


@pytest.mark.parametrize("obj", [
    None, "POLYGON((0 0, 1 0, 1 1, 0 0))", [[LON, LAT]], 42, {"coordinates": [SQUARE]},
    {"type": "Polygon", "coordinates": "abc"},
    {"type": "Polygon", "coordinates": [SQUARE[0]]},
    {"type": "Polygon", "coordinates": [[[LON]] + SQUARE[1:]]},
], ids=["none", "wkt-string", "list", "number", "no-type", "string-coordinates",
        "too-shallow", "1-value-position"])
def test_malformed_input_is_refused(obj):
    assert refused(obj).code == "geometry_malformed"


def test_point_is_parsed_as_a_point():
    geom = parse_geometry({"type": "Point", "coordinates": [LON, LAT]}, "Point")
    assert geom.equals(Point(LON, LAT))


def test_polygon_with_a_hole_is_accepted():
    hole = ring((2, 2), (2, 4), (4, 4), (4, 2), (2, 2))
    geom = parse_geometry(polygon(SQUARE, hole), "Polygon")
    assert len(geom.interiors) == 1
    assert math.isclose(geom.area, (100 - 4) * U * U, rel_tol=1e-9)
