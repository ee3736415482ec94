"""Map pages (leader, worker, administrator) and the GeoJSON they load."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import Field
from sqlalchemy import select

from .. import db
from ..i18n import label, locale
from ..refusals import refusal_texts
from ..incidents.api import parse_bbox
from ..incidents.models import STATUSES, Category
from ..incidents.wording import LEVEL_NAMES, STATUS_NAMES
from ..vocabulary import DUTIES
from ..zones.models import Area
from ..people import auth
from . import data, tile_views
from ..folium_maps import base_map, embed
from .layers import BoundaryEditor, LiveLayers
from ..apidoc import FeatureCollection, Query, operation
from . import tiles

bp = Blueprint("map", __name__, template_folder="templates")
bp.register_blueprint(tile_views.bp)
REFRESH_SECONDS = 60
# The list under the map is fetched (GeoJSON, by bbox) only while the view holds at most this many
# incidents; past it the map shows the tiles' summary and says so. Grids likewise (tooltips, editor).
LIST_LIMIT = 500
GRID_DETAIL_LIMIT = 300
BBOX_ERRORS = {400: ("bbox_invalid",), 422: ("coordinates_invalid", "coordinates_out_of_range")}


class BBoxQuery(Query):
    bbox: str | None = Field(None, pattern=r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$",
                             description="minlon,minlat,maxlon,maxlat: only what meets this box")


def viewer_mode(user) -> str:
    if "admin" in user.roles:
        return "admin"
    if "area_leader" in user.roles:
        return "leader"
    return "worker"


@bp.get("/map")
@auth.login_required
def page():
    user = auth.current_user()
    session = db.session()
    mode = viewer_mode(user)
    categories = session.scalars(select(Category).order_by(Category.code)).all()
    scope = auth.current_scope()
    centre = data.scope_centre(session, scope)
    m = base_map(centre[1], centre[0], zoom=14)
    LiveLayers({
        "mode": mode,
        "refreshSeconds": REFRESH_SECONDS,
        "bounds": data.scope_bounds(session, scope),
        "incidentsUrl": url_for("incidents_api.geojson"),
        # Tiles are kept by the browser a short while: the viewer's id in the URL keeps one person's
        # tiles from being shown to the next on a shared computer.
        "incidentTiles": url_for("map.tiles.incidents", z="0", x="0", y="0").replace("/0/0/0.", "/{z}/{x}/{y}.")
        + f"?u={user.id}",
        "gridTiles": url_for("map.tiles.grids", z="0", x="0", y="0").replace("/0/0/0.", "/{z}/{x}/{y}.")
        + f"?u={user.id}&lang={locale()}",
        "clusterBelowZoom": tiles.CLUSTER_BELOW_ZOOM, "gridsFromZoom": tiles.GRIDS_FROM,
        "listLimit": LIST_LIMIT, "gridDetailLimit": GRID_DETAIL_LIMIT,
        # Few grids in scope: all of them as GeoJSON once (tooltips, the editor), as before tiles.
        "gridsWhole": data.grids_at_most(session, scope, GRID_DETAIL_LIMIT),
        "gridsUrl": url_for("map.grids_geojson", lang=locale()),   # its names are in the page's language
        "gapsUrl": url_for("map.gaps_geojson") if mode == "admin" else None,
        "areasUrl": url_for("zones.api_zones_geojson", level="area"),
        "reportUrl": url_for("incidents.report"),
        "incidentUrl": "/incidents/",
        "categories": {c.code: c.name(locale()) for c in categories},
        "words": {"overdue": _("Overdue"), "escalated": _("Escalated"), "handler": _("Handler"),
                  "levels": {n: _("Escalated L%(n)d", n=n) for n in LEVEL_NAMES if n},   # as on the pages
                  "age": _("Reported %(t)s ago", t="{t}"), "open": _("Open incidents"),
                  "reportHere": _("Log an incident here"), "you": _("You are here"),
                  "unassigned": _("Duties without a worker: %(n)s", n="{n}"), "gap": _("Not covered"),
                  "details": _("Details"), "none": _("Nothing here."), "more": _("and %(n)s more", n="{n}"),
                  "due": _("Due"), "statuses": {s: label(STATUS_NAMES, s) for s in STATUSES},
                  "summarised": _("Summarised by area: %(n)s incidents in view, %(late)s overdue. Zoom in to see "
                                  "each one.", n="{n}", late="{late}"),
                  "tooMany": _("Too many to list here: zoom in to list them."),
                  "tileFailed": _("Part of the map could not be loaded: it will be tried again."),
                  "minutes": _("min"), "hours": _("h"), "days": _("d")},
    }).add_to(m)
    areas = []
    if mode == "admin":
        BoundaryEditor({"api": "/api/v1", "words": {
            "selected": _("Selected: %(code)s %(name)s", code="{code}", name="{name}"),
            "pickMerge": _("Tap the grid to merge with."), "drawLine": _("Draw the split line across the grid."),
            "drawPolygon": _("Draw the new grid; its neighbours give up the ground it takes."),
            "editing": _("Drag the corners; they snap to the neighbours. Then preview."),
            "ok": _("Checks passed."), "saved": _("Saved."), "reasonNeeded": _("Say why first."),
            "moves": _("Open incidents that change hands"), "none": _("none"),
            "grid": _("Grid"), "before": _("Before m²"), "after": _("After m²"), "change": _("Change m²"),
            "incident": _("Incident"), "from": _("From"), "to": _("To"), "restore": _("Restore"),
            "gapOpened": _("Gap opened m²"), "gapClosed": _("Gap closed m²"), "stale": _("Reload the map"),
        }}).add_to(m)
        areas = session.scalars(select(Area).order_by(Area.code)).all()
    return render_template("map/page.html", map=embed(m), mode=mode, categories=categories, duties=DUTIES,
                           areas=areas, refusals=refusal_texts() if mode == "admin" else {})


@bp.get("/api/v1/map/grids.geojson")
@operation("mapGridsGeoJSON", "maps", FeatureCollection, media_type="application/geo+json", query=BBoxQuery,
           errors={**BBOX_ERRORS, 400: (*BBOX_ERRORS[400], "grids_too_many")})
@auth.login_required
def grids_geojson():
    """Grids in scope (and bbox) with their open and overdue counts and the number of duties lacking
    a worker; at most 1000 (grids_too_many beyond: the map draws more from /tiles/grids)."""
    bbox = parse_bbox(request.args.get("bbox"))
    return Response(data.grids_feature_collection(db.read_session(), auth.current_scope(), locale(), bbox),
                    mimetype="application/geo+json")


@bp.get("/api/v1/map/gaps.geojson")
@operation("mapGapsGeoJSON", "maps", FeatureCollection, media_type="application/geo+json", query=BBoxQuery,
           errors={**BBOX_ERRORS, 403: ("role_required",)})
@auth.login_required(roles=("admin",))
def gaps_geojson():
    """Ground not covered by a child zone: town minus its areas, area minus its grids (of the towns
    and areas meeting bbox, when given)."""
    bbox = parse_bbox(request.args.get("bbox"))
    return Response(data.gaps_feature_collection(db.read_session(), bbox), mimetype="application/geo+json")
