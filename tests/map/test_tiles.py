"""Incident vector tiles: valid MVT built by PostGIS, scoped (another area's incidents are in no
tile), summarised into clusters below zoom 15 or past the per-tile limit with counts that add up,
filtered as the map is, cacheable privately, and bad z/x/y refused with stable codes."""
from __future__ import annotations

import gzip
import itertools
from datetime import timedelta

import pytest

from gridsys.incidents import services
from gridsys.map import tiles
from tests.incidents.helpers import bearer, error_code, lonlat, report
from tests.map.tiles_helpers import children, decode, fetch, incident_count, tile_of

A1_SPOTS = [(1 + 0.37 * i, 1 + 0.29 * j) for i in range(4) for j in range(3)]   # 12 in grid 1-1
A2_SPOTS = [(6 + 0.5 * i, 1 + 0.4 * j) for i in range(3) for j in range(2)]      # 6 in grid 2-1


@pytest.fixture
def town_incidents(session, world):
    """12 open incidents in area 1 (grid 1-1), 6 in area 2 (grid 2-1); two of area 1 overdue."""
    mine = [report(session, world.safety1, spot, "0201", description=f"一区事件{i}") for i, spot in enumerate(A1_SPOTS)]
    theirs = [report(session, world.worker21, spot, "0101", description=f"二区事件{i}") for i, spot in enumerate(A2_SPOTS)]
    for incident in mine[:2]:
        incident.due_at = services.now() - timedelta(hours=3)
    session.commit()
    return mine, theirs


def url(z, x, y, query=""):
    return f"/tiles/incidents/{z}/{x}/{y}.mvt" + (f"?{query}" if query else "")


def codes_in(layers) -> set[str]:
    return {f["properties"]["code"] for f in layers.get("incidents", [])}


def test_a_high_zoom_tile_carries_each_incident_with_the_popups_fields(client, session, town_incidents, world):
    mine, _ = town_incidents
    headers = bearer(session, world.leader1)
    first = mine[0]
    response, layers = fetch(client, url(*tile_of(*lonlat(A1_SPOTS[0]), 16)), headers)
    assert set(layers) == {"incidents"}, "one incident per feature at zoom 16: no clusters"
    feature = next(f for f in layers["incidents"] if f["id"] == first.id)
    p = feature["properties"]
    assert p["code"] == first.code and p["category"] == "0201" and p["status"] == first.status
    assert p["count"] == 1 and p["overdue"] is True and p["escalation_level"] == 0
    assert p["due_at"].endswith("Z") and p["created_at"].endswith("Z")
    assert p["assignee_name"] == first.assignee.display_name
    assert feature["geometry"]["type"] == "Point"
    assert response.headers["Cache-Control"] == "private, max-age=30"
    assert "Cookie" in response.headers["Vary"]


def test_a_leader_never_gets_another_areas_incidents_in_any_tile(client, session, town_incidents, world):
    mine, theirs = town_incidents
    headers = bearer(session, world.leader1)
    theirs_codes = {i.code for i in theirs}
    for z in (0, 4, 8, 12, 14, 15, 16, 18):
        wanted = {tile_of(*lonlat(spot), z) for spot in A1_SPOTS + A2_SPOTS}
        total = 0
        for tile in wanted:
            _, layers = fetch(client, url(*tile), headers)
            assert not codes_in(layers) & theirs_codes, (z, tile)
            total += incident_count(layers)
        assert total == len(mine), f"zoom {z}: the leader's tiles stand for {total}, not their {len(mine)}"

    # A tile holding only area 2's incidents is empty for leader1: a tile, not data, not a refusal.
    only_theirs = tile_of(*lonlat(A2_SPOTS[0]), 17)
    assert only_theirs not in {tile_of(*lonlat(s), 17) for s in A1_SPOTS}
    response, layers = fetch(client, url(*only_theirs), headers)
    assert layers == {} and response.data == b""
    _, layers = fetch(client, url(*only_theirs), bearer(session, world.leader2))
    assert incident_count(layers) >= 1, "the control: area 2's leader sees it"


def test_low_zoom_tiles_are_clusters_whose_counts_add_up(client, session, town_incidents, world):
    mine, theirs = town_incidents
    _, layers = fetch(client, url(*tile_of(*lonlat((5, 5)), 10)), bearer(session, world.admin))
    clusters = layers["clusters"]
    assert clusters and all(f["properties"]["count"] > 1 for f in clusters)
    assert all(f["geometry"]["type"] == "Point" and not f["id"] for f in clusters)   # no feature id
    assert incident_count(layers) == len(mine) + len(theirs)
    overdue = sum(f["properties"]["overdue"] for f in clusters) + \
        sum(bool(f["properties"]["overdue"]) for f in layers.get("incidents", []))
    assert overdue == 2
    for f in layers.get("incidents", []):   # a cell of one incident keeps it, with its fields
        assert f["properties"]["count"] == 1 and f["properties"]["code"]


def test_a_crowded_tile_is_summarised_even_at_high_zoom(client, session, town_incidents, world, monkeypatch):
    crowd = [report(session, world.safety1, (1.5 + 0.005 * i, 1.5), "0201") for i in range(6)]   # 50 m apart
    z15 = tile_of(*lonlat((1.5, 1.5)), 15)
    headers = bearer(session, world.leader1)
    _, before = fetch(client, url(*z15), headers)
    assert "clusters" not in before and len(before["incidents"]) > 2
    monkeypatch.setattr(tiles, "MAX_POINTS", 2)
    _, after = fetch(client, url(*z15), headers)
    assert after.get("clusters"), "over the limit: summarised, not cut"
    assert incident_count(after) == incident_count(before) >= len(crowd)
    assert len(after["clusters"]) + len(after.get("incidents", [])) <= (tiles.EXTENT // tiles.CELL) ** 2


def test_tiles_side_by_side_never_count_an_incident_twice(client, session, town_incidents, world):
    headers = bearer(session, world.admin)
    for spot in A1_SPOTS[:3] + A2_SPOTS[:2]:
        parent = tile_of(*lonlat(spot), 13)
        _, layers = fetch(client, url(*parent), headers)
        below = sum(incident_count(fetch(client, url(*child), headers)[1]) for child in children(*parent))
        assert below == incident_count(layers), parent


def test_tiles_are_filtered_as_the_map_is(client, session, town_incidents, world):
    headers = bearer(session, world.leader1)
    tile = tile_of(*lonlat((2.5, 2.5)), 12)
    assert incident_count(fetch(client, url(*tile), headers)[1]) == 12
    assert incident_count(fetch(client, url(*tile, "overdue=true"), headers)[1]) == 2
    assert incident_count(fetch(client, url(*tile, "overdue=false"), headers)[1]) == 10
    assert incident_count(fetch(client, url(*tile, "category=0101"), headers)[1]) == 0
    assert incident_count(fetch(client, url(*tile, "status=closed"), headers)[1]) == 0
    assert incident_count(fetch(client, url(*tile, "duty=safety"), headers)[1]) == 12


def test_tiles_revalidate_and_compress(client, session, town_incidents, world):
    headers = bearer(session, world.admin)
    tile = url(*tile_of(*lonlat(A1_SPOTS[0]), 15))
    response, layers = fetch(client, tile, headers)
    etag = response.headers["ETag"]
    again = client.get(tile, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    zipped = client.get(tile, headers={**headers, "Accept-Encoding": "gzip"})
    if len(response.data) >= 1400:
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert decode(gzip.decompress(zipped.data)) == layers
    assert zipped.headers["ETag"] == etag


BAD = [("-1", "0", "0", "tile_zoom_invalid"), ("23", "0", "0", "tile_zoom_invalid"),
       ("1.5", "0", "0", "tile_zoom_invalid"), ("z", "0", "0", "tile_zoom_invalid"),
       ("99999999999", "0", "0", "tile_zoom_invalid"), (" 3", "0", "0", "tile_zoom_invalid"),
       ("3", "8", "0", "tile_out_of_range"), ("3", "0", "8", "tile_out_of_range"),
       ("3", "-1", "0", "tile_out_of_range"), ("3", "1.0", "0", "tile_out_of_range"),
       ("0", "1", "0", "tile_out_of_range"), ("22", "4194304", "0", "tile_out_of_range"),
       ("3", "0x1", "0", "tile_out_of_range"), ("3", "٣", "0", "tile_out_of_range")]


@pytest.mark.parametrize("layer", ["incidents", "grids"])
def test_bad_tile_coordinates_are_refused_with_stable_codes(client, session, world, layer):
    headers = bearer(session, world.leader1)
    for z, x, y, code in BAD:
        response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers)
        assert response.status_code == 400 and error_code(response) == code, (z, x, y, response.data[:300])
    top = 2 ** 22 - 1
    assert client.get(f"/tiles/{layer}/22/{top}/{top}.mvt", headers=headers).status_code == 200


def test_anonymous_tile_requests_are_refused_in_json(client, world):
    for layer in ("incidents", "grids"):
        response = client.get(f"/tiles/{layer}/0/0/0.mvt")
        assert response.status_code == 401 and error_code(response) == "login_required"


@pytest.mark.parametrize("query, code", [("status=gone", "status_unknown"), ("duty=chef", "duty_unknown"),
                                         ("overdue=maybe", "overdue_invalid"), ("since=yesterday", "since_invalid")])
def test_bad_filters_are_refused_with_the_maps_codes(client, session, world, query, code):
    response = client.get(url(0, 0, 0, query), headers=bearer(session, world.leader1))
    assert response.status_code == 400 and error_code(response) == code


def test_many_tiles_of_one_view_each_answer(client, session, town_incidents, world):
    """A phone's first view: every tile of the block around the town answers (empty or not)."""
    headers = bearer(session, world.leader1)
    z, x0, y0 = tile_of(*lonlat((0, 10)), 14)    # north-west corner of the town
    _, x1, y1 = tile_of(*lonlat((10, 0)), 14)    # south-east
    total = sum(incident_count(fetch(client, url(z, x, y), headers)[1])
                for x, y in itertools.product(range(x0, x1 + 1), range(y0, y1 + 1)))
    assert total == 12


def test_late_incidents_stay_apart_in_a_summary_until_there_are_too_many(client, session, town_incidents, world,
                                                                        monkeypatch):
    mine, _ = town_incidents
    late = {i.id for i in mine[:2]}
    headers = bearer(session, world.leader1)
    tile = url(*tile_of(*lonlat((5, 5)), 10))
    _, layers = fetch(client, tile, headers)
    singles = {f["id"]: f["properties"] for f in layers.get("incidents", [])}
    assert late <= set(singles) and all(singles[i]["overdue"] and singles[i]["count"] == 1 for i in late)
    assert sum(f["properties"]["overdue"] for f in layers["clusters"]) == 0
    assert incident_count(layers) == len(mine)

    monkeypatch.setattr(tiles, "MAX_HOT", 1)   # more late ones than a tile keeps apart: they are counted
    _, layers = fetch(client, tile, headers)
    assert not late & {f["id"] for f in layers.get("incidents", [])}
    assert sum(f["properties"]["overdue"] for f in layers["clusters"]) == 2
    assert incident_count(layers) == len(mine)


def test_open_tiles_use_the_open_incidents_index_even_in_a_prepared_plan(session, town_incidents, world):
    """psycopg prepares a statement it runs often, and PostgreSQL may then plan it once for any
    values (a generic plan): the partial index serves it only if "open" is written in the query."""
    from sqlalchemy import text
    from gridsys.people.access import scope_for
    raw = session.connection().connection.driver_connection
    threshold, raw.prepare_threshold = raw.prepare_threshold, 0   # prepared on first use
    session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    session.execute(text("SET LOCAL enable_seqscan = off"))      # a table of 18 rows would be read whole
    scans = text("SELECT pg_stat_get_xact_numscans('ix_incidents_geom_open'::regclass)")   # in this transaction
    try:
        before = session.scalar(scans)
        tile = tiles.Tile(*tile_of(*lonlat((2.5, 2.5)), 12))
        for _ in range(2):
            body = tiles.incidents_tile(session, scope_for(session, world.leader1),
                                        services.Filters(status="open"), tile, world.leader1)
            assert incident_count(decode(body)) == 12
        assert session.scalar(scans) >= before + 2
    finally:
        raw.prepare_threshold = threshold
