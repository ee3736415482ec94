"""A GCJ-02 basemap (Gaode) in headless Chromium: every WGS84 position is drawn where the Gaode
tiles show that place, 300-600 m from where plain Web Mercator would put it; a tap on the map
and a grid drawn in the boundary editor give back WGS84 positions. The app of these tests serves
the Gaode preset; its tile requests leave 127.0.0.1, so they are recorded and aborted (positions,
not pictures, are checked).

Reference figures are published ones, not this code's: WGS84 (119.3122312, 26.0240049) in Fuzhou
is GCJ-02 (119.31705425869873, 26.02096344048847) (the test of the npm package wgs2mars)."""
from __future__ import annotations

import math
import re

import pytest

from gridsys import geo

from .helpers import PageLog, idle, page_opener, served

pytestmark = pytest.mark.browser

WGS = (119.3122312, 26.0240049)
GCJ = (119.31705425869873, 26.02096344048847)
ZOOM = 19
TILE_ZOOM = 18     # Gaode's tiles stop there; Leaflet enlarges them at 19
GAODE_TILE = re.compile(r"https://webrd0[1-4]\.is\.autonavi\.com/appmaptile\?lang=zh_cn&size=1&scale=1&style=8"
                        r"&x=(\d+)&y=(\d+)&z=(\d+)$")
REPORT_MAP = "window[document.getElementById('report-map').dataset.map]"
LEADER_MAP = "window.gridsysMap.map"

# Where a map draws (lon, lat), and where plain Web Mercator would draw a GCJ-02 (lon, lat) on
# the same screen: that is where the Gaode tiles show it (their grid is Web Mercator of GCJ-02).
# Page coordinates, CSS pixels.
SCREEN = """([expr, lon, lat, plain]) => {
    const m = eval(expr), r = m.getContainer().getBoundingClientRect();
    const c = plain
        ? m.layerPointToContainerPoint(L.CRS.EPSG3857.latLngToPoint(L.latLng(lat, lon), m.getZoom())
                                       .subtract(m.getPixelOrigin()))
        : m.latLngToContainerPoint([lat, lon]);
    return [r.left + c.x, r.top + c.y];
}"""


@pytest.fixture(scope="module")
def gaode_server(browser_db):
    """The browser tests' data served with the Gaode preset (GCJ-02 tiles)."""
    with served(browser_db, TILES="gaode", TILES_URL=None) as server:
        yield server.url


@pytest.fixture
def gaode_page(browser, gaode_server):
    """gaode_page(user, viewport="phone") -> (page, log): a context logged in on the Gaode app."""
    with page_opener(browser, gaode_server) as opener:
        yield lambda user, viewport="phone": opener(viewport, user)


# Set the view and see it stay: a page may still be fitting the view to the grids it fetched
# (an animated zoom starts a frame after it is asked for). Two calm looks in a row.
SHOW = """([expr, lat, lon, zoom]) => {
    const m = eval(expr);
    if (!m._animatingZoom && m.getZoom() === zoom && m.getCenter().distanceTo([lat, lon]) < 0.01) {
        window.__calm = (window.__calm || 0) + 1;
        return window.__calm >= 2;
    }
    window.__calm = 0;
    if (!m._animatingZoom) { m.setView([lat, lon], zoom, {animate: false}); }
    return false;
}"""


def show(page, map_expr: str, lon: float, lat: float, zoom: int) -> None:
    page.wait_for_function(SHOW, arg=[map_expr, lat, lon, zoom], polling=100)


def assert_only_tiles_left(log: PageLog) -> None:
    """Nothing went wrong but the Gaode tiles the test aborted."""
    assert log.page_errors == []
    assert [e for e in log.console_errors if "Failed to load resource" not in e] == []
    assert log.external and all(GAODE_TILE.match(url) for url in log.external), log.external[:5]


def ground_metres(a, b, lat: float, zoom: int) -> float:
    """Page pixels between a and b as metres on the ground (Web Mercator scale at lat)."""
    per_pixel = 2 * math.pi * 6378137 * math.cos(math.radians(lat)) / (256 * 2 ** zoom)
    return math.dist(a, b) * per_pixel


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """The Web Mercator tile (x, y) holding (lon, lat)."""
    n = 2 ** zoom
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def test_positions_are_drawn_where_the_gcj02_tiles_show_them(gaode_page):
    page, log = gaode_page("leader01")
    page.wait_for_selector('#map-box[data-ready="1"]', state="attached")
    assert page.evaluate(f"{LEADER_MAP}.options.crs === L.CRS.GCJ02")
    show(page, LEADER_MAP, *WGS, ZOOM)

    drawn = page.evaluate(SCREEN, [LEADER_MAP, *WGS, False])
    on_the_tiles = page.evaluate(SCREEN, [LEADER_MAP, *GCJ, True])
    as_if_wgs84 = page.evaluate(SCREEN, [LEADER_MAP, *WGS, True])
    assert math.dist(drawn, on_the_tiles) < 0.5, "drawn on the spot the Gaode tiles show"
    shift = ground_metres(drawn, as_if_wgs84, WGS[1], ZOOM)
    assert 300 < shift < 600, f"GCJ-02 moves it {shift:.0f} m from plain Web Mercator"

    # The tiles asked for are the ones around the GCJ-02 position (the WGS84 one is ~4 tiles off).
    wanted = tile_of(*GCJ, TILE_ZOOM)
    assert wanted != tile_of(*WGS, TILE_ZOOM)
    page.wait_for_function("""([x, y, z]) => [...document.querySelectorAll('#map-box img.leaflet-tile')]
        .some(img => img.src.endsWith(`&x=${x}&y=${y}&z=${z}`))""", arg=[*wanted, TILE_ZOOM])
    idle(page, log)
    assert_only_tiles_left(log)


def test_a_tap_gives_the_wgs84_position_back(gaode_page):
    page, log = gaode_page("w0101a")   # lands on the report page; the phone shares no position
    page.wait_for_function(f"{REPORT_MAP} && {REPORT_MAP}.options.crs === L.CRS.GCJ02")
    # The worker's grids drawn (and the view fitted to them) first.
    page.wait_for_function(f"Object.values({REPORT_MAP}._layers).some(l => l instanceof L.GeoJSON)")
    idle(page, log)
    show(page, REPORT_MAP, *WGS, ZOOM)

    # Tap where the Gaode tiles show the place: the form gets its WGS84 position.
    page.touchscreen.tap(*page.evaluate(SCREEN, [REPORT_MAP, *GCJ, True]))
    page.wait_for_function("document.getElementById('lat').value !== ''")
    lon, lat = float(page.input_value("#lon")), float(page.input_value("#lat"))
    metres = page.evaluate("([a, b]) => L.latLng(a).distanceTo(L.latLng(b))", [[lat, lon], [WGS[1], WGS[0]]])
    assert metres < 1, f"the tap came back {metres:.2f} m from the place"
    idle(page, log)
    assert_only_tiles_left(log)


def test_a_grid_drawn_on_the_gcj02_tiles_is_sent_in_wgs84(gaode_page):
    page, log = gaode_page("admin", "laptop")
    page.goto("/map")
    page.wait_for_selector('#map-box[data-ready="1"]', state="attached")
    show(page, LEADER_MAP, *WGS, ZOOM)   # away from every grid: nothing to snap to
    page.click("[data-act=create]")
    page.evaluate("document.getElementById('map-box').scrollIntoView({block: 'center'})")
    corners = [WGS, (WGS[0] + 0.0004, WGS[1]), (WGS[0] + 0.0002, WGS[1] + 0.0003)]
    # Click each corner where the Gaode tiles show it (geo.py's GCJ-02), then the first to close.
    for lon, lat in [*corners, corners[0]]:
        page.mouse.click(*page.evaluate(SCREEN, [LEADER_MAP, *geo.wgs84_to_gcj02(lon, lat), True]))
        page.wait_for_timeout(50)
    page.wait_for_function("window.gridsysEditor.drawn !== null")
    ring = page.evaluate("window.gridsysEditor.drawn.toGeoJSON(false).geometry.coordinates[0]")
    assert len(ring) == 4 and ring[0] == ring[-1]
    for (lon, lat), (x, y) in zip(corners, ring):
        metres = page.evaluate("([a, b]) => L.latLng(a).distanceTo(L.latLng(b))", [[lat, lon], [y, x]])
        assert metres < 1, f"corner ({lon}, {lat}) drawn {metres:.2f} m off"
    idle(page, log)
    assert_only_tiles_left(log)


# Across China (Urumqi, Harbin, Sanya, Lhasa, Shanghai, the demo town) and one place outside it.
PLACES = [(87.6168, 43.8256), (126.6425, 45.7560), (109.5120, 18.2528), (91.1322, 29.6604),
          (121.4737, 31.2304), (106.3185, 29.6295)]


def test_wgs84_to_gcj02_and_back_within_a_millimetre_as_on_the_server(gaode_page):
    page, log = gaode_page("leader01")
    page.wait_for_selector('#map-box[data-ready="1"]', state="attached")
    found = page.evaluate("""([places, map]) => places.map(([lon, lat]) => {
        const g = GridsysGCJ02.fromWgs84(lon, lat), w = GridsysGCJ02.toWgs84(g[0], g[1]);
        const m = eval(map), z = 18, through = m.unproject(m.project([lat, lon], z), z);
        return {shift: L.latLng(lat, lon).distanceTo(L.latLng(g[1], g[0])),
                back: L.latLng(lat, lon).distanceTo(L.latLng(w[1], w[0])),
                map: L.latLng(lat, lon).distanceTo(through)};
    })""", [PLACES, LEADER_MAP])
    for (lon, lat), f in zip(PLACES, found):
        assert 100 < f["shift"] < 1000, f"({lon}, {lat}) moves {f['shift']:.0f} m"
        assert f["back"] < 0.001, f"({lon}, {lat}) comes back {f['back']} m off"
        assert f["map"] < 1, f"({lon}, {lat}) through the map's projection comes back {f['map']} m off"
    # The browser and the server (geo.py, which converts positions sent in GCJ-02) agree.
    both = page.evaluate("""places => places.map(([lon, lat]) => {
        const g = GridsysGCJ02.fromWgs84(lon, lat); return [g, GridsysGCJ02.toWgs84(g[0], g[1])]; })""", PLACES)
    for (lon, lat), (gcj, back) in zip(PLACES, both):
        assert gcj == pytest.approx(geo.wgs84_to_gcj02(lon, lat), abs=1e-9)
        assert back == pytest.approx(geo.gcj02_to_wgs84(*gcj), abs=1e-9)
    # The published figure, and nothing moves outside China.
    assert page.evaluate(f"GridsysGCJ02.fromWgs84({WGS[0]}, {WGS[1]})") == pytest.approx(list(GCJ), abs=1e-9)
    assert page.evaluate("GridsysGCJ02.fromWgs84(2.3522, 48.8566)") == [2.3522, 48.8566]
    assert page.evaluate("GridsysGCJ02.toWgs84(2.3522, 48.8566)") == [2.3522, 48.8566]
