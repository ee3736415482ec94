"""Mapbox Vector Tiles of the live map, built by PostGIS (ST_AsMVT) in one statement per tile from
the same scoped queries as the GeoJSON: what is out of the viewer's scope is in no tile.

Incidents. From CLUSTER_BELOW_ZOOM on, a tile carries each incident (layer ``incidents``, feature
id = incident id, the popup's fields). Below that zoom, and in any tile holding more than
MAX_POINTS, the tile is summarised: one point per cell of CELL tile units (layer ``clusters``: at
its members' mean position, with ``count`` and how many of them are overdue, urgent, escalated);
a cell holding one incident keeps it as itself, and so do overdue and escalated incidents (up to
MAX_HOT in a tile): what is late is never hidden in a number. Nothing is dropped: the counts of a tile's
features always add up to the incidents it covers. Each incident belongs to exactly one tile
(half-open tile bounds), so tiles side by side never count one twice. Open incidents (the map's
default) are found through the index of open incidents' positions alone (ix_incidents_geom_open).

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

from sqlalchemy import BigInteger, bindparam, cast, func, literal, select, true, union_all
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
# "Open" written out as constants, as in the partial index on open incidents' positions: a prepared
# (generic) plan can only use a partial index whose condition it can read in the query itself.
OPEN_AS_WRITTEN = Incident.status.in_(bindparam("open_statuses", list(OPEN_STATUSES), expanding=True,
                                                literal_execute=True))


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


def _bounds(tile: Tile):
    """The tile's envelope with its edges and cell size, computed once per statement."""
    e = _envelope(tile)
    return select(e.label("e"), func.ST_XMin(e).label("x0"), func.ST_XMax(e).label("x1"),
                  func.ST_YMin(e).label("y0"), func.ST_YMax(e).label("y1"),
                  ((func.ST_XMax(e) - func.ST_XMin(e)) * CELL / EXTENT).label("cell")).cte("env")


def _point(geom, env):
    return func.ST_AsMVTGeom(geom, env.c.e, EXTENT, 0, False)


def _owned(scope: Scope, filters: Filters, user: User | None, env):
    """The narrow pass: each incident of the tile read once, with its position in Web Mercator, its
    cell and whether it is overdue, escalated, urgent (``hot``: overdue or escalated)."""
    where_open = (OPEN_AS_WRITTEN,) if filters.status == "open" else ()
    located = (scoped_incidents(scope, filters, user).order_by(None).join(env, true())
               .where(Incident.geom.op("&&")(_in_storage(env.c.e)), *where_open)
               .with_only_columns(Incident.id, func.ST_Transform(Incident.geom, WEB_MERCATOR).label("g"),
                                  overdue_expr().label("overdue"), (Incident.escalation_level > 0).label("escalated"),
                                  (Incident.priority == "urgent").label("urgent"),
                                  env.c.x0, env.c.x1, env.c.y0, env.c.y1, env.c.cell)
               .offset(0)   # a fence: each position is transformed once, not once per use
               .subquery("located"))
    px, py = func.ST_X(located.c.g), func.ST_Y(located.c.g)
    # Each incident in one tile only: x in [xmin, xmax), y in (ymin, ymax].
    return (select(located.c.id, px.label("px"), py.label("py"), located.c.overdue, located.c.escalated,
                   located.c.urgent, (located.c.overdue | located.c.escalated).label("hot"),
                   func.floor((px - located.c.x0) / located.c.cell).label("cx"),
                   func.floor((located.c.y1 - py) / located.c.cell).label("cy"))
            .where(px >= located.c.x0, px < located.c.x1, py > located.c.y0, py <= located.c.y1)
            .cte("owned"))


def _groups(owned, tile: Tile):
    """Per cell, what a summary would show (count, position sums, overdue, urgent, escalated, the
    lowest id), apart for the hot ones when the tile keeps them apart; and the tile's decisions."""
    cells = (select(owned.c.cx, owned.c.cy, owned.c.hot, func.count().label("n"),
                    func.sum(owned.c.px).label("sx"), func.sum(owned.c.py).label("sy"),
                    func.count().filter(owned.c.overdue).label("overdue"),
                    func.count().filter(owned.c.urgent).label("urgent"),
                    func.count().filter(owned.c.escalated).label("escalated"), func.min(owned.c.id).label("one"))
             .group_by(owned.c.cx, owned.c.cy, owned.c.hot).cte("cells"))
    in_tile = func.coalesce(func.sum(cells.c.n), 0)
    hot_in_tile = func.coalesce(func.sum(cells.c.n).filter(cells.c.hot), 0)
    totals = select((literal(tile.summarised_by_zoom) | (in_tile > MAX_POINTS)).label("summarised"),
                    (hot_in_tile <= MAX_HOT).label("apart_ok")).cte("totals")
    apart = (cells.c.hot & totals.c.apart_ok).label("apart")   # overdue and escalated stay in sight

    def total(column):
        return cast(func.sum(column), BigInteger).label(column.name)
    groups = (select(cells.c.cx, cells.c.cy, apart, totals.c.summarised, total(cells.c.n),
                     func.sum(cells.c.sx).label("sx"), func.sum(cells.c.sy).label("sy"), total(cells.c.overdue),
                     total(cells.c.urgent), total(cells.c.escalated), func.min(cells.c.one).label("one"))
              .join(totals, true()).group_by(cells.c.cx, cells.c.cy, apart, totals.c.summarised).cte("groups"))
    return totals, groups


def incidents_tile(session: Session, scope: Scope, filters: Filters, tile: Tile, user: User | None) -> bytes:
    """The incidents of ``tile`` that ``scope`` may see, filtered as the map is (one statement).
    Each is read once, narrowly, and counted per cell; only those shown as themselves are read
    again in full, for their popups (a summarised tile of 100 000 costs about its reading)."""
    env = _bounds(tile)
    owned = _owned(scope, filters, user, env)
    totals, groups = _groups(owned, tile)
    shown = union_all(
        select(owned.c.id).join(totals, true()).where(~totals.c.summarised | (owned.c.hot & totals.c.apart_ok)),
        select(groups.c.one).where(groups.c.summarised, ~groups.c.apart, groups.c.n == 1)).subquery("shown")
    assignee = aliased(User)
    singles = (select(Incident.id, Incident.code, Incident.category_code.label("category"), Incident.status,
                      Incident.priority, overdue_expr().label("overdue"), Incident.escalation_level,
                      _iso(Incident.due_at).label("due_at"), _iso(Incident.created_at).label("created_at"),
                      assignee.display_name.label("assignee_name"), literal(1).label("count"),
                      _point(func.ST_Transform(Incident.geom, WEB_MERCATOR), env).label("geom"))
               .join(shown, shown.c.id == Incident.id).outerjoin(assignee, assignee.id == Incident.assignee_id)
               .join(env, true()).subquery("singles"))
    centre = func.ST_SetSRID(func.ST_MakePoint(groups.c.sx / groups.c.n, groups.c.sy / groups.c.n), WEB_MERCATOR)
    clusters = (select(groups.c.n.label("count"), groups.c.overdue, groups.c.urgent, groups.c.escalated,
                       _point(centre, env).label("geom"))
                .join(env, true()).where(groups.c.summarised, ~groups.c.apart, groups.c.n > 1).subquery("clusters"))
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
