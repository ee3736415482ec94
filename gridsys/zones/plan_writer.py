"""A boundary plan (zones/redraw.py) checked and written: the checks after the edit, the areas it
changes, optimistic versions, and its zones written with a revision each. Flushes, never commits."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime

import shapely
from shapely.geometry import Polygon
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import geo
from ..errors import Conflict, GridsysError
from ..inputs import text_or_none, whole_number
from . import services
from .models import MODELS, Area, BoundaryRevision, Grid
from .redraw import Change, Plan, _drop_slivers, _polygonal, _refuse, _zone


# --- evaluating -------------------------------------------------------------------

def check_plan(session: Session, plan: Plan) -> dict:
    """The checks after the edit: every new shape valid, no overlap between the siblings
    touched, and how much gap the edit opens or closes. Refuses with the faulty spot."""
    finals = [c for c in plan.changes if c.new is not None and c.level == plan.level]
    for c in finals:
        if not c.new.is_valid:
            raise _refuse("geometry_invalid", f"{c.level} {c.code} would not be a valid polygon", c.new)
    for i, a in enumerate(finals):
        for b in finals[i + 1:]:
            if a.new.intersects(b.new) and not a.new.touches(b.new):
                overlap = _drop_slivers(session, _polygonal(a.new.intersection(b.new), "area"))
                if not overlap.is_empty:
                    raise _refuse("sibling_overlap", f"{a.level}s {a.code} and {b.code} would overlap", overlap,
                                  zone_code=a.code, other_code=b.code)
    before = shapely.union_all([c.old for c in plan.changes if c.old is not None and c.level == plan.level])
    after = shapely.union_all([c.new for c in finals]) if finals else Polygon()
    opened = _drop_slivers(session, _polygonal(before.difference(after), "area"))
    closed = _drop_slivers(session, _polygonal(after.difference(before), "area"))
    opened_m2, closed_m2 = geo.areas_m2(session, [opened, closed]) if not (opened.is_empty and closed.is_empty) \
        else (0.0, 0.0)
    return {"gap_opened_m2": round(opened_m2, 1), "gap_closed_m2": round(closed_m2, 1)}


def area_changes(session: Session, plan: Plan) -> list[dict]:
    olds = [c.old if c.old is not None else Polygon() for c in plan.changes]
    news = [c.new if c.new is not None else Polygon() for c in plan.changes]
    measured = geo.areas_m2(session, olds + news)
    n = len(plan.changes)
    return [{"level": c.level, "code": c.code, "old_code": c.old_code,
             "action": "create" if c.old is None else "delete" if c.new is None else
             ("move" if c.old_code else "update"),
             "area_before_m2": round(measured[i], 1), "area_after_m2": round(measured[n + i], 1),
             "delta_m2": round(measured[n + i] - measured[i], 1)} for i, c in enumerate(plan.changes)]


def check_children(session: Session, plan: Plan) -> None:
    """Redrawing an area or town: its own children must stay inside its new outline (grids the
    plan itself redraws or moves are checked as part of the plan, not here)."""
    planned = {m.code for m in plan.changes if m.level == "grid" and m.zone_id} | \
        {m.old_code for m in plan.changes if m.old_code}
    for c in plan.changes:
        if c.level == "grid" or c.new is None or c.zone_id is None:
            continue
        child = MODELS[services.CHILD_LEVEL[c.level]]
        fk = Grid.area_id if child is Grid else Area.town_id
        query = select(child.code, child.geom).where(fk == c.zone_id)
        if child is Grid:
            query = query.where(Grid.retired_at.is_(None))
        for code, raw in session.execute(query):
            if child is Grid and code in planned:
                continue
            shape = geo.from_db(raw)
            spill = _drop_slivers(session, _polygonal(shape.difference(c.new), "area"))
            if not spill.is_empty:
                raise _refuse("children_outside", f"{services.CHILD_LEVEL[c.level]} {code} would fall outside the "
                                                  f"new outline of {c.level} {c.code}: redraw it first", spill,
                              zone_code=c.code, other_code=code)


# --- the preview token: save only what was previewed ---------------------------------

PREVIEW_TOKEN_PATTERN = "^[0-9a-f]{64}$"


def preview_token(plan: Plan) -> str:
    """Names exactly this plan: what every zone it touches becomes (normalised shape, code, name,
    parent) and the versions it was computed against. Any other shape, option or concurrent edit
    gives another token. An integrity check for the editor, not a credential."""
    def shape(geom):
        return None if geom is None else shapely.to_wkt(shapely.normalize(geom), rounding_precision=9, trim=True)
    identity = {"kind": plan.kind, "level": plan.level, "target": plan.target, "parent": plan.parent_code,
                "versions": sorted(plan.versions.items()),
                "changes": [[c.level, c.code, c.old_code, c.name, c.parent_code, shape(c.new)] for c in plan.changes]}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def check_preview_token(plan: Plan, token) -> None:
    """Refuse to save a plan that was not the one last previewed (see ``preview_token``)."""
    if token is None or token == "":
        raise GridsysError("preview_required", "preview the change first and send the preview_token it "
                                               "answered: only a previewed change is saved")
    if not isinstance(token, str) or not re.fullmatch(PREVIEW_TOKEN_PATTERN, token):
        raise GridsysError("preview_token_invalid", "preview_token is the 64-character text a preview "
                                                    "answered", status=400)
    if not hmac.compare_digest(token, preview_token(plan)):
        raise Conflict("preview_stale", "this is not the change that was previewed (the shape, an option or a "
                                        "neighbouring zone changed since): preview again, then save")


# --- saving -----------------------------------------------------------------------

def check_versions(plan: Plan, expected: dict | None) -> None:
    """Optimistic concurrency: the client says which versions it previewed."""
    for code, version in (expected or {}).items():
        current = plan.versions.get(code)
        version = whole_number(version, "version_invalid", f"the version of {code}")
        if current is not None and current != version:
            raise Conflict("stale_boundary", f"{code} was changed by someone else meanwhile (version {current}, "
                                             f"you saw {version}): reload and redo the edit")


@dataclass
class Written:
    revision_ids: list[int]
    retired_grid_ids: list[int]   # grids emptied by the plan: what hangs on them ends (people's assignments)


def check_reason(reason) -> str:
    reason = (text_or_none(reason, "reason_invalid", "reason") or "").strip()
    if not reason:
        raise GridsysError("reason_required", "say why the boundary changes (kept in the history)")
    return reason


def write_plan(session: Session, plan: Plan, *, actor: str, reason: str, at: datetime) -> Written:
    """Write the plan's zones in the caller's transaction, a revision each; flushes. The caller
    (gridsys/boundaries.py) checked it first and moves what depends on the zones after."""
    revision_ids, retired = [], []
    for c in sorted(plan.changes, key=lambda c: (c.level != "area", c.new is None)):
        revision_ids.append(_write_change(session, plan, c, actor=actor, reason=reason, at=at))
        if c.new is None and c.level == "grid":
            retired.append(c.zone_id)
    session.flush()
    return Written([r for r in revision_ids if r is not None], retired)


def _write_change(session: Session, plan: Plan, c: Change, *, actor: str, reason: str, at: datetime):
    model = MODELS[c.level]
    if c.new is None:  # retire (grids only): keep the row for closed incidents
        zone = session.get(model, c.zone_id)
        zone.geom = geo.to_db(Polygon())
        zone.retired_at = at
        zone.version += 1
        revision = BoundaryRevision(level=c.level, zone_code=c.code, action=plan.kind if plan.kind != "batch"
                                    else "delete", actor=actor, reason=reason, old_geom=geo.to_db(c.old),
                                    new_geom=None, changed_at=at)
        session.add(revision)
        session.flush()
        return revision.id
    if c.old_code:  # a move: same row, new code and area
        zone = session.get(model, c.zone_id)
        target = _zone(session, "area", c.parent_code)
        zone.code, zone.area_id, zone.version = c.code, target.id, zone.version + 1
        revision = BoundaryRevision(level=c.level, zone_code=c.code, action="move", actor=actor,
                                    reason=f"{reason} (was {c.old_code})", old_geom=geo.to_db(c.old),
                                    new_geom=geo.to_db(c.new), changed_at=at)
        session.add(revision)
        session.flush()
        return revision.id
    name = c.name or (session.get(model, c.zone_id).name if c.zone_id else c.code)
    last = session.scalar(select(func.max(BoundaryRevision.id))) or 0
    zone = services.write_zone(session, c.level, c.code, name, c.new, actor=actor, reason=reason,
                               action=plan.kind if c.old is not None else "create")
    c.zone_id = zone.id
    # write_zone adds a revision only when the shape changed: report only what this save wrote.
    return session.scalar(select(BoundaryRevision.id).where(BoundaryRevision.zone_code == c.code,
                                                            BoundaryRevision.id > last))
