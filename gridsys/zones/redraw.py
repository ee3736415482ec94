"""Boundary edits in the zones domain: plans (no writes). Checking and writing a plan's zones is
zones/plan_writer.py; the preview and the save, which also move incidents and end assignments,
are gridsys/boundaries.py.

Every edit — reshape, new grid, split, merge, move to another area, delete, batch import,
restore — becomes a ``Plan``: the final geometry of each zone it touches. Neighbours follow
a reshape: they give up the ground it takes, and ground it frees goes to the neighbour
sharing the longest edge with it (or stays a reported gap). The parent's outline never
changes through a child's edit, and no plan may leave an overlap.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.ops import split as split_polygon
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import geo
from ..errors import GridsysError, NotFound
from ..inputs import has_visible, text_or_none
from . import services
from .models import MODELS, Area, BoundaryRevision, Grid
from .transfer import parse_features

SLIVER_M2 = 10.0  # m²: pieces smaller than this are floating-point crumbs of a difference, not ground
GAP_POLICIES = ("neighbour", "gap")


@dataclass
class Change:
    level: str
    code: str                      # the code after the edit
    old: object | None             # shapely geometry before (None: created)
    new: object | None             # after (None: deleted / merged away)
    zone_id: int | None = None
    name: str | None = None
    parent_code: str | None = None
    old_code: str | None = None    # when a move renumbers the grid


@dataclass
class Plan:
    kind: str
    level: str
    target: str
    parent_code: str | None
    changes: list[Change] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def change(self, code: str) -> Change | None:
        return next((c for c in self.changes if c.code == code), None)


def _refuse(code: str, message: str, geom=None, **details) -> GridsysError:
    location = None
    if geom is not None and not geom.is_empty:
        pt = geom.representative_point()
        location = [round(pt.x, 7), round(pt.y, 7)]
    return geo.GeometryError(code, message, location=location, **details)


def _zone(session: Session, level: str, code: str, *, lock: bool = False):
    model = MODELS[level]
    query = select(model).where(model.code == code)
    if model is Grid:
        query = query.where(Grid.retired_at.is_(None))
    if lock:
        query = query.with_for_update()
    zone = session.scalar(query)
    if zone is None:
        raise NotFound(f"{level}_not_found", f"no {level} with code {code}")
    return zone


def _parent(session: Session, level: str, zone):
    parent_level = services.PARENT_LEVEL[level]
    return getattr(zone, "area" if level == "grid" else "town") if parent_level else None


def _siblings(session: Session, level: str, parent_id: int | None, *, lock: bool = False) -> list:
    model = MODELS[level]
    query = select(model).order_by(model.code)
    if level == "grid":
        query = query.where(Grid.area_id == parent_id, Grid.retired_at.is_(None))
    elif level == "area":
        query = query.where(Area.town_id == parent_id)
    if lock:
        query = query.with_for_update()
    return list(session.scalars(query))


def _polygonal(geom, level: str):
    """Keep the polygonal part of a GEOS result; a grid must come out as one Polygon. A result
    with no area at all (two shapes meeting along an edge give a LineString, at a corner a Point)
    is empty."""
    if geom.is_empty:
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in geom.geoms if g.geom_type in geo.POLYGONAL]
        geom = shapely.union_all(parts) if parts else Polygon()
    elif geom.geom_type not in geo.POLYGONAL:
        geom = Polygon()
    return geom


def _drop_slivers(session: Session, geom):
    """Remove parts below SLIVER_M2 (floating-point crumbs of a difference)."""
    if geom.is_empty or geom.geom_type == "Polygon":
        return geom
    parts = list(geom.geoms)
    areas = geo.areas_m2(session, parts)
    kept = [p for p, a in zip(parts, areas) if a >= SLIVER_M2]
    if not kept:
        return Polygon()
    return kept[0] if len(kept) == 1 else MultiPolygon(kept)


def _fit(session: Session, geom, level: str, code: str, what: str, before=None):
    """A neighbour's new shape, refused if it vanished or (for grids) fell apart."""
    geom = _drop_slivers(session, _polygonal(geom, level))
    if geom.is_empty:
        raise _refuse("neighbour_swallowed", f"the edit would swallow {level} {code} whole: merge or delete "
                                             f"it instead", before, other_code=code)
    if level == "grid" and geom.geom_type != "Polygon":
        pieces = sorted(geom.geoms, key=lambda g: g.area)
        raise _refuse("neighbour_split", f"the edit would cut {what} {code} in two pieces; a grid is one "
                                         "polygon: reshape so it stays whole", pieces[0], other_code=code)
    if level != "grid" and geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    return geom


def _check_inside(session: Session, geom, parent, level: str, code: str) -> None:
    if parent is None:
        return
    parent_geom = geo.from_db(parent.geom)
    if parent_geom.covers(geom):
        return
    spill = _drop_slivers(session, _polygonal(geom.difference(parent_geom), level))
    if spill.is_empty:
        return
    model = type(parent)
    inside = session.scalar(select(func.ST_CoveredBy(geo.wkb_param(geom),
                                                     geo.buffer_m(model.geom, geo.SNAP_TOLERANCE_M)))
                            .where(model.id == parent.id))
    if not inside:
        raise _refuse("outside_parent", f"{level} {code} would spill outside its "
                                        f"{services.PARENT_LEVEL[level]} {parent.code}; keep it inside",
                      spill, zone_code=code)


def snap_to(geom, references, level: str):
    """Snap a drawn outline's vertices to the neighbours' and the parent's (within the snapping
    tolerance), so shared edges stay shared despite the editor's rounding."""
    if not references or geom.is_empty:
        return geom
    tolerance = geo.snap_tolerance_degrees(geom.centroid.y)
    reference = shapely.union_all([r.boundary for r in references])
    snapped = shapely.snap(geom, reference, tolerance)
    if not snapped.is_valid:
        snapped = _polygonal(shapely.make_valid(snapped), level)
    if level == "grid" and snapped.geom_type != "Polygon":
        return geom
    return snapped


def _new_geometry(obj, level: str):
    geom = geo.parse_geometry(obj, services.EXPECTED_TYPE[level])
    if level != "grid" and geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    return geom


# --- planning ------------------------------------------------------------------

def plan_reshape(session: Session, level: str, code: str, geometry, *, gap_policy: str = "neighbour",
                 kind: str = "reshape", lock: bool = False) -> Plan:
    """Reshape one zone; siblings give up or take the difference, the parent is unchanged."""
    if gap_policy not in GAP_POLICIES:
        raise GridsysError("gap_policy_unknown", f"gap_policy is {' or '.join(GAP_POLICIES)}")
    zone = _zone(session, level, code, lock=lock)
    new = geometry if hasattr(geometry, "geom_type") else _new_geometry(geometry, level)
    parent = _parent(session, level, zone)
    siblings = [s for s in _siblings(session, level, parent.id if parent else None, lock=lock) if s.id != zone.id]
    shapes = {s.code: geo.from_db(s.geom) for s in siblings}
    new = snap_to(new, [*shapes.values(), *([geo.from_db(parent.geom)] if parent else [])], level)
    _check_inside(session, new, parent, level, code)
    old = geo.from_db(zone.geom)
    plan = Plan(kind, level, code, parent.code if parent else None, versions={code: zone.version})
    plan.changes.append(Change(level, code, old, new, zone.id))
    changed: dict[str, object] = {}
    for s in siblings:  # neighbours give up the ground the zone now takes
        shape = shapes[s.code]
        if shape.intersects(new) and not shape.touches(new):
            changed[s.code] = shape.difference(new)
    freed = _drop_slivers(session, _polygonal(old.difference(new), level))
    if gap_policy == "neighbour" and not freed.is_empty:
        for piece in getattr(freed, "geoms", [freed]):  # each freed piece to its longest-edge neighbour
            best, best_len = None, 0.0
            for s in siblings:
                current = changed.get(s.code, shapes[s.code])
                shared = current.boundary.intersection(piece.boundary).length
                if shared > best_len:
                    best, best_len = s.code, shared
            if best is not None:
                changed[best] = changed.get(best, shapes[best]).union(piece)
    for s in siblings:
        if s.code in changed:
            plan.changes.append(Change(level, s.code, shapes[s.code],
                                       _fit(session, changed[s.code], level, s.code, "neighbour", shapes[s.code]),
                                       s.id))
            plan.versions[s.code] = s.version
    return plan


def plan_create(session: Session, area_code: str, geometry, name: str, *, lock: bool = False) -> Plan:
    """A new grid drawn in an area; the grids it overlaps give up that ground."""
    area = _zone(session, "area", area_code, lock=lock)
    new = geometry if hasattr(geometry, "geom_type") else _new_geometry(geometry, "grid")
    name = (text_or_none(name, "name_invalid", "name") or "").strip()
    if not has_visible(name) or len(name) > 100:
        raise GridsysError("name_invalid", "a new grid needs a name of 1 to 100 characters")
    code = next_grid_code(session, area)
    _check_inside(session, new, area, "grid", code)
    plan = Plan("create", "grid", code, area.code)
    plan.changes.append(Change("grid", code, None, new, None, name=name, parent_code=area.code))
    for s in _siblings(session, "grid", area.id, lock=lock):
        shape = geo.from_db(s.geom)
        if shape.intersects(new) and not shape.touches(new):
            plan.changes.append(Change("grid", s.code, shape, _fit(session, shape.difference(new), "grid", s.code,
                                                                   "grid", shape), s.id))
            plan.versions[s.code] = s.version
    return plan


def next_grid_code(session: Session, area) -> str:
    """The lowest sequence never used in the area: codes left behind by moves keep their history."""
    used = {int(c[-3:]) for c in session.scalars(select(Grid.code).where(Grid.code.startswith(area.code)))}
    used |= {int(c[-3:]) for c in session.scalars(
        select(BoundaryRevision.zone_code).where(BoundaryRevision.level == "grid",
                                                 BoundaryRevision.zone_code.startswith(area.code)))}
    free = next((n for n in range(1, 1000) if n not in used), None)
    if free is None:
        raise GridsysError("area_full", f"area {area.code} already has 999 grid codes")
    return f"{area.code}{free:03d}"


def plan_split(session: Session, code: str, line_obj, *, name: str | None = None, lock: bool = False) -> Plan:
    """Split a grid by a drawn line into two grids; the larger part keeps the code."""
    zone = _zone(session, "grid", code, lock=lock)
    try:
        coords = line_obj["coordinates"] if line_obj.get("type") == "LineString" else None
        for x, y in coords:   # before shapely sees them: NaN or text is refused, not computed with
            geo.check_lon_lat(x, y)
        line = LineString(coords)
    except (TypeError, ValueError, AttributeError, KeyError, shapely.errors.GEOSException):
        raise GridsysError("split_line_invalid", "draw the split as a GeoJSON LineString of 2 or more points")
    old = geo.from_db(zone.geom)
    pieces = [p for p in split_polygon(old, line).geoms if p.geom_type == "Polygon"]
    areas = geo.areas_m2(session, pieces)
    pieces = [p for p, a in sorted(zip(pieces, areas), key=lambda pa: -pa[1]) if a >= SLIVER_M2]
    if len(pieces) != 2:
        raise _refuse("split_line_invalid", "the line must cross the grid from edge to edge exactly once, "
                                            f"cutting it in two (it makes {len(pieces)} part(s))", line)
    area = zone.area
    name = (text_or_none(name, "name_invalid", "name") or "").strip() or f"{zone.name}（拆分）"
    if not has_visible(name) or len(name) > 100:
        raise GridsysError("name_invalid", "the new grid's name is 1 to 100 characters")
    new_code = next_grid_code(session, area)
    plan = Plan("split", "grid", code, area.code, versions={code: zone.version})
    plan.changes.append(Change("grid", code, old, pieces[0], zone.id))
    plan.changes.append(Change("grid", new_code, None, pieces[1], None, name=name, parent_code=area.code))
    return plan


def plan_merge(session: Session, code: str, other_code: str, *, lock: bool = False) -> Plan:
    """Merge two adjacent grids of one area; the lower code survives, the other is retired."""
    a, b = sorted([_zone(session, "grid", code, lock=lock), _zone(session, "grid", other_code, lock=lock)],
                  key=lambda z: z.code)
    if a.id == b.id:
        raise GridsysError("merge_same_grid", "choose two different grids to merge")
    if a.area_id != b.area_id:
        raise GridsysError("merge_across_areas", "only grids of the same area can be merged: move one first")
    ga, gb = geo.from_db(a.geom), geo.from_db(b.geom)
    if ga.boundary.intersection(gb.boundary).length == 0:
        raise _refuse("merge_not_adjacent", f"grids {a.code} and {b.code} share no edge", gb)
    merged = _polygonal(shapely.union_all([ga, gb]), "grid")
    merged = _drop_slivers(session, merged)
    if merged.geom_type != "Polygon":
        raise _refuse("merge_not_adjacent", f"grids {a.code} and {b.code} do not form one polygon", gb)
    plan = Plan("merge", "grid", a.code, a.area.code, versions={a.code: a.version, b.code: b.version})
    plan.changes.append(Change("grid", a.code, ga, merged, a.id))
    plan.changes.append(Change("grid", b.code, gb, None, b.id))
    return plan


def plan_delete(session: Session, code: str, *, gap_policy: str = "neighbour", lock: bool = False) -> Plan:
    """Retire a grid; its ground goes to neighbours (longest shared edge) or stays a gap."""
    zone = _zone(session, "grid", code, lock=lock)
    old = geo.from_db(zone.geom)
    plan = Plan("delete", "grid", code, zone.area.code, versions={code: zone.version})
    plan.changes.append(Change("grid", code, old, None, zone.id))
    if gap_policy == "neighbour":
        siblings = [s for s in _siblings(session, "grid", zone.area_id, lock=lock) if s.id != zone.id]
        best, best_len = None, 0.0
        for s in siblings:
            shared = geo.from_db(s.geom).boundary.intersection(old.boundary).length
            if shared > best_len:
                best, best_len = s, shared
        if best is not None:
            merged = _drop_slivers(session, _polygonal(shapely.union_all([geo.from_db(best.geom), old]), "grid"))
            if merged.geom_type == "Polygon":
                plan.changes.append(Change("grid", best.code, geo.from_db(best.geom), merged, best.id))
                plan.versions[best.code] = best.version
    elif gap_policy not in GAP_POLICIES:
        raise GridsysError("gap_policy_unknown", f"gap_policy is {' or '.join(GAP_POLICIES)}")
    return plan


def plan_move(session: Session, code: str, area_code: str, *, lock: bool = False) -> Plan:
    """Move a grid to another area of the same town: both areas' outlines follow, the grid is
    renumbered under its new area, its workers stay."""
    zone = _zone(session, "grid", code, lock=lock)
    target = _zone(session, "area", area_code, lock=lock)
    source = zone.area
    if target.id == source.id:
        raise GridsysError("move_same_area", f"grid {code} already belongs to area {area_code}")
    if target.town_id != source.town_id:
        raise GridsysError("move_across_towns", "a grid can only move to another area of the same town")
    shape = geo.from_db(zone.geom)
    target_geom, source_geom = geo.from_db(target.geom), geo.from_db(source.geom)
    if target_geom.boundary.intersection(shape.boundary).length == 0:
        raise _refuse("move_not_adjacent", f"grid {code} does not touch area {area_code}", shape)
    new_target = _polygonal(shapely.union_all([target_geom, shape]), "area")
    new_source = _drop_slivers(session, _polygonal(source_geom.difference(shape), "area"))
    if new_source.is_empty:
        raise _refuse("area_emptied", f"grid {code} is all of area {source.code}: an area cannot be emptied", shape)
    as_multi = lambda g: g if g.geom_type == "MultiPolygon" else MultiPolygon([g])  # noqa: E731
    new_code = next_grid_code(session, target)
    plan = Plan("move", "grid", code, target.code, versions={code: zone.version, source.code: source.version,
                                                            target.code: target.version})
    plan.changes.append(Change("grid", new_code, shape, shape, zone.id, parent_code=target.code, old_code=code))
    plan.changes.append(Change("area", source.code, source_geom, as_multi(new_source), source.id))
    plan.changes.append(Change("area", target.code, target_geom, as_multi(new_target), target.id))
    return plan


def plan_batch(session: Session, area_code: str, collection, *, lock: bool = False) -> Plan:
    """Replace an area's grids with a FeatureCollection of grids (codes of that area): existing
    codes are reshaped, new codes created, missing ones retired; the result must tile no more
    than the area."""
    area = _zone(session, "area", area_code, lock=lock)
    features = parse_features(session, collection)
    wrong = [f for f in features if f.level != "grid" or services.parent_code("grid", f.code) != area.code]
    if wrong:
        raise GridsysError("batch_foreign_feature", f"feature #{wrong[0].index} ({wrong[0].code}) is not a grid of "
                                                    f"area {area.code}", feature_index=wrong[0].index)
    plan = Plan("batch", "grid", area.code, area.code)
    current = {s.code: s for s in _siblings(session, "grid", area.id, lock=lock)}
    retired = set(session.scalars(select(Grid.code).where(Grid.area_id == area.id, Grid.retired_at.is_not(None))))
    for f in features:
        if f.code in retired:
            raise GridsysError("grid_code_retired", f"feature #{f.index}: grid code {f.code} was retired; "
                                                    "give the grid a new code", feature_index=f.index)
        _check_inside(session, f.geom, area, "grid", f.code)
        zone = current.get(f.code)
        plan.changes.append(Change("grid", f.code, geo.from_db(zone.geom) if zone else None, f.geom,
                                   zone.id if zone else None, name=f.name, parent_code=area.code))
        if zone:
            plan.versions[f.code] = zone.version
    for code, zone in current.items():
        if not any(f.code == code for f in features):
            plan.changes.append(Change("grid", code, geo.from_db(zone.geom), None, zone.id))
            plan.versions[code] = zone.version
    return plan


def plan_restore(session: Session, code: str, revision_id: int, *, gap_policy: str = "neighbour",
                 lock: bool = False) -> Plan:
    """Bring a grid back to the shape it had after revision ``revision_id`` (same checks)."""
    revision = session.get(BoundaryRevision, revision_id)
    if revision is None or revision.level != "grid" or revision.zone_code != code or revision.new_geom is None:
        raise NotFound("revision_not_found", f"grid {code} has no revision {revision_id} to restore")
    return plan_reshape(session, "grid", code, geo.from_db(revision.new_geom), gap_policy=gap_policy,
                        kind="restore", lock=lock)
