"""Zone pages (HTML) and the zone JSON endpoints."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from .. import db
from ..errors import GridsysError
from . import services, transfer

bp = Blueprint("zones", __name__, template_folder="templates")


@bp.get("/zones")
def overview():
    session = db.session()
    rows = services.coverage(session)
    return render_template("zones/overview.html", rows=rows)


@bp.get("/api/v1/locate")
def api_locate():
    try:
        lon, lat = float(request.args["lon"]), float(request.args["lat"])
    except (KeyError, ValueError):
        raise GridsysError("coordinates_invalid", "lon and lat query parameters (decimal degrees) are required",
                           status=400)
    where = services.locate(db.session(), lon, lat)
    return jsonify(level=where.level, town=where.town.code,
                   area=where.area.code if where.area else None,
                   grid=where.grid.code if where.grid else None)


@bp.get("/api/v1/zones.geojson")
def api_zones_geojson():
    level = request.args.get("level")
    if level is not None and level not in ("town", "area", "grid"):
        raise GridsysError("level_unknown", "level is town, area or grid", status=400)
    return jsonify(transfer.export_zones(db.session(), level=level))
