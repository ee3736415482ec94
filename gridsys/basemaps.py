"""The map's basemap: a preset tile service (OpenStreetMap, 天地图, Gaode, Tencent) or a custom
URL, and the datum its tiles are drawn in. Resolved and checked once by config.load; drawn by
folium_maps. Stored coordinates are WGS84 whatever the basemap: with GCJ-02 tiles only the
display is shifted (static/gcj02.js)."""
from __future__ import annotations

import re
from dataclasses import dataclass

WGS84 = "wgs84"
GCJ02 = "gcj02"   # the offset datum of Gaode (AMap) and Tencent tiles
PRESETS = ("osm", "tianditu", "gaode", "tencent", "custom")
DEFAULT_MAX_ZOOM = 19
ZOOM_RANGE = range(1, 23)
OSM_ATTRIBUTION = "&copy; OpenStreetMap contributors"

LETTERS_DIGITS = re.compile(r"[A-Za-z0-9]+")


def tianditu_url(layer: str, key: str) -> str:
    """A 天地图 WMTS layer (vec: streets, cva: their Chinese labels) in the Web Mercator tile matrix
    set "w"; CGCS2000 is within a metre of WGS84. Servers t0-t7."""
    return (f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
            f"&TILECOL={{x}}&tk={key}")


class BasemapError(ValueError):
    """A tile setting that cannot work; the message names the variable to set."""


@dataclass(frozen=True)
class TileSource:
    url: str                 # Leaflet URL template
    subdomains: str = "abc"  # what {s} stands for, one character each
    overlay: bool = False    # drawn over the base layer (labels of 天地图)


@dataclass(frozen=True)
class Preset:
    sources: tuple[TileSource, ...]
    attribution: str
    native_zoom: int         # the service has tiles up to here; Leaflet enlarges them beyond
    crs: str


PRESET_TILES = {
    "osm": Preset((TileSource("https://tile.openstreetmap.org/{z}/{x}/{y}.png"),), OSM_ATTRIBUTION, 19, WGS84),
    # The key is filled in by resolve().
    "tianditu": Preset(
        (TileSource(tianditu_url("vec", "{key}"), "01234567"),
         TileSource(tianditu_url("cva", "{key}"), "01234567", overlay=True)),
        '&copy; <a href="https://www.tianditu.gov.cn/">天地图</a>', 18, WGS84),
    "gaode": Preset(
        (TileSource("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
                    "&x={x}&y={y}&z={z}", "1234"),),
        "&copy; 高德地图 AutoNavi", 18, GCJ02),
    # Tencent numbers tile rows from the south (TMS): Leaflet's {-y}.
    "tencent": Preset(
        (TileSource("https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={-y}&styleid=1&version=297", "0123"),),
        "&copy; 腾讯地图 Tencent", 18, GCJ02),
}


@dataclass(frozen=True)
class Basemap:
    preset: str
    sources: tuple[TileSource, ...]   # empty: no tiles, vector layers only
    attribution: str
    max_zoom: int
    native_zoom: int
    crs: str                          # the datum the tiles are drawn in

    @property
    def transformed(self) -> bool:
        """Is the display shifted into GCJ-02 so the data lines up with the tiles?"""
        return self.crs == GCJ02 and bool(self.sources)


def resolve(cfg: dict) -> Basemap:
    """The basemap the TILES* settings describe. Raises BasemapError naming what to set."""
    url = cfg.get("TILES_URL")
    preset = _choice("GRIDSYS_TILES", cfg.get("TILES") or ("custom" if url is not None else "osm"), PRESETS)
    max_zoom = _zoom(cfg.get("TILES_MAX_ZOOM"))
    attribution = cfg.get("TILES_ATTRIBUTION")
    if attribution is not None and not str(attribution).strip():
        raise BasemapError("GRIDSYS_TILES_ATTRIBUTION must not be empty: tile services require their credit "
                           "on the map (leave it unset for the preset's)")
    crs = cfg.get("TILES_CRS")
    crs = None if crs is None else _choice("GRIDSYS_TILES_CRS", crs, (WGS84, GCJ02))

    if url == "":   # tiles switched off, whatever the preset: nothing to line up with
        max_zoom = max_zoom or DEFAULT_MAX_ZOOM
        return Basemap(preset, (), attribution or "", max_zoom, max_zoom, WGS84)
    if preset == "custom":
        return _custom(cfg, url, attribution, max_zoom, crs)

    for key, env in (("TILES_URL", "GRIDSYS_TILES_URL"), ("TILES_OVERLAY_URL", "GRIDSYS_TILES_OVERLAY_URL"),
                     ("TILES_SUBDOMAINS", "GRIDSYS_TILES_SUBDOMAINS")):
        if cfg.get(key):
            raise BasemapError(f"{env} is for GRIDSYS_TILES=custom; the {preset} preset has its own "
                               f"(unset {env}, or set GRIDSYS_TILES=custom)")
    tiles = PRESET_TILES[preset]
    if crs is not None and crs != tiles.crs:
        raise BasemapError(f"GRIDSYS_TILES_CRS={crs} contradicts the {preset} preset, whose tiles are drawn in "
                           f"{tiles.crs}: unset GRIDSYS_TILES_CRS (it is for GRIDSYS_TILES=custom)")
    sources = tiles.sources
    if preset == "tianditu":
        key = _tianditu_key(cfg.get("TIANDITU_KEY"))
        sources = tuple(TileSource(s.url.replace("{key}", key), s.subdomains, s.overlay) for s in sources)
    max_zoom = max_zoom or DEFAULT_MAX_ZOOM
    return Basemap(preset, sources, attribution or tiles.attribution, max_zoom, min(tiles.native_zoom, max_zoom),
                   tiles.crs)


def _custom(cfg: dict, url, attribution, max_zoom, crs) -> Basemap:
    if url is None:
        raise BasemapError("GRIDSYS_TILES=custom needs GRIDSYS_TILES_URL: a tile URL template with {z}, {x} "
                           "and {y}, e.g. http://tiles.town.lan/{z}/{x}/{y}.png (empty: no tiles)")
    subdomains = str(cfg.get("TILES_SUBDOMAINS") or "abc")
    if not LETTERS_DIGITS.fullmatch(subdomains):
        raise BasemapError(f"GRIDSYS_TILES_SUBDOMAINS must be letters or digits, one per server "
                           f"(e.g. 01234567), not {subdomains!r}")
    overlay = cfg.get("TILES_OVERLAY_URL")
    sources = [TileSource(_template("GRIDSYS_TILES_URL", url), subdomains)]
    if overlay:
        sources.append(TileSource(_template("GRIDSYS_TILES_OVERLAY_URL", overlay), subdomains, overlay=True))
    max_zoom = max_zoom or DEFAULT_MAX_ZOOM
    return Basemap("custom", tuple(sources), attribution or OSM_ATTRIBUTION, max_zoom, max_zoom, crs or WGS84)


def _choice(env: str, value, allowed: tuple[str, ...]) -> str:
    chosen = str(value).strip().lower()
    if chosen not in allowed:
        raise BasemapError(f"{env} must be one of {', '.join(allowed)}, not {value!r}")
    return chosen


def _zoom(value) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,2}", text) or int(text) not in ZOOM_RANGE:
        raise BasemapError(f"GRIDSYS_TILES_MAX_ZOOM must be a whole number from {ZOOM_RANGE.start} to "
                           f"{ZOOM_RANGE.stop - 1}, not {value!r}")
    return int(text)


def _template(env: str, url) -> str:
    url = str(url).strip()
    if not url.startswith(("https://", "http://", "//", "/")):
        raise BasemapError(f"{env} must be an http(s) address or a path on this server, not {url!r}")
    missing = [p for p in ("{z}", "{x}") if p not in url] + ([] if "{y}" in url or "{-y}" in url else ["{y}"])
    if missing:
        raise BasemapError(f"{env} must be a tile URL template with {{z}}, {{x}} and {{y}} (or {{-y}} for "
                           f"rows counted from the south); {', '.join(missing)} missing in {url!r}")
    return url


def _tianditu_key(key) -> str:
    if not key:
        raise BasemapError("GRIDSYS_TILES=tianditu needs a key: set GRIDSYS_TIANDITU_KEY to the key (tk) of a "
                           "天地图 browser application (https://console.tianditu.gov.cn/api/key)")
    key = str(key).strip()
    if not LETTERS_DIGITS.fullmatch(key):
        raise BasemapError(f"GRIDSYS_TIANDITU_KEY must be letters and digits (the tk of 天地图), not {key!r}")
    return key
