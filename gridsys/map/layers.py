"""folium elements for gridsys maps: live layers fed by GeoJSON endpoints (scoped, bounded,
refreshed), so the page's HTML stays small however many incidents there are."""
from __future__ import annotations

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from ..assets import static_url, vendor_url


class LiveLayers(JSCSSMixin, MacroElement):
    """Zones and incidents drawn by static/map.js from the app's vector tiles (/tiles/…) and, where
    the view holds few, its GeoJSON API.

    ``options`` (JSON) carries the endpoints, the viewer's mode (leader/worker/admin), the
    category names and the UI words; nothing user-written is put into the page by this element.
    """

    default_js = [("markercluster", vendor_url("leaflet.markercluster/dist/leaflet.markercluster.js")),
                  ("vectorgrid", vendor_url("leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js")),
                  ("gridsys_map_tiles", static_url("map_tiles.js")),
                  ("gridsys_map", static_url("map.js"))]
    # Not MarkerCluster.Default.css: map.css colours clusters after their most urgent member.
    default_css = [("markercluster_css", vendor_url("leaflet.markercluster/dist/MarkerCluster.css")),
                   ("gridsys_map_css", static_url("map.css"))]
    _template = Template("""
        {% macro script(this, kwargs) %}
            window.gridsysMap = GridsysMap.init({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, options: dict):
        super().__init__()
        self._name = "LiveLayers"
        self.options = options


class BoundaryEditor(JSCSSMixin, MacroElement):
    """The administrators' boundary editor (Leaflet-Geoman from npm, served by the app): select a
    grid, reshape, split, merge, move, delete or draw one; preview the effect; save."""

    default_js = [("geoman", vendor_url("@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js")),
                  ("gridsys_editor", static_url("editor.js"))]
    default_css = [("geoman_css", vendor_url("@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css"))]
    _template = Template("""
        {% macro script(this, kwargs) %}
            window.gridsysEditor = GridsysEditor.init({{ this._parent.get_name() }}, window.gridsysMap,
                                                      {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, options: dict):
        super().__init__()
        self._name = "BoundaryEditor"
        self.options = options
