"""App-wide pages: home, health, language switch, front-end assets from node_modules."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, \
    send_from_directory, url_for
from flask_compress import Compress
from sqlalchemy import and_, func, select, text

from . import db
from .assets import NODE_MODULES
from .people import access, auth
from .people.models import AreaLeader, GridAssignment
from .errors import NotFound
from .zones.models import Area, Grid, Town
from .apidoc import Health, operation

bp = Blueprint("web", __name__)

VENDOR_PACKAGES = {"leaflet", "leaflet.markercluster", "@geoman-io", "leaflet.awesome-markers",
                   "bootstrap", "@fortawesome", "jquery", "leaflet.fullscreen", "idb", "workbox-core",
                   "workbox-routing", "workbox-strategies", "workbox-precaching", "workbox-expiration", "echarts",
                   "leaflet.vectorgrid"}


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
        .outerjoin(Area, Area.town_id == Town.id)
        .outerjoin(Grid, and_(Grid.area_id == Area.id, Grid.retired_at.is_(None)))
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
@operation("getHealth", "meta", Health, public=True, also={503: (Health, "The database is down")})
def healthz():
    """The app and its database: what load balancers poll."""
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
    target = auth.safe_next(request.args.get("next"), url_for("web.index"))
    response = make_response(redirect(target))
    response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@bp.get("/vendor/<path:filename>")
def vendor(filename):
    """Leaflet and plugins, served from the pinned npm packages (no CDN at run time)."""
    parts = filename.split("/")
    if parts[0] not in VENDOR_PACKAGES or ".." in parts:
        raise NotFound("asset_not_found", f"no front-end asset {filename}")
    return send_from_directory(NODE_MODULES, filename)  # cache life: assets.cache_assets


# Compressed when larger than about one TCP packet; never photos (JPEG) or other binary files.
COMPRESSIBLE = ["application/json", "application/geo+json", "application/manifest+json", "application/xml",
                "text/xml", "text/html", "text/css", "text/plain", "text/javascript", "application/javascript",
                "image/svg+xml"]
COMPRESS_MIN_BYTES = 1400
COMPRESS_FILE_MAX_BYTES = 8 * 1024 * 1024  # files up to this size are read whole to be compressed


def compress_responses(app) -> None:
    """Compress text answers (zstd, br or gzip, as the client accepts) with Flask-Compress: map
    GeoJSON over a weak phone network shrinks about tenfold, leaflet.js from 148 KB to 43 KB.

    Files (static, vendor) are read whole first, so they keep a Content-Length and a strong ETag
    (Flask-Compress would otherwise stream them, and never with gzip). Partial answers (206) stay
    as they are."""
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSIBLE)
    app.config.setdefault("COMPRESS_MIN_SIZE", COMPRESS_MIN_BYTES)
    app.config["COMPRESS_REGISTER"] = False
    compress = Compress()
    compress.init_app(app)

    @app.after_request
    def compress_response(response):
        if response.status_code == 206:
            return response
        if response.direct_passthrough and response.mimetype in compress.compress_mimetypes_set \
                and (response.content_length or 0) <= COMPRESS_FILE_MAX_BYTES:
            response.make_sequence()
            response.direct_passthrough = False
        response = compress.after_request(response)
        if "Content-Encoding" in response.headers:
            response.headers.pop("Accept-Ranges", None)  # ranges of the file, not of what is sent
        return response
