"""Map pages (leader, worker, administrator) and the GeoJSON they load."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import db
from ..i18n import locale
from ..refusals import refusal_texts
from ..incidents.models import Category
from ..incidents.wording import LEVEL_NAMES
from ..vocabulary import DUTIES
from ..zones.models import Area
from ..people import auth
from . import data
from ..folium_maps import base_map, embed
from .layers import BoundaryEditor, LiveLayers
from ..apidoc import FeatureCollection, operation

bp = Blueprint("map", __name__, template_folder="templates")
REFRESH_SECONDS = 60


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
    centre = data.scope_centre(session, auth.current_scope())
    m = base_map(centre[1], centre[0], zoom=14)
    LiveLayers({
        "mode": mode,
        "refreshSeconds": REFRESH_SECONDS,
        "incidentsUrl": url_for("incidents_api.geojson"),
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
@operation("mapGridsGeoJSON", "maps", FeatureCollection, media_type="application/geo+json")
@auth.login_required
def grids_geojson():
    """Grids in scope with their open and overdue counts and the number of duties lacking a worker."""
    return Response(data.grids_feature_collection(db.read_session(), auth.current_scope(), locale()),
                    mimetype="application/geo+json")


@bp.get("/api/v1/map/gaps.geojson")
@operation("mapGapsGeoJSON", "maps", FeatureCollection, media_type="application/geo+json",
           errors={403: ("role_required",)})
@auth.login_required(roles=("admin",))
def gaps_geojson():
    """Ground not covered by a child zone: town minus its areas, area minus its grids."""
    return Response(data.gaps_feature_collection(db.read_session()), mimetype="application/geo+json")
