"""Basemaps: the tile presets (OpenStreetMap, 天地图, Gaode, Tencent) and custom tiles, as the
environment configures them and as the map pages draw them; a setting that cannot work is
refused at start with what to set."""
from __future__ import annotations

import json
import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from gridsys import create_app
from gridsys.config import ConfigError, load
from tests.factories import login_as, make_user

KEY = "0123456789abcdef0123456789abcdef"
REQUIRED = {"DATABASE_URL": "postgresql://gridsys@127.0.0.1:1/none", "SECRET_KEY": "test-secret"}
TILE_HOSTS = re.compile(r"tile\.openstreetmap|tianditu|autonavi|gtimg|tiles\.town\.lan")


@pytest.fixture(autouse=True)
def tile_environment(monkeypatch):
    """Only what a test sets: a developer's own GRIDSYS_TILES* must not decide the outcome."""
    for name in list(os.environ):
        if name.startswith("GRIDSYS_TILES") or name == "GRIDSYS_TIANDITU_KEY":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def configured(tile_environment):
    """configured(**env) -> the basemap the app would start with under these variables."""
    def resolve(**env):
        for name, value in env.items():
            tile_environment.setenv(name, value)
        return load(dict(REQUIRED))["BASEMAP"]
    return resolve


# --- configuration ---------------------------------------------------------------------------

def test_openstreetmap_by_default(configured):
    basemap = configured()
    assert basemap.preset == "osm" and basemap.crs == "wgs84" and not basemap.transformed
    assert [s.url for s in basemap.sources] == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    assert basemap.attribution == "&copy; OpenStreetMap contributors"
    assert basemap.max_zoom == basemap.native_zoom == 19


def test_a_tile_url_alone_still_means_custom_tiles(configured):
    basemap = configured(GRIDSYS_TILES_URL="http://tiles.town.lan/{z}/{x}/{y}.png",
                         GRIDSYS_TILES_ATTRIBUTION="&copy; 区规划和自然资源局", GRIDSYS_TILES_MAX_ZOOM="17")
    assert basemap.preset == "custom" and basemap.crs == "wgs84"
    assert [s.url for s in basemap.sources] == ["http://tiles.town.lan/{z}/{x}/{y}.png"]
    assert basemap.attribution == "&copy; 区规划和自然资源局"
    assert basemap.max_zoom == basemap.native_zoom == 17


@pytest.mark.parametrize("env", [{"GRIDSYS_TILES_URL": ""},
                                 {"GRIDSYS_TILES": "tianditu", "GRIDSYS_TILES_URL": ""},
                                 {"GRIDSYS_TILES": "gaode", "GRIDSYS_TILES_URL": ""}])
def test_an_empty_tile_url_switches_tiles_off_whatever_the_preset(configured, env):
    basemap = configured(**env)
    assert basemap.sources == ()
    assert not basemap.transformed, "no tiles, nothing to line up with: positions drawn as they are"


def test_tianditu_streets_and_their_labels_with_the_key(configured):
    basemap = configured(GRIDSYS_TILES="tianditu", GRIDSYS_TIANDITU_KEY=KEY)
    assert basemap.crs == "wgs84" and not basemap.transformed, "CGCS2000 is within a metre of WGS84"
    base, labels = basemap.sources
    assert (base.overlay, labels.overlay) == (False, True)
    for source, layer in ((base, "vec"), (labels, "cva")):
        url = urlsplit(source.url)
        assert (url.scheme, url.netloc, url.path) == ("https", "t{s}.tianditu.gov.cn", f"/{layer}_w/wmts")
        assert {k: v for k, (v,) in parse_qs(url.query).items()} == {
            "SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": layer, "STYLE": "default",
            "TILEMATRIXSET": "w", "FORMAT": "tiles", "TILEMATRIX": "{z}", "TILEROW": "{y}", "TILECOL": "{x}",
            "tk": KEY}
        assert source.subdomains == "01234567"
    assert "天地图" in basemap.attribution
    assert (basemap.max_zoom, basemap.native_zoom) == (19, 18), "tiles to 18, enlarged beyond"


@pytest.mark.parametrize("preset, host, subdomains, rows", [
    ("gaode", "webrd0{s}.is.autonavi.com", "1234", "y={y}"),
    ("tencent", "rt{s}.map.gtimg.com", "0123", "y={-y}"),   # rows counted from the south (TMS)
])
def test_gaode_and_tencent_tiles_are_gcj02(configured, preset, host, subdomains, rows):
    basemap = configured(GRIDSYS_TILES=preset.upper())
    assert basemap.preset == preset and basemap.crs == "gcj02" and basemap.transformed
    (source,) = basemap.sources
    url = urlsplit(source.url)
    assert (url.scheme, url.netloc) == ("https", host)
    assert rows in url.query.split("&") and "x={x}" in url.query and "z={z}" in url.query
    assert source.subdomains == subdomains


def test_custom_tiles_in_gcj02_with_a_label_overlay(configured):
    basemap = configured(GRIDSYS_TILES="custom", GRIDSYS_TILES_URL="https://tiles.town.lan/base/{z}/{x}/{y}.png",
                         GRIDSYS_TILES_OVERLAY_URL="https://t{s}.tiles.town.lan/labels/{z}/{x}/{-y}.png",
                         GRIDSYS_TILES_SUBDOMAINS="0123", GRIDSYS_TILES_CRS="GCJ02")
    assert basemap.transformed
    assert [(s.url.split("/")[3], s.overlay, s.subdomains) for s in basemap.sources] == \
        [("base", False, "0123"), ("labels", True, "0123")]


@pytest.mark.parametrize("env, says", [
    ({"GRIDSYS_TILES": "google"}, "GRIDSYS_TILES must be one of osm, tianditu, gaode, tencent, custom"),
    ({"GRIDSYS_TILES": "tianditu"}, "set GRIDSYS_TIANDITU_KEY"),
    ({"GRIDSYS_TILES": "tianditu", "GRIDSYS_TIANDITU_KEY": "abc&tk=other"}, "GRIDSYS_TIANDITU_KEY must be letters"),
    ({"GRIDSYS_TILES_CRS": "bd09"}, "GRIDSYS_TILES_CRS must be one of wgs84, gcj02"),
    ({"GRIDSYS_TILES": "gaode", "GRIDSYS_TILES_CRS": "wgs84"}, "unset GRIDSYS_TILES_CRS"),
    ({"GRIDSYS_TILES": "tencent", "GRIDSYS_TILES_URL": "https://x.example/{z}/{x}/{y}.png"},
     "GRIDSYS_TILES_URL is for GRIDSYS_TILES=custom"),
    ({"GRIDSYS_TILES_OVERLAY_URL": "https://x.example/{z}/{x}/{y}.png"},
     "GRIDSYS_TILES_OVERLAY_URL is for GRIDSYS_TILES=custom"),
    ({"GRIDSYS_TILES": "custom"}, "GRIDSYS_TILES=custom needs GRIDSYS_TILES_URL"),
    ({"GRIDSYS_TILES_URL": "https://x.example/tiles.png"}, "{z}, {x}, {y} missing"),
    ({"GRIDSYS_TILES_URL": "ftp://x.example/{z}/{x}/{y}.png"}, "GRIDSYS_TILES_URL must be an http(s) address"),
    ({"GRIDSYS_TILES_URL": "https://x.example/{z}/{x}/{y}.png", "GRIDSYS_TILES_SUBDOMAINS": "a,b"},
     "GRIDSYS_TILES_SUBDOMAINS must be letters or digits"),
    ({"GRIDSYS_TILES_MAX_ZOOM": "abc"}, "GRIDSYS_TILES_MAX_ZOOM must be a whole number from 1 to 22"),
    ({"GRIDSYS_TILES_MAX_ZOOM": "30"}, "GRIDSYS_TILES_MAX_ZOOM must be a whole number from 1 to 22"),
    ({"GRIDSYS_TILES_MAX_ZOOM": "0"}, "GRIDSYS_TILES_MAX_ZOOM must be a whole number from 1 to 22"),
    ({"GRIDSYS_TILES_ATTRIBUTION": "  "}, "GRIDSYS_TILES_ATTRIBUTION must not be empty"),
])
def test_settings_that_cannot_work_are_refused_with_what_to_set(configured, env, says):
    with pytest.raises(ConfigError) as refused:
        configured(**env)
    assert says in str(refused.value)


def test_tianditu_without_a_key_stops_the_app_at_start(tile_environment):
    tile_environment.setenv("GRIDSYS_TILES", "tianditu")
    with pytest.raises(ConfigError, match="GRIDSYS_TIANDITU_KEY"):
        create_app(dict(REQUIRED))


# --- the pages -------------------------------------------------------------------------------

@pytest.fixture
def map_pages(database_url, session):
    """map_pages(**config) -> {path: html} of the map pages (administrator's map, report page,
    an incident page) served by an app with that configuration."""
    admin = make_user(session, "basemap-admin", roles=["admin", "grid_worker"])
    session.commit()

    def pages(**config):
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                          "SESSION_FACTORY": lambda: session, "WEBHOOKS_IN_BACKGROUND": False, **config})
        client = login_as(app.test_client(), admin)
        found = {}
        for path in ("/map", "/report"):
            response = client.get(path)
            assert response.status_code == 200, path
            found[path] = response.get_data(as_text=True)
        return found
    return pages


def tile_layers(html: str) -> list[tuple[str, dict]]:
    """(URL template, options) of every L.tileLayer folium wrote into the page."""
    found = []
    for url, options in re.findall(r"L\.tileLayer\(\s*(\"(?:[^\"\\]|\\.)*\"),\s*(\{.*?\})\s*\);", html, re.S):
        found.append((json.loads(url), json.loads(re.sub(r",\s*}", "}", options))))
    return found


def map_crs(html: str) -> str:
    (crs,) = re.findall(r"crs: L\.CRS\.(\w+),", html)
    return crs


def scripts(html: str) -> list[str]:
    """The paths of the scripts a page loads, in order (without their ?v= version)."""
    return [src.split("?")[0] for src in re.findall(r'<script src="([^"]+)"', html)]


def test_openstreetmap_pages(map_pages):
    for path, html in map_pages().items():
        assert tile_layers(html) == [("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
            "attribution": "&copy; OpenStreetMap contributors", "maxZoom": 19, "maxNativeZoom": 19,
            "minZoom": 0, "noWrap": False, "subdomains": "abc", "detectRetina": False, "tms": False,
            "opacity": 1})], path
        assert map_crs(html) == "EPSG3857", path
        assert "/static/gcj02.js" not in scripts(html), path


def test_tianditu_pages_draw_streets_then_labels(map_pages):
    for path, html in map_pages(TILES="tianditu", TIANDITU_KEY=KEY).items():
        layers = tile_layers(html)
        assert [parse_qs(urlsplit(url).query)["LAYER"] for url, _ in layers] == [["vec"], ["cva"]], path
        assert all(f"tk={KEY}" in url for url, _ in layers)
        assert {(o["subdomains"], o["maxNativeZoom"], o["maxZoom"]) for _, o in layers} == {("01234567", 18, 19)}
        assert all("天地图" in o["attribution"] for _, o in layers)
        assert map_crs(html) == "EPSG3857", path
        assert "/static/gcj02.js" not in scripts(html), path


@pytest.mark.parametrize("preset, host, subdomains, attribution", [
    ("gaode", "https://webrd0{s}.is.autonavi.com/", "1234", "高德地图"),
    ("tencent", "https://rt{s}.map.gtimg.com/", "0123", "腾讯地图"),
])
def test_gcj02_pages_load_the_transform_before_the_map(map_pages, preset, host, subdomains, attribution):
    for path, html in map_pages(TILES=preset).items():
        ((url, options),) = tile_layers(html)
        assert url.startswith(host) and options["subdomains"] == subdomains, path
        assert attribution in options["attribution"]
        assert map_crs(html) == "GCJ02", path
        loaded = scripts(html)
        assert "/static/gcj02.js" in loaded, path
        leaflet = next(i for i, s in enumerate(loaded) if "/leaflet.js" in s)
        assert leaflet < loaded.index("/static/gcj02.js"), "L.CRS.GCJ02 extends Leaflet"
        assert html.index('src="/static/gcj02.js') < html.index("crs: L.CRS.GCJ02"), "defined before the map is made"
        assert re.search(r'src="/static/gcj02\.js\?v=[0-9a-f]{10}"', html), "versioned, cached like the others"


@pytest.mark.parametrize("config", [{"TILES_URL": ""},
                                    {"TILES": "tianditu", "TIANDITU_KEY": KEY, "TILES_URL": ""},
                                    {"TILES": "gaode", "TILES_URL": ""}])
def test_no_tile_address_in_pages_when_tiles_are_off(map_pages, config):
    for path, html in map_pages(**config).items():
        assert tile_layers(html) == [] and "L.tileLayer" not in html, path
        assert not TILE_HOSTS.search(html), path
        assert KEY not in html, "the 天地图 key stays on the server when no tile asks for it"
        assert map_crs(html) == "EPSG3857", "no tiles: positions drawn as they are"
        assert "/static/gcj02.js" not in scripts(html), path
