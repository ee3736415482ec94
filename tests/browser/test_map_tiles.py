"""The map drawn from vector tiles in headless Chromium at a phone's 390×844: markers and the
server's clusters come from /tiles/incidents (scoped), the page says when it summarises, a tap on
a cluster zooms in, popups keep data as text; a scope with many grids gets zone tiles, and the
grids of the view as GeoJSON only once the view holds few."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from gridsys.map import views as map_views

from .helpers import SPOTS, open_codes_in_areas, settle, wait_for_map

pytestmark = pytest.mark.browser

AREA1 = "500106110001"
TILE = re.compile(r"/tiles/incidents/(\d+)/(\d+)/(\d+)\.mvt\?")
DRAWN = """() => {
    const m = window.gridsysMap;
    const summaries = [...document.querySelectorAll('#map-box .gs-summary')];
    return {summaries: summaries.length,
            inSummaries: summaries.reduce((n, s) => n + Number(s.textContent), 0),
            singles: m.cluster.getLayers().length + m.hot.getLayers().length,
            ids: [...m.cluster.getLayers(), ...m.hot.getLayers()].map(l => l.feature.id),
            zoom: m.map.getZoom()};
}"""


def zoom_to(page, log, lon, lat, zoom):
    page.evaluate("([lat, lon, z]) => window.gridsysMap.map.setView([lat, lon], z, {animate: false})", [lat, lon, zoom])
    settle(page, log)
    page.wait_for_timeout(50)   # markers are drawn in the frame after the last tile


def test_leader_map_draws_markers_and_clusters_from_tiles(open_page, db):
    page, log = open_page("phone", "leader01")
    wait_for_map(page, log)
    tiles = [url for _, url in log.requests if TILE.search(url)]
    assert tiles, "the incidents come from vector tiles"
    assert all("status=open" in url for url in tiles)
    mine = open_codes_in_areas(db, [AREA1])
    ids = {i for (i,) in db.execute(text("SELECT i.id FROM incidents i JOIN areas a ON a.id = i.area_id "
                                         "WHERE a.code = :a AND i.status IN ('reported','assigned','in_progress',"
                                         "'reopened')"), {"a": AREA1})}
    assert len(ids) == len(mine)

    # Zoomed out over the town: ordinary incidents are summarised by the server, the late ones stay
    # apart, and what is drawn adds up to the leader's open incidents, none of another area's.
    lon, lat = SPOTS["g1_a"][0]
    zoom_to(page, log, lon, lat, 11)
    drawn = page.evaluate(DRAWN)
    assert drawn["zoom"] == 11 and drawn["summaries"] >= 1
    assert drawn["inSummaries"] + drawn["singles"] == len(mine)
    assert set(drawn["ids"]) <= ids, "a marker of another area's incident"
    note = page.locator("#map-note")
    assert note.is_visible() and "已按区域汇总" in note.inner_text()
    assert str(len(mine)) in note.inner_text()

    # A click on a cluster zooms in (in this small town the late markers stand over it at zoom 11).
    page.locator("#map-box .gs-summary").first.dispatch_event("click")
    page.wait_for_function("window.gridsysMap.map.getZoom() > 11")
    settle(page, log)

    # Close in, each incident is a marker of its own with a popup built as text.
    zoom_to(page, log, *SPOTS["g1_a"][0], 17)
    assert page.evaluate(DRAWN)["summaries"] == 0
    assert not page.locator("#map-note").is_visible()
    page.evaluate("document.getElementById('map-box').scrollIntoView({block: 'center'})")
    spot = page.evaluate("""() => [...document.querySelectorAll('#map-box .inc-marker')].map(s => {
        const r = s.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
        const e = document.elementFromPoint(x, y);
        return e && e.closest('.inc-marker') === s ? [x, y] : null; }).find(Boolean)""")
    assert spot, "no marker in sight"
    page.touchscreen.tap(*spot)
    popup = page.locator(".leaflet-popup .gs-popup")
    popup.wait_for()
    link = popup.locator("a").get_attribute("href")
    incident_id = int(link.rsplit("/", 1)[1])
    code, status, category = db.execute(text("SELECT i.code, i.status, c.name_zh FROM incidents i JOIN categories c "
                                             "ON c.code = i.category_code WHERE i.id = :i"), {"i": incident_id}).one()
    shown = popup.inner_text()
    assert code in shown and category in shown and "办理时限" in shown
    assert {"assigned": "已派遣", "reported": "已上报"}.get(status, "") in shown
    assert popup.locator("img, script").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    log.assert_clean()


def test_a_scope_of_many_grids_gets_zone_tiles_and_detail_only_close_in(open_page, db, monkeypatch):
    monkeypatch.setattr(map_views, "GRID_DETAIL_LIMIT", 3)   # the demo town's 31 grids count as many
    page, log = open_page("phone", "admin")
    page.goto("/map")
    wait_for_map(page, log)
    page.wait_for_function("document.querySelectorAll('.leaflet-gsZones-pane svg path').length > 0")
    assert any("/tiles/grids/" in url for _, url in log.requests)
    assert not any("/api/v1/map/grids.geojson" in url for _, url in log.requests), \
        "the view holds more grids than the limit: no GeoJSON of them"
    assert page.locator(".leaflet-overlay-pane path[stroke='#1d4ed8']").count() == 0

    # Close in on one grid: the grids of the view come as GeoJSON (by bbox), with their tooltips.
    lon, lat = db.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                               "WHERE code = '500106110001002') s")).one()
    with page.expect_response(re.compile(r"/api/v1/map/grids\.geojson\?.*bbox=")):
        page.evaluate("([lat, lon]) => window.gridsysMap.map.setView([lat, lon], 18, {animate: false})", [lat, lon])
    page.wait_for_function("window.gridsysMap.grids.getLayers().length > 0")
    assert 0 < page.evaluate("window.gridsysMap.grids.getLayers().length") <= 3
    settle(page, log)
    log.assert_clean()
