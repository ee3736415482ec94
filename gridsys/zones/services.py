"""Zone rules: codes, the write invariants, revisions, locating a point, coverage.

Plain functions over a session; they flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass

import shapely
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, joinedload

from .. import geo
from ..errors import GridsysError, NotFound
from ..inputs import has_visible
from .models import CODE_LENGTH, COVERAGE, LEVELS, MODELS, Area, BoundaryRevision, Grid, Town

PARENT_LEVEL = {"town": None, "area": "town", "grid": "area"}
CHILD_LEVEL = {"town": "area", "area": "grid", "grid": None}
PARENT_FK = {"area": "town_id", "grid": "area_id"}
EXPECTED_TYPE = {"town": "MultiPolygon", "area": "MultiPolygon", "grid": "Polygon"}


# --- codes -------------------------------------------------------------------

def check_code(level: str, code) -> str:
    """Validate a zone code for ``level`` (9/12/15 digits, non-zero sequence); return it."""
    if level not in LEVELS:
        raise GridsysError("level_unknown", f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    n = CODE_LENGTH[level]
    if not isinstance(code, str) or len(code) != n or not code.isascii() or not code.isdigit():
        raise GridsysError("code_invalid", f"a {level} code is {n} digits "
                                           f"(e.g. {'500106105002007'[:n]}); got {code!r}")
    if level == "town" and (code[:6].endswith("00") or code[6:] == "000"):
        raise GridsysError("code_invalid", f"town code {code}: 6-digit county code (GB/T 2260) "
                                           "+ 3-digit township code, neither ending in zeros")
    if level != "town" and code[-3:] == "000":
        raise GridsysError("code_invalid", f"{level} code {code}: the last 3 digits are a sequence "
                                           "from 001 to 999")
    return code


def parent_code(level: str, code: str) -> str | None:
    parent = PARENT_LEVEL[level]
    return code[:CODE_LENGTH[parent]] if parent else None


def get_zone(session: Session, level: str, code: str):
    return session.scalar(select(MODELS[level]).where(MODELS[level].code == code))


def require_zone(session: Session, level: str, code: str):
    zone = get_zone(session, level, code)
    if zone is None:
        raise NotFound(f"{level}_not_found", f"no {level} with code {code}", zone_code=code)
    return zone


# --- writing -------------------------------------------------------------------

def save_zone(session: Session, level: str, code: str, name: str, geom, *, actor: str,
              reason: str = "", name_en: str | None = None, action: str | None = None):
    """Create or update one zone, check every invariant and keep a revision. Flushes."""
    zone = write_zone(session, level, code, name, geom, actor=actor, reason=reason,
                      name_en=name_en, action=action)
    check_zone(session, zone)
    return zone


def write_zone(session: Session, level: str, code: str, name: str, geom, *, actor: str,
               reason: str = "", name_en: str | None = None, action: str | None = None):
    """Write a zone and its revision without the relational checks (``check_zone`` does those)."""
    check_code(level, code)
    name = (name or "").strip()
    if not has_visible(name) or len(name) > 100:   # also no name of only zero-width or filler characters
        raise GridsysError("name_invalid", f"{level} {code}: a name of 1 to 100 characters is required")
    if geom.geom_type not in (EXPECTED_TYPE[level], "Polygon"):
        raise geo.GeometryError("geometry_wrong_type",
                                f"a {level} is a {EXPECTED_TYPE[level]}, got {geom.geom_type}")
    if EXPECTED_TYPE[level] == "MultiPolygon" and geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    model = MODELS[level]
    zone = get_zone(session, level, code)
    old = None
    if zone is None:
        zone = model(code=code)
        pcode = parent_code(level, code)
        if pcode:
            parent = get_zone(session, PARENT_LEVEL[level], pcode)
            if parent is None:
                raise GridsysError("parent_not_found",
                                   f"{level} {code} belongs to {PARENT_LEVEL[level]} {pcode}, which does "
                                   f"not exist: create or import the {PARENT_LEVEL[level]} first")
            setattr(zone, PARENT_FK[level], parent.id)
        session.add(zone)
    else:
        old = geo.from_db(zone.geom)
    zone.name, zone.name_en = name, (name_en or None)
    geometry_changed = old is None or not old.equals_exact(geom, 0)
    if geometry_changed:
        zone.geom = geo.to_db(geom)
        if old is not None:
            zone.version = (zone.version or 1) + 1
        session.add(BoundaryRevision(level=level, zone_code=code, actor=actor, reason=reason or "",
                                     action=action or ("create" if old is None else "update"),
                                     old_geom=geo.to_db(old) if old is not None else None,
                                     new_geom=geo.to_db(geom)))
    session.flush()
    return zone


def check_zone(session: Session, zone) -> None:
    """The invariants against the database as it is now: within parent, no sibling overlap,
    children still within. Raises GeometryError with the location of the fault."""
    check_within_parent(session, zone)
    check_no_sibling_overlap(session, zone)
    check_children_within(session, zone)


def check_within_parent(session: Session, zone) -> None:
    if zone.level == "town":
        return
    parent_model = MODELS[PARENT_LEVEL[zone.level]]
    model = MODELS[zone.level]
    parent_id = getattr(zone, PARENT_FK[zone.level])
    row = session.execute(
        select(func.ST_CoveredBy(model.geom, parent_model.geom),
               func.ST_CoveredBy(model.geom, geo.buffer_m(parent_model.geom, geo.SNAP_TOLERANCE_M)))
        .select_from(model).join(parent_model, parent_model.id == parent_id)
        .where(model.id == zone.id)).one()
    if row[0] or row[1]:
        return
    spill = session.execute(
        select(func.ST_X(func.ST_PointOnSurface(func.ST_Difference(model.geom, parent_model.geom))),
               func.ST_Y(func.ST_PointOnSurface(func.ST_Difference(model.geom, parent_model.geom))),
               geo.area_m2(func.ST_Difference(model.geom, parent_model.geom)), parent_model.code)
        .select_from(model).join(parent_model, parent_model.id == parent_id)
        .where(model.id == zone.id)).one()
    raise geo.GeometryError(
        "outside_parent",
        f"{zone.level} {zone.code} spills {spill[2]:.0f} m² outside its {PARENT_LEVEL[zone.level]} "
        f"{spill[3]} (near {spill[0]:.6f}, {spill[1]:.6f}); keep it inside the "
        f"{PARENT_LEVEL[zone.level]} or redraw the {PARENT_LEVEL[zone.level]} first",
        location=[spill[0], spill[1]], zone_code=zone.code)


def check_no_sibling_overlap(session: Session, zone) -> None:
    model = MODELS[zone.level]
    sibling = model.__table__.alias("sibling")
    me = model.__table__.alias("me")
    inter = func.ST_Intersection(me.c.geom, sibling.c.geom)
    conditions = [sibling.c.id != me.c.id, func.ST_Intersects(me.c.geom, sibling.c.geom),
                  func.ST_Relate(me.c.geom, sibling.c.geom, "2********")]
    if zone.level != "town":
        fk = PARENT_FK[zone.level]
        conditions.append(sibling.c[fk] == me.c[fk])
    rows = session.execute(
        select(sibling.c.code, geo.area_m2(inter), func.ST_X(func.ST_PointOnSurface(inter)),
               func.ST_Y(func.ST_PointOnSurface(inter)))
        .select_from(me).join(sibling, and_(*conditions)).where(me.c.id == zone.id)
        .order_by(sibling.c.code)).all()
    for code, overlap_m2, x, y in rows:
        if overlap_m2 > geo.OVERLAP_TOLERANCE_M2:
            raise geo.GeometryError(
                "sibling_overlap",
                f"{zone.level} {zone.code} overlaps {zone.level} {code} by {overlap_m2:.0f} m² "
                f"(near {x:.6f}, {y:.6f}); siblings must not overlap",
                location=[x, y], zone_code=zone.code, other_code=code)


def check_children_within(session: Session, zone) -> None:
    child_level = CHILD_LEVEL[zone.level]
    if child_level is None:
        return
    child = MODELS[child_level]
    parent = MODELS[zone.level]
    rows = session.execute(
        select(child.code, func.ST_X(func.ST_PointOnSurface(func.ST_Difference(child.geom, parent.geom))),
               func.ST_Y(func.ST_PointOnSurface(func.ST_Difference(child.geom, parent.geom))))
        .join(parent, parent.id == getattr(child, PARENT_FK[child_level]))
        .where(parent.id == zone.id, ~func.ST_CoveredBy(child.geom, parent.geom),
               ~func.ST_CoveredBy(child.geom, geo.buffer_m(parent.geom, geo.SNAP_TOLERANCE_M)))
        .order_by(child.code)).all()
    if rows:
        codes = ", ".join(r[0] for r in rows[:5]) + (" …" if len(rows) > 5 else "")
        raise geo.GeometryError(
            "children_outside",
            f"the new outline of {zone.level} {zone.code} leaves {len(rows)} {child_level}(s) outside "
            f"({codes}, near {rows[0][1]:.6f}, {rows[0][2]:.6f}); redraw those {child_level}s first",
            location=[rows[0][1], rows[0][2]], zone_code=zone.code)


def revisions(session: Session, level: str, code: str) -> list[BoundaryRevision]:
    return list(session.scalars(select(BoundaryRevision)
                                .where(BoundaryRevision.level == level, BoundaryRevision.zone_code == code)
                                .order_by(BoundaryRevision.changed_at.desc(), BoundaryRevision.id.desc())))


# --- locating a point ---------------------------------------------------------

@dataclass(frozen=True)
class Location:
    """Where a point falls. ``level`` is the finest zone found: grid, or area/town (属地兜底)."""
    town: Town
    area: Area | None
    grid: Grid | None

    @property
    def level(self) -> str:
        return "grid" if self.grid else "area" if self.area else "town"


def locate(session: Session, lon: float, lat: float) -> Location:
    """The grid, area and town covering a point; a point on a shared edge goes to the lowest code."""
    geo.check_lon_lat(lon, lat)
    pt = geo.point_sql(float(lon), float(lat))
    # The common case (a point in a grid) is one query; gaps fall back level by level (属地兜底).
    grid = session.scalar(select(Grid).options(joinedload(Grid.area).joinedload(Area.town))
                          .where(func.ST_Covers(Grid.geom, pt), Grid.retired_at.is_(None))
                          .order_by(Grid.code).limit(1))
    if grid is not None:
        return Location(town=grid.area.town, area=grid.area, grid=grid)
    area = session.scalar(select(Area).options(joinedload(Area.town))
                          .where(func.ST_Covers(Area.geom, pt)).order_by(Area.code).limit(1))
    if area is not None:
        return Location(town=area.town, area=area, grid=None)
    town = session.scalar(select(Town).where(func.ST_Covers(Town.geom, pt)).order_by(Town.code).limit(1))
    if town is not None:
        return Location(town=town, area=None, grid=None)
    raise GridsysError("point_outside_towns",
                       f"the point {float(lon):.6f}, {float(lat):.6f} lies outside every town; "
                       "check the location (longitude first) or ask an administrator to add the town",
                       location=[float(lon), float(lat)])


# --- coverage -----------------------------------------------------------------

@dataclass(frozen=True)
class CoverageRow:
    level: str
    code: str
    name: str
    children: int
    area_m2: float
    covered_m2: float
    overlap_m2: float

    @property
    def coverage_pct(self) -> float:
        return 100.0 * self.covered_m2 / self.area_m2 if self.area_m2 else 0.0

    @property
    def gap_m2(self) -> float:
        return max(self.area_m2 - self.covered_m2, 0.0)


def coverage(session: Session, town_code: str | None = None, codes=None) -> list[CoverageRow]:
    """Per town (by its areas) and per area (by its grids): coverage %, gaps and overlaps, computed
    now (a union of every child: ~7 ms a zone of 20 grids of 100 vertices; pages use stored_coverage).
    ``codes``: only these towns and areas."""
    rows: list[CoverageRow] = []
    for parent_level in ("town", "area"):
        parent = MODELS[parent_level]
        child = MODELS[CHILD_LEVEL[parent_level]]
        union = func.ST_Union(child.geom)
        query = (select(parent.code, parent.name, func.count(child.id), geo.area_m2(parent.geom),
                        func.coalesce(geo.area_m2(func.ST_Intersection(parent.geom, union)), 0),
                        func.coalesce(func.sum(geo.area_m2(child.geom)) - geo.area_m2(union), 0))
                 .outerjoin(child, and_(getattr(child, PARENT_FK[CHILD_LEVEL[parent_level]]) == parent.id,
                                        *([child.retired_at.is_(None)] if child is Grid else [])))
                 .group_by(parent.id).order_by(parent.code))
        if town_code:
            query = query.where(parent.code.startswith(town_code))
        if codes is not None:
            query = query.where(parent.code.in_(list(codes)))
        for code, name, n, area, covered, overlap in session.execute(query):
            rows.append(CoverageRow(parent_level, code, name, n, area, covered, max(overlap, 0.0)))
    rows.sort(key=lambda r: r.code)
    return rows


def stored_coverage(session: Session, codes) -> list[CoverageRow]:
    """coverage() of these towns and areas as the database keeps it (models.CoverageFigures,
    refreshed by triggers whenever a zone or a child changes shape): two reads by code and key."""
    rows: list[CoverageRow] = []
    for level in ("town", "area"):
        parent, figures = MODELS[level], COVERAGE[level]
        key = figures.town_id if level == "town" else figures.area_id
        query = (select(parent.code, parent.name, figures.children, figures.area_m2, figures.covered_m2,
                        figures.overlap_m2)
                 .join(figures, key == parent.id).where(parent.code.in_(list(codes))))
        rows += [CoverageRow(level, *row) for row in session.execute(query)]
    rows.sort(key=lambda r: r.code)
    return rows
