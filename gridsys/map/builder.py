"""A folium Map that loads Leaflet from the app (/vendor, installed from npm), never a CDN,
and its embedding into a page as header, body and script."""
from __future__ import annotations

import re
from dataclasses import dataclass

import folium
from flask import current_app
from markupsafe import Markup

VENDOR_JS = [("leaflet", "/vendor/leaflet/dist/leaflet.js")]
VENDOR_CSS = [("leaflet_css", "/vendor/leaflet/dist/leaflet.css")]
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


def base_map(lat: float, lon: float, zoom: int = 14, **kwargs) -> LocalMap:
    """A map centred on (lat, lon) with the configured tile layer (none when the URL is empty)."""
    cfg = current_app.config
    # maxZoom on the map itself: clustering needs it even when there is no tile layer.
    m = LocalMap(location=[lat, lon], zoom_start=zoom, tiles=None, control_scale=True,
                 maxZoom=cfg["TILES_MAX_ZOOM"], **kwargs)
    if cfg.get("TILES_URL"):
        folium.TileLayer(tiles=cfg["TILES_URL"], attr=cfg["TILES_ATTRIBUTION"], max_zoom=cfg["TILES_MAX_ZOOM"],
                         name="tiles").add_to(m)
    return m


def embed(m: folium.Map) -> EmbeddedMap:
    root = m.get_root()
    root.render()
    header = PAGE_RULES.sub("", root.header.render())
    return EmbeddedMap(name=m.get_name(), header=Markup(header), body=Markup(root.html.render()),
                       script=Markup(root.script.render()))
