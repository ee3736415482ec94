"""GeoJSON for maps, assembled by PostgreSQL in one query each."""
from __future__ import annotations

from sqlalchemy import Integer, String, cast, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import Session

from .. import geo
from ..errors import GridsysError
from ..incidents.models import OPEN_STATUSES, Incident
from ..people.access import Scope, where
from ..people.models import GridAssignment
from ..vocabulary import ASSIGNABLE_DUTIES
from ..zones.models import Area, Grid, Town

DEFAULT_CENTRE = (106.33, 29.62)
# Grids one GeoJSON answer may carry (the map asks for them, by bbox, only where the view holds
# fewer; past this it draws them from /tiles/grids): a refusal beyond, never a silent cut.
MAX_GRIDS = 1000


def _envelope(bbox):
    return func.ST_MakeEnvelope(*bbox, geo.STORAGE_SRID)


def _collection(features_subquery) -> object:
    return func.json_build_object("type", "FeatureCollection",
                                  "features", func.coalesce(func.json_agg(features_subquery.c.f),
                                                            func.json_build_array()))


def grids_feature_collection(session: Session, scope: Scope, locale: str = "zh", bbox=None) -> str:
    """The grids in scope (and ``bbox``) with their open and overdue counts and missing duties;
    names in the viewer's language (the English name where one is stored). More than MAX_GRIDS
    is refused (grids_too_many)."""
    chosen = select(Grid.id).where(where(scope, Grid))
    if bbox is not None:
        chosen = chosen.where(Grid.geom.op("&&")(_envelope(bbox)))
    chosen = chosen.cte("chosen")
    found = session.scalar(select(func.count()).select_from(select(chosen.c.id).limit(MAX_GRIDS + 1).subquery()))
    if found > MAX_GRIDS:
        raise GridsysError("grids_too_many", f"more than {MAX_GRIDS} grids: zoom in, or draw them from "
                                             "/tiles/grids/{z}/{x}/{y}.mvt", status=400, max=MAX_GRIDS)
    counts = (select(Incident.grid_id, func.count().label("open"),
                     func.count().filter(Incident.due_at < func.now()).label("overdue"))
              .where(Incident.status.in_(OPEN_STATUSES), Incident.grid_id.in_(select(chosen.c.id)))
              .group_by(Incident.grid_id).subquery())
    staffed = (select(GridAssignment.grid_id, func.count(func.distinct(GridAssignment.duty)).label("duties"))
               .where(GridAssignment.valid_to.is_(None), ~GridAssignment.backup,
                      GridAssignment.grid_id.in_(select(chosen.c.id)))
               .group_by(GridAssignment.grid_id).subquery())
    props = func.json_build_object(
        "code", Grid.code, "name", func.coalesce(func.nullif(Grid.name_en, ""), Grid.name) if locale == "en"
        else Grid.name, "area", Area.code,
        "open", func.coalesce(counts.c.open, 0), "overdue", func.coalesce(counts.c.overdue, 0),
        "missing", len(ASSIGNABLE_DUTIES) - func.coalesce(staffed.c.duties, 0))
    feature = func.json_build_object("type", "Feature", "id", Grid.id,
                                     "geometry", cast(func.ST_AsGeoJSON(Grid.geom, 6), JSON),
                                     "properties", props).label("f")
    features = (select(feature).select_from(Grid).join(Area, Area.id == Grid.area_id)
                .outerjoin(counts, counts.c.grid_id == Grid.id).outerjoin(staffed, staffed.c.grid_id == Grid.id)
                .where(Grid.id.in_(select(chosen.c.id))).order_by(Grid.code).subquery())
    return session.scalar(select(cast(_collection(features), String)))


def gaps_feature_collection(session: Session, bbox=None) -> str:
    """Ground of a town no area covers, and of an area no grid covers (of the towns and areas
    meeting ``bbox``, when given)."""
    def gaps(parent, child, fk, level):
        union = select(func.ST_Union(child.geom)).where(fk == parent.id).scalar_subquery()
        diff = func.ST_Difference(parent.geom, func.coalesce(union, func.ST_GeomFromText("POLYGON EMPTY",
                                                                                          func.ST_SRID(parent.geom))))
        query = select(parent.code.label("code"), literal(level).label("level"), diff.label("geom"))
        return query if bbox is None else query.where(parent.geom.op("&&")(_envelope(bbox)))
    rows = union_all(gaps(Town, Area, Area.town_id, "town"), gaps(Area, Grid, Grid.area_id, "area")).subquery()
    feature = func.json_build_object(
        "type", "Feature", "geometry", cast(func.ST_AsGeoJSON(rows.c.geom, 6), JSON),
        "properties", func.json_build_object("code", rows.c.code, "level", rows.c.level,
                                             "area_m2", cast(geo.area_m2(rows.c.geom), Integer))
    ).label("f")
    features = select(feature).where(~func.ST_IsEmpty(rows.c.geom),
                                     geo.area_m2(rows.c.geom) > geo.OVERLAP_TOLERANCE_M2).subquery()
    return session.scalar(select(cast(_collection(features), String)))


def grids_at_most(session: Session, scope: Scope, n: int) -> bool:
    """Whether the scope holds at most ``n`` grids (counted no further than n + 1)."""
    some = select(Grid.id).where(where(scope, Grid)).limit(n + 1).subquery()
    return session.scalar(select(func.count()).select_from(some)) <= n


def scope_bounds(session: Session, scope: Scope) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of what the viewer looks after, for the first view: the towns'
    extent for someone who sees everything (a few rows, not every grid), else their grids'."""
    model = Town if scope.everything else Grid
    extent = session.execute(select(func.ST_XMin(func.ST_Extent(model.geom)), func.ST_YMin(func.ST_Extent(model.geom)),
                                    func.ST_XMax(func.ST_Extent(model.geom)), func.ST_YMax(func.ST_Extent(model.geom)))
                             .where(where(scope, model))).one()
    return None if extent[0] is None else tuple(float(v) for v in extent)


def scope_centre(session: Session, scope: Scope) -> tuple[float, float]:
    """The centre of what the viewer looks after (lon, lat), for the initial view."""
    extent = session.execute(select(func.ST_X(func.ST_Centroid(func.ST_Extent(Grid.geom))),
                                    func.ST_Y(func.ST_Centroid(func.ST_Extent(Grid.geom))))
                             .where(where(scope, Grid))).one()
    if extent[0] is None:
        return DEFAULT_CENTRE
    return float(extent[0]), float(extent[1])
