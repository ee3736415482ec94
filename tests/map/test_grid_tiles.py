"""Zone vector tiles (towns, then areas, then grids as the zoom grows), scoped and simplified, and
the grids' and gaps' GeoJSON limited to a bbox: nothing unbounded ships to the browser."""
from __future__ import annotations

from shapely.geometry import Polygon

from gridsys.map import data, tiles
from tests.incidents.helpers import bearer, error_code, lonlat, report
from tests.map.tiles_helpers import fetch, tile_of


def url(z, x, y):
    return f"/tiles/grids/{z}/{x}/{y}.mvt"


def props(layers, layer) -> dict:
    return {f["properties"]["code"]: f["properties"] for f in layers.get(layer, [])}


def test_layers_follow_the_zoom(client, session, world):
    headers = bearer(session, world.admin)
    centre = lonlat((5, 5))
    low = fetch(client, url(*tile_of(*centre, tiles.TOWNS_ONLY_BELOW - 1)), headers)[1]
    assert set(low) == {"towns"} and set(props(low, "towns")) == {world.town.code}
    middle = fetch(client, url(*tile_of(*centre, tiles.GRIDS_FROM - 1)), headers)[1]
    assert set(middle) == {"towns", "areas"} and set(props(middle, "areas")) == {world.a1.code, world.a2.code}
    high = fetch(client, url(*tile_of(*centre, tiles.GRIDS_FROM)), headers)[1]
    assert set(high) == {"areas", "grids"}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in high["grids"])
    feature = next(f for f in high["grids"] if f["properties"]["code"] == world.g11.code)
    assert feature["id"] == world.g11.id


def test_grid_features_carry_counts_and_missing_duties(client, session, world):
    for _ in range(3):
        report(session, world.safety1, "g11", "0201")
    z13 = tile_of(*lonlat("g11"), 13)
    admin = props(fetch(client, url(*z13), bearer(session, world.admin))[1], "grids")
    assert admin[world.g11.code]["open"] == 3 and admin[world.g11.code]["overdue"] == 0
    assert admin[world.g11.code]["area"] == world.a1.code
    g22 = props(fetch(client, url(*tile_of(*lonlat("g22"), 13)), bearer(session, world.admin))[1], "grids")
    assert g22[world.g22.code]["missing"] > admin[world.g11.code]["missing"] >= 0, "nobody works grid 2-2"
    leader = props(fetch(client, url(*z13), bearer(session, world.leader1))[1], "grids")
    assert world.g11.code in leader and not {world.g21.code, world.g22.code} & set(leader), \
        "a leader's tiles hold their own grids only"
    assert "missing" not in leader[world.g11.code], "duties lacking a worker are the administrators' concern"


def test_out_of_scope_zones_are_in_no_tile(client, session, world):
    headers = bearer(session, world.leader2)
    for z in range(0, 17, 2):
        layers = fetch(client, url(*tile_of(*lonlat("g11"), z)), headers)[1]
        assert world.g11.code not in props(layers, "grids") and world.a1.code not in props(layers, "areas"), z
    # A worker of grid 1-1 gets that grid and nothing else of the town's grids.
    layers = fetch(client, url(*tile_of(*lonlat((5, 5)), 13)), bearer(session, world.safety1))[1]
    assert set(props(layers, "grids")) == {world.g11.code}


def test_outlines_are_simplified_by_zoom(client, session, world):
    """A grid drawn with 2 000 vertices ships with far fewer at a low zoom than at a high one."""
    import math
    from tests.factories import make_grid
    z, x, y = tile_of(*lonlat((7.5, 7)), 16)
    cx = (x + 0.5) / 2 ** z * 360 - 180     # the middle of that zoom-16 tile: the grid lies inside it
    cy = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / 2 ** z))))
    ring = [(cx + 0.0005 * math.cos(2 * math.pi * i / 2000) * (1 + 0.1 * math.sin(i / 10)),
             cy + 0.0005 * math.sin(2 * math.pi * i / 2000)) for i in range(2000)]
    make_grid(session, world.a2, 7, Polygon(ring))
    session.commit()
    headers = bearer(session, world.admin)

    def vertices(z):
        layers = fetch(client, url(*tile_of(cx, cy, z)), headers)[1]
        feature = next(f for f in layers["grids"] if f["properties"]["code"].endswith("007"))
        return len(feature["geometry"]["coordinates"][0])
    assert vertices(13) <= 40 < vertices(16) < 2000


def test_grids_geojson_by_bbox_and_bounded(client, session, world, monkeypatch):
    headers = bearer(session, world.admin)
    lon, lat = lonlat("g11")
    box = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    body = client.get(f"/api/v1/map/grids.geojson?bbox={box}", headers=headers).get_json()
    assert [f["properties"]["code"] for f in body["features"]] == [world.g11.code]
    assert len(client.get("/api/v1/map/grids.geojson", headers=headers).get_json()["features"]) == 4
    monkeypatch.setattr(data, "MAX_GRIDS", 3)
    refused = client.get("/api/v1/map/grids.geojson", headers=headers)
    assert refused.status_code == 400 and error_code(refused) == "grids_too_many"
    assert client.get(f"/api/v1/map/grids.geojson?bbox={box}", headers=headers).status_code == 200
    bad = client.get("/api/v1/map/grids.geojson?bbox=1,2,3", headers=headers)
    assert bad.status_code == 400 and error_code(bad) == "bbox_invalid"


def test_gaps_geojson_by_bbox(client, session, world):
    headers = bearer(session, world.admin)
    everywhere = client.get("/api/v1/map/gaps.geojson", headers=headers).get_json()["features"]
    assert {f["properties"]["code"] for f in everywhere} >= {world.a2.code}
    lon, lat = lonlat("gap")
    near = client.get(f"/api/v1/map/gaps.geojson?bbox={lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}",
                      headers=headers).get_json()["features"]
    assert world.a2.code in {f["properties"]["code"] for f in near}
    far = client.get("/api/v1/map/gaps.geojson?bbox=100,20,100.1,20.1", headers=headers).get_json()["features"]
    assert far == []
