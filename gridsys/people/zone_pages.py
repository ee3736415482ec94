"""The zones a person may see: the coverage page, the zones GeoJSON and locate. They sit with
people, above zones, since what one may see comes from people's scope (access.py)."""
from __future__ import annotations

import math

from sqlalchemy import literal, select, union_all
from flask import Blueprint, jsonify, render_template, request

from .. import db, geo, paging
from ..apidoc import FeatureCollection, operation
from ..errors import GridsysError
from ..i18n import zone_label
from ..zones import schemas, services, transfer
from ..zones.models import Area, Town
from . import access, auth

bp = Blueprint("zones", __name__, template_folder="templates")
ZONES_PAGE_SIZE = 50


def parents_query(scope):
    """(level, id, code) of the towns and areas in scope by code: a merge of their code indexes."""
    parents = union_all(*[select(literal(level).label("level"), model.id, model.code)
                          .where(access.where(scope, model)) for level, model in (("town", Town), ("area", Area))])
    return select(parents.subquery()).order_by("code")


@bp.get("/zones")
@auth.login_required(roles=("admin", "area_leader"))
def overview():
    """The towns and areas in scope with their coverage, ZONES_PAGE_SIZE a page by code (a town
    just before its areas); the coverage figures are the stored ones (services.stored_coverage)."""
    session = db.session()
    scope = auth.current_scope()
    page = paging.page_of(session, parents_query(scope),
                          paging.page_number(request.args), ZONES_PAGE_SIZE, count=True, rows=True)
    names = {}  # code -> the zone's name in the page's language
    for level, model in (("town", Town), ("area", Area)):
        ids = [row.id for row in page.items if row.level == level]
        for zone in session.scalars(select(model).where(model.id.in_(ids))) if ids else ():
            names[zone.code] = zone_label(zone)
    rows = services.stored_coverage(session, names) if names else []
    return render_template("zones/overview.html", rows=rows, names=names, page=page)


@bp.get("/api/v1/locate")
@operation("locatePoint", "zones", schemas.Located, query=schemas.LocateQuery,
           errors=schemas.LOCATE_ERRORS)
@auth.login_required
def api_locate():
    """The grid, area and town covering a point."""
    try:
        lon, lat = float(request.args["lon"]), float(request.args["lat"])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError
    except (KeyError, ValueError):
        raise GridsysError("coordinates_invalid", "lon and lat query parameters (decimal degrees) are required",
                           status=400)
    lon, lat = geo.to_storage_lonlat(lon, lat, geo.parse_coords(request.args.get("coords")))
    where = services.locate(db.session(), lon, lat)
    return jsonify(level=where.level, town=where.town.code,
                   area=where.area.code if where.area else None,
                   grid=where.grid.code if where.grid else None)


@bp.get("/api/v1/zones.geojson")
@operation("zonesGeoJSON", "zones", FeatureCollection, query=schemas.ZonesQuery,
           media_type="application/geo+json", errors={400: ("level_unknown",)})
@auth.login_required
def api_zones_geojson():
    """The towns, areas and grids in the caller's scope (parents first)."""
    level = request.args.get("level")
    if level is not None and level not in ("town", "area", "grid"):
        raise GridsysError("level_unknown", "level is town, area or grid", status=400)
    scope = auth.current_scope()
    return jsonify(transfer.export_zones(db.session(), level=level,
                                         visible=lambda model: access.where(scope, model)))
