"""GeoJSON for maps, assembled by PostgreSQL in one query each."""
from __future__ import annotations

from sqlalchemy import Integer, String, cast, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import Session

from .. import geo
from ..incidents.models import OPEN_STATUSES, Incident
from ..people.access import Scope, where
from ..people.models import GridAssignment
from ..vocabulary import ASSIGNABLE_DUTIES
from ..zones.models import Area, Grid, Town

DEFAULT_CENTRE = (106.33, 29.62)


def _collection(features_subquery) -> object:
    return func.json_build_object("type", "FeatureCollection",
                                  "features", func.coalesce(func.json_agg(features_subquery.c.f),
                                                            func.json_build_array()))


def grids_feature_collection(session: Session, scope: Scope, locale: str = "zh") -> str:
    """The grids in scope with their open and overdue counts and missing duties; names in the
    viewer's language (the English name where one is stored)."""
    counts = (select(Incident.grid_id, func.count().label("open"),
                     func.count().filter(Incident.due_at < func.now()).label("overdue"))
              .where(Incident.status.in_(OPEN_STATUSES)).group_by(Incident.grid_id).subquery())
    staffed = (select(GridAssignment.grid_id, func.count(func.distinct(GridAssignment.duty)).label("duties"))
               .where(GridAssignment.valid_to.is_(None), ~GridAssignment.backup)
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
                .where(where(scope, Grid)).order_by(Grid.code).subquery())
    return session.scalar(select(cast(_collection(features), String)))


def gaps_feature_collection(session: Session) -> str:
    def gaps(parent, child, fk, level):
        union = select(func.ST_Union(child.geom)).where(fk == parent.id).scalar_subquery()
        diff = func.ST_Difference(parent.geom, func.coalesce(union, func.ST_GeomFromText("POLYGON EMPTY",
                                                                                          func.ST_SRID(parent.geom))))
        return select(parent.code.label("code"), literal(level).label("level"), diff.label("geom"))
    rows = union_all(gaps(Town, Area, Area.town_id, "town"), gaps(Area, Grid, Grid.area_id, "area")).subquery()
    feature = func.json_build_object(
        "type", "Feature", "geometry", cast(func.ST_AsGeoJSON(rows.c.geom, 6), JSON),
        "properties", func.json_build_object("code", rows.c.code, "level", rows.c.level,
                                             "area_m2", cast(geo.area_m2(rows.c.geom), Integer))
    ).label("f")
    features = select(feature).where(~func.ST_IsEmpty(rows.c.geom),
                                     geo.area_m2(rows.c.geom) > geo.OVERLAP_TOLERANCE_M2).subquery()
    return session.scalar(select(cast(_collection(features), String)))


def scope_centre(session: Session, scope: Scope) -> tuple[float, float]:
    """The centre of what the viewer looks after (lon, lat), for the initial view."""
    extent = session.execute(select(func.ST_X(func.ST_Centroid(func.ST_Extent(Grid.geom))),
                                    func.ST_Y(func.ST_Centroid(func.ST_Extent(Grid.geom))))
                             .where(where(scope, Grid))).one()
    if extent[0] is None:
        return DEFAULT_CENTRE
    return float(extent[0]), float(extent[1])
