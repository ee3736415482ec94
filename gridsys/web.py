"""App-wide pages: home, health, language switch, front-end assets from node_modules."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, \
    send_from_directory, url_for
from sqlalchemy import func, select, text

from . import db
from .people import access, auth
from .people.models import AreaLeader, GridAssignment
from .errors import NotFound
from .zones.models import Area, Grid, Town

bp = Blueprint("web", __name__)

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
VENDOR_PACKAGES = {"leaflet", "leaflet.markercluster", "@geoman-io", "leaflet.awesome-markers",
                   "bootstrap", "@fortawesome", "jquery", "leaflet.fullscreen"}


@bp.get("/")
def index():
    """Start page: anonymous people see the login link; others what is in their scope."""
    user = auth.current_user()
    if user is None:
        return render_template("index.html", towns=[], mine=None)
    session = db.session()
    scope = auth.current_scope()
    towns = session.execute(
        select(Town, func.count(func.distinct(Area.id)), func.count(Grid.id))
        .outerjoin(Area, Area.town_id == Town.id).outerjoin(Grid, Grid.area_id == Area.id)
        .where(access.where(scope, Town)).group_by(Town.id).order_by(Town.code)).all()
    mine = {
        "areas": session.scalars(select(Area).join(AreaLeader, AreaLeader.area_id == Area.id)
                                 .where(AreaLeader.user_id == user.id, AreaLeader.valid_to.is_(None))
                                 .order_by(Area.code)).all(),
        "grids": session.scalars(select(GridAssignment).where(GridAssignment.user_id == user.id,
                                                              GridAssignment.valid_to.is_(None))
                                 .order_by(GridAssignment.grid_id, GridAssignment.duty)).all(),
    }
    return render_template("index.html", towns=towns, mine=mine)


@bp.get("/healthz")
def healthz():
    try:
        postgis = db.session().execute(text("SELECT postgis_lib_version()")).scalar()
    except Exception as exc:  # report, never raise: this is what load balancers poll
        return jsonify(status="error", database="unreachable", detail=type(exc).__name__), 503
    return jsonify(status="ok", database="ok", postgis=postgis)


@bp.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.png"), 301)


@bp.get("/lang/<code>")
def set_language(code):
    if code not in current_app.config["LANGUAGES"]:
        raise NotFound("language_unknown", f"language {code!r} is not available")
    target = request.args.get("next") or url_for("web.index")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("web.index")
    response = make_response(redirect(target))
    response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@bp.get("/vendor/<path:filename>")
def vendor(filename):
    """Leaflet and plugins, served from the pinned npm packages (no CDN at run time)."""
    if filename.split("/", 1)[0] not in VENDOR_PACKAGES:
        raise NotFound("asset_not_found", f"no front-end asset {filename}")
    return send_from_directory(NODE_MODULES, filename, max_age=7 * 24 * 3600)
