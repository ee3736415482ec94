"""GET /tiles/incidents/{z}/{x}/{y}.mvt and /tiles/grids/{z}/{x}/{y}.mvt: the map's vector tiles.

Per person (scoped), so cacheable only privately: a short max-age, and an ETag of the tile's
content for revalidation. Refusals are JSON, as the API's (a tile client reads no HTML page).
"""
from __future__ import annotations

import gzip
import hashlib

from flask import Blueprint, Response, jsonify, request

from .. import db, settings
from ..errors import GridsysError
from ..i18n import locale
from ..incidents import services
from ..people import auth
from . import tiles

bp = Blueprint("tiles", __name__, url_prefix="/tiles")
MVT = "application/vnd.mapbox-vector-tile"
MAX_AGE_S = 30        # the map refreshes every minute, and asks again (a new URL) when filters change
GZIP_FROM_BYTES = 1400


@bp.errorhandler(GridsysError)
def refused(exc: GridsysError):
    headers = {"WWW-Authenticate": 'Bearer realm="gridsys"'} if exc.status == 401 else {}
    return jsonify(error=exc.to_dict()), exc.status, headers


def _viewer():
    user = auth.current_user()
    if user is None:
        raise GridsysError("login_required", "authenticate with a bearer token or a browser session", status=401)
    return user


def _answer(body: bytes) -> Response:
    response = Response(body, mimetype=MVT)
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE_S}"
    response.vary.add("Cookie")
    response.vary.add("Accept-Encoding")
    response.set_etag(hashlib.sha1(body).hexdigest()[:20], weak=True)   # the same for either encoding
    response.make_conditional(request)
    if response.status_code == 200 and len(body) >= GZIP_FROM_BYTES \
            and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(body, compresslevel=6, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
    return response


@bp.get("/incidents/<z>/<x>/<y>.mvt")
def incidents(z, x, y):
    """Incidents in scope, filtered as the map (status, category, duty, overdue, escalated, since…)."""
    user = _viewer()
    tile = tiles.parse_tile(z, x, y)
    filters = services.parse_filters(request.args, settings.of(db.session()))
    body = tiles.incidents_tile(db.read_session(), auth.current_scope(), filters, tile, user)
    return _answer(body)


@bp.get("/grids/<z>/<x>/<y>.mvt")
def grids(z, x, y):
    """Town, area and grid outlines in scope, by zoom; grids with their open and overdue counts."""
    user = _viewer()
    tile = tiles.parse_tile(z, x, y)
    body = tiles.grids_tile(db.read_session(), auth.current_scope(), tile, locale(), admin="admin" in user.roles)
    return _answer(body)
