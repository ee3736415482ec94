"""Boundary changes across the domains: an edit planned in zones (zones/plan_writer.py) moves the open
incidents standing on the ground it changes (incidents/rehome.py) and ends the assignments of
grids it retires (people). This module sits above the three and calls each one's own API; none
of them imports it. Preview writes nothing; save is one transaction (flushes; the caller commits).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from . import geo
from . import applog
from .clock import now
from .errors import GridsysError
from .incidents.rehome import Move, apply_moves, planned_moves
from .people.services import end_grid_assignments
from .zones import plan_writer
from .zones.redraw import Plan


def check_moves(moves: list[Move]) -> None:
    """An edit may not leave an open incident with nobody to handle it."""
    stranded = [m for m in moves if m.to_handler is None]
    if stranded:
        raise GridsysError("incidents_stranded",
                           f"{len(stranded)} open incident(s) would have nobody to handle them (e.g. "
                           f"{stranded[0].code}): give the area a leader first, or keep that ground in a grid",
                           incident_codes=[m.code for m in stranded[:20]])


def _checked(session: Session, plan: Plan) -> tuple[dict, list[Move]]:
    checks = plan_writer.check_plan(session, plan)
    plan_writer.check_children(session, plan)
    moves = planned_moves(session, plan)
    check_moves(moves)
    return checks, moves


def preview(session: Session, plan: Plan) -> dict:
    """The effect of a plan without writing: checks, areas, neighbours, incidents that move."""
    checks, moves = _checked(session, plan)
    return {"kind": plan.kind, "level": plan.level, "target": plan.target, "checks": {"ok": True, **checks},
            "preview_token": plan_writer.preview_token(plan),
            "changes": plan_writer.area_changes(session, plan), "versions": plan.versions,
            "neighbours": [c.code for c in plan.changes if c.code != plan.target and c.level == plan.level],
            "moves": [m.as_dict() for m in moves],
            "geometries": {c.code: geo.to_geojson(c.new) if c.new is not None else None for c in plan.changes}}


def save(session: Session, plan: Plan, *, actor: str, reason: str, expected_versions: dict | None = None,
         preview_token=None, require_preview: bool = False, at=None) -> dict:
    """Write the plan in the caller's transaction: geometries with a revision each, retirements
    (their assignments end), then the open incidents re-homed. With ``require_preview`` (the
    API, hence the map editor) only the plan a preview named by ``preview_token`` is saved;
    callers that build the plan themselves (CLI, benchmarks) pass no token."""
    reason = plan_writer.check_reason(reason)
    plan_writer.check_versions(plan, expected_versions)
    if require_preview:
        plan_writer.check_preview_token(plan, preview_token)
    at = at or now()
    checks, moves = _checked(session, plan)
    written = plan_writer.write_plan(session, plan, actor=actor, reason=reason, at=at)
    if written.retired_grid_ids:
        end_grid_assignments(session, written.retired_grid_ids, at)
    moved = apply_moves(session, moves, actor=actor, reason=reason, at=at)
    applog.event("redraw", user=actor, edit=plan.kind, target=plan.target, revisions=len(written.revision_ids),
                 zones=[c.code for c in plan.changes][:50], moved=len(moved))
    return {"kind": plan.kind, "target": plan.target, "checks": {"ok": True, **checks},
            "revisions": written.revision_ids, "moves": [m.as_dict() for m in moved],
            "changes": plan_writer.area_changes(session, plan)}
