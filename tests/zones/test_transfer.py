"""GeoJSON import (all or nothing, refusals name the feature) and RFC 7946 export."""
import json
from pathlib import Path

import pytest
from shapely.affinity import translate
from shapely.geometry.polygon import orient
from shapely.geometry import LinearRing, MultiPolygon, Point, Polygon, box, mapping, shape
from sqlalchemy import func, select

from gridsys import geo
from gridsys.errors import GridsysError
from gridsys.zones import services
from gridsys.zones.models import Area, BoundaryRevision, Grid, Town
from gridsys.zones.transfer import ImportRefused, export_zones, import_zones, load_json
from tests.factories import cell, make_area, make_grid, make_town

DEMO_PATH = Path(__file__).resolve().parents[2] / "data" / "demo_town.geojson"
DEMO_TEXT = DEMO_PATH.read_text(encoding="utf-8")
DEMO_TOWN = "500106110"
DEMO_AREAS = [f"{DEMO_TOWN}{seq:03d}" for seq in range(1, 6)]


def demo():
    """A fresh copy of the demo FeatureCollection (tests mutate it)."""
    return json.loads(DEMO_TEXT)


def as_json(geom) -> dict:
    """A shapely geometry as it arrives from a file (lists, not tuples)."""
    return json.loads(json.dumps(mapping(geom)))


def feature(level, code, name, geom, **props):
    return {"type": "Feature", "properties": {"level": level, "code": code, "name": name, **props},
            "geometry": as_json(geom)}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def table_counts(session) -> dict:
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Town, Area, Grid, BoundaryRevision)}


def by_code(features) -> dict:
    return {f["properties"]["code"]: f for f in features}


# --- the demo file -------------------------------------------------------------------

def test_demo_file_imports_one_town_five_areas_32_grids(session):
    counts = import_zones(session, demo(), actor="t")
    assert counts == {"town": {"created": 1, "updated": 0, "unchanged": 0},
                      "area": {"created": 5, "updated": 0, "unchanged": 0},
                      "grid": {"created": 32, "updated": 0, "unchanged": 0}}
    assert table_counts(session) == {"towns": 1, "areas": 5, "grids": 32, "boundary_revisions": 38}
    assert set(session.scalars(select(BoundaryRevision.action))) == {"import"}


def test_demo_geometries_are_stored_exactly(session):
    import_zones(session, demo(), actor="t")
    for code, feat in by_code(demo()["features"]).items():
        level = feat["properties"]["level"]
        stored = geo.from_db(services.get_zone(session, level, code).geom)
        assert stored.equals_exact(shape(feat["geometry"]), 0), code


def test_demo_covers_every_parent_completely(session):
    import_zones(session, demo(), actor="t")
    rows = services.coverage(session)
    assert [r.code for r in rows] == [DEMO_TOWN] + DEMO_AREAS
    for row in rows:
        assert row.coverage_pct == pytest.approx(100.0, abs=1e-6), row.code
        assert row.gap_m2 == pytest.approx(0.0, abs=1e-3), row.code
        assert row.overlap_m2 == pytest.approx(0.0, abs=1e-3), row.code
    assert [r.children for r in rows] == [5, 9, 5, 7, 6, 5]


def test_demo_reimported_is_all_unchanged(session):
    import_zones(session, demo(), actor="t")
    before = table_counts(session)
    counts = import_zones(session, demo(), actor="t")
    assert {level: c["unchanged"] for level, c in counts.items()} == {"town": 1, "area": 5, "grid": 32}
    assert all(c["created"] == c["updated"] == 0 for c in counts.values())
    assert table_counts(session) == before


def test_reimport_with_one_grid_redrawn_is_one_update(session):
    import_zones(session, demo(), actor="t")
    data = demo()
    # Swap the shapes of two neighbouring grids: each write alone would overlap, the import is checked
    # once everything is in place.
    f7, f8 = data["features"][7], data["features"][8]
    f7["geometry"], f8["geometry"] = f8["geometry"], f7["geometry"]
    counts = import_zones(session, data, actor="t")
    assert counts["grid"] == {"created": 0, "updated": 2, "unchanged": 30}
    grid = services.get_zone(session, "grid", f7["properties"]["code"])
    assert grid.version == 2
    assert geo.from_db(grid.geom).equals(shape(demo()["features"][8]["geometry"]))


# --- a bad feature #k refuses the whole file -------------------------------------------------

BOWTIE = {"type": "Polygon", "coordinates": [[[106.33, 29.62], [106.331, 29.621], [106.331, 29.62],
                                              [106.33, 29.621], [106.33, 29.62]]]}


def _bad_geometry(features, k):
    features[k]["geometry"] = BOWTIE


def _bad_code(features, k):
    features[k]["properties"]["code"] = "50010611000100"  # 14 digits


def _duplicate_code(features, k):
    features[k]["properties"]["code"] = features[k - 1]["properties"]["code"]


def _unknown_level(features, k):
    features[k]["properties"]["level"] = "village"


def _missing_name(features, k):
    del features[k]["properties"]["name"]


def _missing_parent(features, k):
    features[k]["properties"]["code"] = DEMO_TOWN + "009001"  # area 009 is nowhere


def _overlap_with_earlier(features, k):
    features[k]["geometry"] = features[k - 1]["geometry"]  # grids k-1 and k are in the same area


def _spill_outside_parent(features, k):
    features[k]["geometry"] = as_json(translate(shape(features[k]["geometry"]), 0.5))


def _malformed_feature(features, k):
    features[k] = {"type": "Feature", "geometry": features[k]["geometry"]}


def _three_d(features, k):
    features[k]["geometry"]["coordinates"][0][1].append(300.0)


BAD_FEATURES = [
    pytest.param(_bad_geometry, 9, "geometry_invalid", id="bad-geometry"),
    pytest.param(_three_d, 9, "geometry_not_2d", id="3d-geometry"),
    pytest.param(_bad_code, 9, "code_invalid", id="bad-code"),
    pytest.param(_duplicate_code, 9, "duplicate_code", id="duplicate-code"),
    pytest.param(_unknown_level, 9, "level_unknown", id="unknown-level"),
    pytest.param(_missing_name, 9, "name_invalid", id="missing-name"),
    pytest.param(_missing_parent, 9, "parent_not_found", id="missing-parent"),
    pytest.param(_malformed_feature, 9, "feature_malformed", id="malformed-feature"),
    pytest.param(_overlap_with_earlier, 8, "sibling_overlap", id="overlap-with-earlier"),
    pytest.param(_spill_outside_parent, 9, "outside_parent", id="spill-outside-parent"),
]


def bad_demo(mutate, k):
    data = demo()
    mutate(data["features"], k)
    return data


@pytest.mark.parametrize("mutate,k,code", BAD_FEATURES)
def test_bad_feature_is_refused_naming_it(session, mutate, k, code):
    data = bad_demo(mutate, k)
    with pytest.raises(ImportRefused) as err:
        import_zones(session, data, actor="t")
    assert err.value.code == code
    assert err.value.details["feature_index"] == k
    assert err.value.details["feature_code"] == (data["features"][k].get("properties") or {}).get("code")
    assert f"feature #{k}" in err.value.message


@pytest.mark.parametrize("mutate,k,code", BAD_FEATURES)
def test_bad_feature_leaves_the_database_unchanged(session, mutate, k, code):
    make_town(session)  # something already there, which must stay as it is
    before = table_counts(session)
    with pytest.raises(ImportRefused):
        import_zones(session, bad_demo(mutate, k), actor="t")
    assert table_counts(session) == before


def test_overlapping_features_are_both_named(session):
    """Whichever of the two is blamed, the refusal names both codes."""
    data = bad_demo(_overlap_with_earlier, 8)
    with pytest.raises(ImportRefused) as err:
        import_zones(session, data, actor="t")
    codes = {data["features"][7]["properties"]["code"], data["features"][8]["properties"]["code"]}
    assert err.value.code == "sibling_overlap"
    assert {err.value.details["feature_code"], err.value.details["other_code"]} == codes
    assert "location" in err.value.details


def test_grid_spilling_outside_an_area_already_in_the_database_is_named(session):
    import_zones(session, demo(), actor="t")
    before = table_counts(session)
    area = shape(demo()["features"][1]["geometry"])
    minx, miny, maxx, maxy = area.bounds
    spill = box(maxx - 0.001, miny, maxx + 0.01, miny + 0.001)
    data = collection(feature("grid", DEMO_AREAS[0] + "099", "越界", spill))
    with pytest.raises(ImportRefused) as err:
        import_zones(session, data, actor="t")
    assert (err.value.code, err.value.details["feature_index"], err.value.details["feature_code"]) == (
        "outside_parent", 0, DEMO_AREAS[0] + "099")
    assert spill.difference(area).buffer(1e-9).contains(Point(err.value.details["location"]))
    assert table_counts(session) == before


def test_grid_overlapping_a_grid_already_in_the_database_is_named(session):
    import_zones(session, demo(), actor="t")
    first = demo()["features"][6]
    data = collection(feature("grid", DEMO_AREAS[0] + "099", "重叠", shape(first["geometry"]).buffer(-0.0005)))
    with pytest.raises(ImportRefused) as err:
        import_zones(session, data, actor="t")
    assert err.value.code == "sibling_overlap"
    assert err.value.details["feature_index"] == 0
    assert err.value.details["other_code"] == first["properties"]["code"]


def test_refused_file_through_the_cli_exits_1_and_changes_nothing(session, cli, tmp_path):
    good = tmp_path / "demo.geojson"
    good.write_text(DEMO_TEXT, encoding="utf-8")
    assert cli.invoke(args=["zones", "import", str(good)]).exit_code == 0
    before = table_counts(session)
    data = demo()
    for f in data["features"]:  # the same shapes again as a second town: it overlaps the demo town
        f["properties"]["code"] = "500106111" + f["properties"]["code"][9:]
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(data), encoding="utf-8")
    result = cli.invoke(args=["zones", "import", str(bad)])
    assert result.exit_code == 1
    assert "error sibling_overlap" in result.stderr  # the new town overlaps the demo town
    assert table_counts(session) == before


@pytest.mark.parametrize("mutate,k,code", BAD_FEATURES)
def test_bad_feature_through_the_cli_exits_1_and_changes_nothing(session, cli, tmp_path, mutate, k, code):
    make_town(session)
    session.commit()  # on refusal the CLI rolls back everything not committed
    before = table_counts(session)
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(bad_demo(mutate, k)), encoding="utf-8")
    result = cli.invoke(args=["zones", "import", str(path)])
    assert result.exit_code == 1
    assert f"error {code}" in result.stderr
    assert f"feature #{k}" in result.stderr
    assert table_counts(session) == before


def test_cli_import_reports_counts(session, cli, tmp_path):
    path = tmp_path / "demo.geojson"
    path.write_text(DEMO_TEXT, encoding="utf-8")
    result = cli.invoke(args=["zones", "import", str(path), "--actor", "alice", "--reason", "首次导入"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["town: 1 created, 0 updated, 0 unchanged",
                                          "area: 5 created, 0 updated, 0 unchanged",
                                          "grid: 32 created, 0 updated, 0 unchanged"]
    (rev,) = services.revisions(session, "town", DEMO_TOWN)
    assert (rev.actor, rev.reason, rev.action) == ("alice", "首次导入", "import")


def test_cli_import_reads_stdin(session, cli):
    result = cli.invoke(args=["zones", "import", "-"], input=DEMO_TEXT.encode("utf-8"))
    assert result.exit_code == 0, result.output
    assert table_counts(session)["grids"] == 32


# --- files that are not a FeatureCollection -----------------------------------------------------

@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe\x00garbage", "[1, 2".encode()])
def test_text_that_is_not_json_is_refused(raw):
    with pytest.raises(GridsysError) as err:
        load_json(raw)
    assert err.value.code == "file_not_json"


@pytest.mark.parametrize("data", [
    [], "FeatureCollection", None,
    {"type": "Feature", "properties": {}, "geometry": None},
    {"type": "featurecollection", "features": []},
    {"features": []},
])
def test_json_that_is_not_a_feature_collection_is_refused(session, data):
    with pytest.raises(GridsysError) as err:
        import_zones(session, data, actor="t")
    assert err.value.code == "not_feature_collection"


@pytest.mark.parametrize("data", [
    {"type": "FeatureCollection", "features": []},
    {"type": "FeatureCollection"},
    {"type": "FeatureCollection", "features": {"0": {}}},
])
def test_feature_collection_without_features_is_refused(session, data):
    with pytest.raises(GridsysError) as err:
        import_zones(session, data, actor="t")
    assert err.value.code == "no_features"


@pytest.mark.parametrize("content,code", [
    (b"this is not json", "file_not_json"),
    (b'{"type": "Feature"}', "not_feature_collection"),
    (b'{"type": "FeatureCollection", "features": []}', "no_features"),
])
def test_cli_refuses_a_file_that_is_not_a_feature_collection(cli, tmp_path, content, code):
    path = tmp_path / "x.geojson"
    path.write_bytes(content)
    result = cli.invoke(args=["zones", "import", str(path)])
    assert result.exit_code == 1
    assert f"error {code}" in result.stderr


def test_cli_refuses_a_missing_file(cli, tmp_path):
    result = cli.invoke(args=["zones", "import", str(tmp_path / "nowhere.geojson")])
    assert result.exit_code == 1
    assert "error file_unreadable" in result.stderr


# --- a real-world-like boundary ----------------------------------------------------------------

CENTRE = (106.1, 29.1)


@pytest.fixture
def big_town():
    """A town of >= 20 000 vertices: a round main part with a lake (hole) and an island."""
    main = Point(*CENTRE).buffer(0.05, quad_segs=5000)
    lake = Point(CENTRE[0] + 0.02, CENTRE[1]).buffer(0.005, quad_segs=64)
    island = Point(CENTRE[0] + 0.1, CENTRE[1]).buffer(0.01, quad_segs=64)
    town = MultiPolygon([Polygon(main.exterior.coords, [lake.exterior.coords]), island])
    assert town.is_valid and len(town.geoms[0].interiors) == 1
    assert sum(len(p.exterior.coords) + sum(len(i.coords) for i in p.interiors) for p in town.geoms) >= 20000
    area = MultiPolygon([box(106.07, 29.08, 106.10, 29.12), island])
    grid = box(106.08, 29.09, 106.09, 29.10)
    return {"town": town, "area": area, "grid": grid,
            "data": collection(feature("town", "500106901", "湖岛镇", town),
                               feature("area", "500106901001", "湖岛片区", area),
                               feature("grid", "500106901001001", "湖岛第1网格", grid))}


def test_town_with_island_hole_and_20000_vertices_imports(session, big_town):
    counts = import_zones(session, big_town["data"], actor="t")
    assert [counts[level]["created"] for level in ("town", "area", "grid")] == [1, 1, 1]
    town = geo.from_db(services.get_zone(session, "town", "500106901").geom)
    assert town.equals_exact(big_town["town"], 1e-12)
    assert len(town.geoms) == 2 and len(town.geoms[0].interiors) == 1
    assert geo.from_db(services.get_zone(session, "area", "500106901001").geom).equals(big_town["area"])


def test_big_town_locates_points_in_the_lake_island_and_grid(session, big_town):
    import_zones(session, big_town["data"], actor="t")
    assert services.locate(session, 106.085, 29.095).grid.code == "500106901001001"
    on_island = services.locate(session, CENTRE[0] + 0.1, CENTRE[1])
    assert (on_island.level, on_island.area.code) == ("area", "500106901001")
    with pytest.raises(GridsysError) as err:
        services.locate(session, CENTRE[0] + 0.02, CENTRE[1])  # the middle of the lake
    assert err.value.code == "point_outside_towns"


def test_big_town_area_in_the_lake_is_refused(session, big_town):
    import_zones(session, collection(big_town["data"]["features"][0]), actor="t")
    before = table_counts(session)
    in_lake = box(CENTRE[0] + 0.018, CENTRE[1] - 0.002, CENTRE[0] + 0.022, CENTRE[1] + 0.002)
    with pytest.raises(ImportRefused) as err:
        import_zones(session, collection(feature("area", "500106901001", "湖中", MultiPolygon([in_lake]))),
                     actor="t")
    assert (err.value.code, err.value.details["feature_index"]) == ("outside_parent", 0)
    assert in_lake.contains(Point(err.value.details["location"]))
    assert table_counts(session) == before


# --- export ----------------------------------------------------------------------------------

def export_via_cli(cli, path, *args):
    result = cli.invoke(args=["zones", "export", "--out", str(path), *args])
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text(encoding="utf-8"))


def rings(geometry: dict):
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    for polygon in polygons:
        yield "exterior", polygon[0]
        for hole in polygon[1:]:
            yield "hole", hole


def test_export_is_rfc7946(session, cli, tmp_path):
    import_zones(session, demo(), actor="t")
    data = export_via_cli(cli, tmp_path / "out.geojson")
    assert data["type"] == "FeatureCollection" and "crs" not in data
    assert len(data["features"]) == 38
    for f in data["features"]:
        assert f["type"] == "Feature"
        props = f["properties"]
        assert props["level"] in ("town", "area", "grid") and props["code"] and props["name"]
        assert f["geometry"]["type"] == ("Polygon" if props["level"] == "grid" else "MultiPolygon")
        for kind, coords in rings(f["geometry"]):
            assert LinearRing(coords).is_ccw == (kind == "exterior"), props["code"]
            assert all(len(pos) == 2 for pos in coords)


def test_export_orients_rings_counter_clockwise_and_holes_clockwise(session, big_town):
    town = big_town["town"]
    main, island = town.geoms
    clockwise_main = orient(main, -1.0)
    assert not LinearRing(clockwise_main.exterior.coords).is_ccw
    assert LinearRing(clockwise_main.interiors[0].coords).is_ccw
    services.save_zone(session, "town", "500106901", "湖岛镇", MultiPolygon([clockwise_main, island]),
                       actor="t")
    (f,) = json.loads(json.dumps(export_zones(session, level="town")))["features"]
    kinds = [(kind, LinearRing(coords).is_ccw) for kind, coords in rings(f["geometry"])]
    assert kinds == [("exterior", True), ("hole", False), ("exterior", True)]
    assert shape(f["geometry"]).equals(town)


def test_export_orients_a_clockwise_grid(session):
    town = make_town(session)
    area = make_area(session, town, 1)
    clockwise = orient(cell(0, 0, 2, 2), -1.0)
    assert not LinearRing(clockwise.exterior.coords).is_ccw
    make_grid(session, area, 1, clockwise)
    (f,) = json.loads(json.dumps(export_zones(session, level="grid")))["features"]
    assert f["geometry"]["type"] == "Polygon"
    assert LinearRing(f["geometry"]["coordinates"][0]).is_ccw
    assert shape(f["geometry"]).equals(clockwise)


def test_export_matches_the_imported_file(session, cli, tmp_path):
    import_zones(session, demo(), actor="t")
    exported = by_code(export_via_cli(cli, tmp_path / "out.geojson")["features"])
    original = by_code(demo()["features"])
    assert exported.keys() == original.keys()
    for code, f in original.items():
        assert shape(exported[code]["geometry"]).equals(shape(f["geometry"])), code
        assert exported[code]["properties"]["name"] == f["properties"]["name"]
        assert exported[code]["properties"]["name_en"] == f["properties"]["name_en"]
        assert exported[code]["properties"]["parent_code"] == services.parent_code(
            f["properties"]["level"], code)


def test_exported_file_reimports_unchanged(session, cli, tmp_path):
    import_zones(session, demo(), actor="t")
    path = tmp_path / "out.geojson"
    export_via_cli(cli, path)
    before = table_counts(session)
    result = cli.invoke(args=["zones", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["town: 0 created, 0 updated, 1 unchanged",
                                          "area: 0 created, 0 updated, 5 unchanged",
                                          "grid: 0 created, 0 updated, 32 unchanged"]
    assert table_counts(session) == before


def test_export_of_one_level_has_only_that_level(session, cli, tmp_path):
    import_zones(session, demo(), actor="t")
    data = export_via_cli(cli, tmp_path / "grids.geojson", "--level", "grid")
    assert len(data["features"]) == 32
    assert {f["properties"]["level"] for f in data["features"]} == {"grid"}
    assert {f["geometry"]["type"] for f in data["features"]} == {"Polygon"}


def test_export_of_one_town_leaves_the_others_out(session, cli):
    import_zones(session, demo(), actor="t")
    make_town(session)
    result = cli.invoke(args=["zones", "export", "--town", "500106901"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [f["properties"]["code"] for f in data["features"]] == ["500106901"]


# --- coverage --------------------------------------------------------------------------------------

def test_cli_coverage_lists_every_area_at_100_percent(session, cli):
    import_zones(session, demo(), actor="t")
    result = cli.invoke(args=["zones", "coverage"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.stdout.splitlines()[1:]}
    assert sorted(lines) == [DEMO_TOWN] + DEMO_AREAS
    for code, line in lines.items():
        assert "100.00%" in line.split(), line


def test_cli_coverage_shows_a_gap(session, cli):
    town = make_town(session)
    services.save_zone(session, "area", town.code + "001", "半边", MultiPolygon(
        [box(106.0, 29.0, 106.05, 29.1)]), actor="t")
    result = cli.invoke(args=["zones", "coverage", "--town", town.code])
    assert result.exit_code == 0, result.output
    town_line = next(line for line in result.stdout.splitlines() if f" {town.code} " in line)
    assert "50.00%" in town_line.split()

