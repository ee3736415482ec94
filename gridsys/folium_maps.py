"""(Below every domain: any page may embed a map.) A folium Map that loads Leaflet from the app (/vendor, installed from npm), never a CDN,
and its embedding into a page as header, body and script."""
from __future__ import annotations

import re
from dataclasses import dataclass

import folium
from flask import current_app
from markupsafe import Markup

from .assets import static_url, vendor_url
from .basemaps import Basemap
from .headers import csp_nonce

VENDOR_JS = [("leaflet", vendor_url("leaflet/dist/leaflet.js"))]
VENDOR_CSS = [("leaflet_css", vendor_url("leaflet/dist/leaflet.css"))]
# folium's page-level rules (viewport, full-height body) belong to a standalone page, not ours.
PAGE_RULES = re.compile(r"<meta name=\"viewport\"[^>]*>|<style>\s*html, body \{[^}]*\}\s*</style>"
                        r"|<style>\s*#map \{[^}]*\}\s*</style>", re.S)


class LocalMap(folium.Map):
    """folium.Map whose scripts and styles are served by gridsys itself."""
    default_js = VENDOR_JS
    default_css = VENDOR_CSS


@dataclass
class EmbeddedMap:
    name: str      # the JavaScript variable holding the L.Map
    header: Markup
    body: Markup
    script: Markup


# L.CRS.GCJ02, defined by this script (loaded after Leaflet, before the map is made).
GCJ02_CRS = "GCJ02"
GCJ02_JS = ("gcj02", static_url("gcj02.js"))


def base_map(lat: float, lon: float, zoom: int = 14, **kwargs) -> LocalMap:
    """A map centred on (lat, lon) (WGS84, as every position given to it) with the configured
    basemap's tile layers (none when tiles are off)."""
    basemap: Basemap = current_app.config["BASEMAP"]
    # maxZoom on the map itself: clustering needs it even when there is no tile layer.
    # GCJ-02 tiles: the map draws each WGS84 position where those tiles show it (static/gcj02.js).
    m = LocalMap(location=[lat, lon], zoom_start=zoom, tiles=None, control_scale=True,
                 crs=GCJ02_CRS if basemap.transformed else "EPSG3857", maxZoom=basemap.max_zoom, **kwargs)
    if basemap.transformed:
        m.default_js = [*m.default_js, GCJ02_JS]   # a copy: the class list is shared by every map
    for source in basemap.sources:
        folium.TileLayer(tiles=source.url, attr=basemap.attribution, subdomains=source.subdomains,
                         max_zoom=basemap.max_zoom, max_native_zoom=basemap.native_zoom,
                         name="labels" if source.overlay else "tiles", overlay=source.overlay).add_to(m)
    return m


INLINE_SCRIPT = re.compile(r"<script>")


def embed(m: folium.Map) -> EmbeddedMap:
    """The map's header, body and script for a page; folium's inline scripts carry this request's
    CSP nonce (the page puts ``script`` in a ``<script nonce=…>`` of its own)."""
    root = m.get_root()
    root.render()
    header = INLINE_SCRIPT.sub(f'<script nonce="{csp_nonce()}">', PAGE_RULES.sub("", root.header.render()))
    return EmbeddedMap(name=m.get_name(), header=Markup(header), body=Markup(root.html.render()),
                       script=Markup(root.script.render()))
