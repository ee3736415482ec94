"""Mapbox Vector Tiles of the live map, built by PostGIS (ST_AsMVT) in one statement per tile from
the same scoped queries as the GeoJSON: what is out of the viewer's scope is in no tile.

Incidents. From CLUSTER_BELOW_ZOOM on, a tile carries each incident (layer ``incidents``, feature
id = incident id, the popup's fields). Below that zoom, and in any tile holding more than
MAX_POINTS, the tile is summarised: one point per cell of CELL tile units (layer ``clusters``: at
its members' mean position, with ``count`` and how many of them are overdue, urgent, escalated);
a cell holding one incident keeps it as itself, and so do overdue and escalated incidents (up to
MAX_HOT in a tile): what is late is never hidden in a number. Nothing is dropped: the counts of a tile's
features always add up to the incidents it covers. Each incident belongs to exactly one tile
(half-open tile bounds), so tiles side by side never count one twice.

Why 15: a tile at zoom 15 spans about 1 km here (29.6°N), a grid or two; below it a 44 px tap
target covers 400 m or more, so single markers would only pile up into an unreadable carpet.

Grids. Below TOWNS_ONLY_BELOW only town outlines; up to GRIDS_FROM also areas; from GRIDS_FROM
areas and grids (with their open and overdue counts and, for administrators, missing duties).
Outlines are simplified to about half a pixel of the zoom (ST_Simplify in metres) before
ST_AsMVTGeom snaps them to the tile's grid.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, literal, select, true
from sqlalchemy.orm import Session, aliased

from ..errors import GridsysError
from ..geo import STORAGE_SRID
from ..incidents.models import OPEN_STATUSES, Incident
from ..incidents.services import Filters, overdue_expr, scoped_incidents
from ..people.access import Scope, where
from ..people.models import GridAssignment, User
from ..vocabulary import ASSIGNABLE_DUTIES
from ..zones.models import Area, Grid, Town

WEB_MERCATOR = 3857          # the CRS of ST_TileEnvelope and of every tile
EXTENT = 4096                # tile units per side
MAX_ZOOM = 22
CLUSTER_BELOW_ZOOM = 15
MAX_POINTS = 200             # single incidents in one tile; past that the tile is summarised
MAX_HOT = 100                # overdue or escalated ones kept apart in a summarised tile (past it they cluster too)
CELL = 1024                  # tile units per cluster cell: 64 px of a 256 px tile, 16 cells a tile
POLYGON_BUFFER = 64          # tile units drawn past the edge, so outlines meet without seams
TOWNS_ONLY_BELOW = 11
GRIDS_FROM = 13
WHOLE = re.compile(r"[0-9]{1,8}\Z")


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    @property
    def summarised_by_zoom(self) -> bool:
        return self.z < CLUSTER_BELOW_ZOOM


def parse_tile(z: str, x: str, y: str) -> Tile:
    """The tile z/x/y of the URL, or a refusal: z a whole number 0..MAX_ZOOM, x and y 0..2^z-1."""
    if not WHOLE.match(z) or int(z) > MAX_ZOOM:
        raise GridsysError("tile_zoom_invalid", f"z is a whole number from 0 to {MAX_ZOOM}", status=400,
                           max_zoom=MAX_ZOOM)
    zoom, top = int(z), 2 ** int(z) - 1
    if not (WHOLE.match(x) and WHOLE.match(y)) or int(x) > top or int(y) > top:
        raise GridsysError("tile_out_of_range", f"at zoom {zoom} x and y are whole numbers from 0 to {top}",
                           status=400, z=zoom, max_xy=top)
    return Tile(zoom, int(x), int(y))


def _envelope(tile: Tile):
    return func.ST_TileEnvelope(tile.z, tile.x, tile.y)


def _in_storage(envelope):
    """The tile's envelope in the storage CRS, for the GiST index of the stored geometries."""
    return func.ST_Transform(envelope, STORAGE_SRID)


def _iso(column):
    return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')


def _mvt(rows, layer: str, with_id: bool):
    args = [rows.table_valued(), layer, EXTENT, "geom"] + (["id"] if with_id else [])
    return func.coalesce(select(func.ST_AsMVT(*args)).select_from(rows).scalar_subquery(),
                         func.decode("", "hex"))


def incidents_tile(session: Session, scope: Scope, filters: Filters, tile: Tile, user: User | None) -> bytes:
    """The incidents of ``tile`` that ``scope`` may see, filtered as the map is (one statement)."""
    env = select(_envelope(tile).label("e")).cte("env")
    e = env.c.e
    merc = func.ST_Transform(Incident.geom, WEB_MERCATOR)
    assignee = aliased(User)
    base = (scoped_incidents(scope, filters, user).order_by(None)
            .outerjoin(assignee, assignee.id == Incident.assignee_id)
            .join(env, true())
            .where(Incident.geom.op("&&")(_in_storage(e))))
    pts = base.with_only_columns(
        Incident.id, Incident.code, Incident.category_code.label("category"), Incident.status,
        Incident.priority, overdue_expr().label("overdue"), Incident.escalation_level,
        _iso(Incident.due_at).label("due_at"), _iso(Incident.created_at).label("created_at"),
        assignee.display_name.label("assignee_name"), merc.label("g")).cte("pts")
    # Each incident in one tile only: x in [xmin, xmax), y in (ymin, ymax].
    px, py = func.ST_X(pts.c.g), func.ST_Y(pts.c.g)
    cell_m = (func.ST_XMax(e) - func.ST_XMin(e)) * CELL / EXTENT
    owned = (select(pts, func.floor((px - func.ST_XMin(e)) / cell_m).label("cx"),
                    func.floor((func.ST_YMax(e) - py) / cell_m).label("cy"))
             .select_from(pts).join(env, true())
             .where(px >= func.ST_XMin(e), px < func.ST_XMax(e), py > func.ST_YMin(e), py <= func.ST_YMax(e))
             .cte("owned"))
    hot = owned.c.overdue | (owned.c.escalation_level > 0)
    rated = select(owned, hot.label("hot"), func.count().over().label("in_tile"),
                   func.count().filter(hot).over().label("hot_in_tile")).cte("rated")
    apart = rated.c.hot & (rated.c.hot_in_tile <= MAX_HOT)   # overdue and escalated stay in sight
    counted = select(rated, apart.label("apart"),
                     func.count().over(partition_by=(rated.c.cx, rated.c.cy, apart)).label("in_cell")).cte("counted")
    summarised = literal(tile.summarised_by_zoom) | (counted.c.in_tile > MAX_POINTS)
    geom = func.ST_AsMVTGeom(counted.c.g, e, EXTENT, 0, False)
    singles = (select(counted.c.id, counted.c.code, counted.c.category, counted.c.status, counted.c.priority,
                      counted.c.overdue, counted.c.escalation_level, counted.c.due_at, counted.c.created_at,
                      counted.c.assignee_name, literal(1).label("count"), geom.label("geom"))
               .select_from(counted).join(env, true())
               .where(~summarised | counted.c.apart | (counted.c.in_cell == 1)).subquery("singles"))
    centre = func.ST_SetSRID(func.ST_MakePoint(func.avg(func.ST_X(counted.c.g)), func.avg(func.ST_Y(counted.c.g))),
                             WEB_MERCATOR)
    clusters = (select(func.count().label("count"),
                       func.count().filter(counted.c.overdue).label("overdue"),
                       func.count().filter(counted.c.priority == "urgent").label("urgent"),
                       func.count().filter(counted.c.escalation_level > 0).label("escalated"),
                       func.ST_AsMVTGeom(centre, e, EXTENT, 0, False).label("geom"))
                .select_from(counted).join(env, true())
                .where(summarised, ~counted.c.apart, counted.c.in_cell > 1)
                .group_by(counted.c.cx, counted.c.cy, e).subquery("clusters"))
    return bytes(session.scalar(select(_mvt(singles, "incidents", True).op("||")(_mvt(clusters, "clusters", False)))))


def _outline(geom_column, env, tile: Tile):
    """``geom_column`` in tile units, simplified to about half a pixel of this zoom."""
    tolerance = (func.ST_XMax(env) - func.ST_XMin(env)) / 512
    simple = func.ST_Simplify(func.ST_Transform(geom_column, WEB_MERCATOR), tolerance, True)
    return func.ST_AsMVTGeom(simple, env, EXTENT, POLYGON_BUFFER, True)


def _zone_rows(model, scope: Scope, env, tile: Tile, locale: str):
    e = env.c.e
    name = func.coalesce(func.nullif(model.name_en, ""), model.name) if locale == "en" else model.name
    rows = (select(model.id, model.code, name.label("name"), _outline(model.geom, e, tile).label("geom"))
            .select_from(model).join(env, true())
            .where(where(scope, model), model.geom.op("&&")(_in_storage(e))).subquery())
    return select(rows).where(rows.c.geom.is_not(None)).subquery(model.__tablename__)


def _grid_rows(scope: Scope, env, tile: Tile, locale: str, admin: bool):
    e = env.c.e
    in_tile = (select(Grid.id).join(env, true())
               .where(where(scope, Grid), Grid.geom.op("&&")(_in_storage(e))).cte("grids_in_tile"))
    counts = (select(Incident.grid_id, func.count().label("open"),
                     func.count().filter(Incident.due_at < func.now()).label("overdue"))
              .where(Incident.status.in_(OPEN_STATUSES), Incident.grid_id.in_(select(in_tile.c.id)))
              .group_by(Incident.grid_id).subquery())
    staffed = (select(GridAssignment.grid_id, func.count(func.distinct(GridAssignment.duty)).label("duties"))
               .where(GridAssignment.valid_to.is_(None), ~GridAssignment.backup,
                      GridAssignment.grid_id.in_(select(in_tile.c.id)))
               .group_by(GridAssignment.grid_id).subquery())
    name = func.coalesce(func.nullif(Grid.name_en, ""), Grid.name) if locale == "en" else Grid.name
    columns = [Grid.id, Grid.code, name.label("name"), Area.code.label("area"),
               func.coalesce(counts.c.open, 0).label("open"), func.coalesce(counts.c.overdue, 0).label("overdue")]
    if admin:
        columns.append((len(ASSIGNABLE_DUTIES) - func.coalesce(staffed.c.duties, 0)).label("missing"))
    rows = (select(*columns, _outline(Grid.geom, e, tile).label("geom"))
            .select_from(Grid).join(Area, Area.id == Grid.area_id).join(env, true())
            .outerjoin(counts, counts.c.grid_id == Grid.id).outerjoin(staffed, staffed.c.grid_id == Grid.id)
            .where(Grid.id.in_(select(in_tile.c.id))).subquery())
    return select(rows).where(rows.c.geom.is_not(None)).subquery("grids")


def grids_tile(session: Session, scope: Scope, tile: Tile, locale: str = "zh", admin: bool = False) -> bytes:
    """Zone outlines of ``tile`` in scope: towns, then areas, then grids as the zoom grows."""
    env = select(_envelope(tile).label("e")).cte("env")
    layers = []
    if tile.z < GRIDS_FROM:
        layers.append(_mvt(_zone_rows(Town, scope, env, tile, locale), "towns", True))
    if tile.z >= TOWNS_ONLY_BELOW:
        layers.append(_mvt(_zone_rows(Area, scope, env, tile, locale), "areas", True))
    if tile.z >= GRIDS_FROM:
        layers.append(_mvt(_grid_rows(scope, env, tile, locale, admin), "grids", True))
    body = layers[0]
    for layer in layers[1:]:
        body = body.op("||")(layer)
    return bytes(session.scalar(select(body)))
