"""Open incidents follow boundary changes: which ones move (grid, area, handler) and moving them.

Only open incidents whose point lies where a boundary changed are looked at (one GiST query),
so re-homing costs what the edit touches, not the size of the town. Closed incidents keep
their history.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import shapely
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from .. import geo
from ..people.models import User
from ..zones.models import Area, Grid, Town
from ..zones.services import Location, parent_code
from . import lifecycle, routing
from .models import OPEN_STATUSES, Category, Incident
from .deadlines import due_hours


@dataclass
class Move:
    incident_id: int
    code: str
    from_grid: str | None
    to_grid: str | None
    from_area: str | None
    to_area: str | None
    from_handler: str | None
    to_handler: str | None
    to_assignee_id: int | None = None
    assigned_as: str | None = None
    routing: dict = field(default_factory=dict)
    deadline_hours: int | None = None  # for an incident dispatched for the first time by the move

    def as_dict(self) -> dict:
        return {"incident": self.incident_id, "code": self.code, "from_grid": self.from_grid,
                "to_grid": self.to_grid, "from_area": self.from_area, "to_area": self.to_area,
                "from_handler": self.from_handler, "to_handler": self.to_handler}


def _changed_region(plan):
    parts = []
    for c in plan.changes:
        if c.old_code:  # a moved grid keeps its shape; its incidents are found by grid below
            continue
        old = c.old if c.old is not None else shapely.Polygon()
        new = c.new if c.new is not None else shapely.Polygon()
        parts.append(old.symmetric_difference(new))
    return shapely.union_all(parts) if parts else shapely.Polygon()


def planned_moves(session: Session, plan) -> list[Move]:
    """The open incidents the plan would move, with their new grid, area and handler."""
    region = _changed_region(plan)
    moved_grid_ids = [c.zone_id for c in plan.changes if c.old_code]
    if region.is_empty and not moved_grid_ids:
        return []
    grid_alias, area_alias, user_alias = aliased(Grid), aliased(Area), aliased(User)
    conditions = []
    if not region.is_empty:
        conditions.append(Incident.geom.intersects(geo.wkb_param(region)))
    if moved_grid_ids:
        conditions.append(Incident.grid_id.in_(moved_grid_ids))
    rows = session.execute(
        select(Incident.id, Incident.code, grid_alias.code, area_alias.code, user_alias.username,
               Incident.category_code, Incident.town_id, Incident.geom.ST_X(), Incident.geom.ST_Y(),
               Incident.grid_id, Incident.priority)
        .outerjoin(grid_alias, grid_alias.id == Incident.grid_id)
        .outerjoin(area_alias, area_alias.id == Incident.area_id)
        .outerjoin(user_alias, user_alias.id == Incident.assignee_id)
        .where(Incident.status.in_(OPEN_STATUSES), or_(*conditions))
        .order_by(Incident.id)).all()
    if not rows:
        return []
    points = shapely.points(np.array([[r[7], r[8]] for r in rows]))
    homes = _new_homes(session, plan, rows, points)
    categories = {c.code: c for c in session.scalars(select(Category))}
    decisions: dict[tuple, routing.Routing] = {}
    moves = []
    for row, (grid_code, area_code) in zip(rows, homes):
        if (grid_code, area_code) == (row[2], row[3]):
            continue
        category = categories[row[5]]
        key = (grid_code, area_code, category.duty)
        if key not in decisions:
            decisions[key] = routing.route(session, _location(session, plan, grid_code, area_code, row[6]),
                                           category)
        decision = decisions[key]
        moves.append(Move(row[0], row[1], row[2], grid_code, row[3], area_code, row[4],
                          decision.assignee.username if decision.assignee else None,
                          decision.assignee.id if decision.assignee else None, decision.assigned_as,
                          decision.data, due_hours(category, row[10])))
    return moves


def _new_homes(session: Session, plan, rows, points) -> list[tuple[str | None, str | None]]:
    """(grid code, area code) of each candidate point after the plan."""
    grid_changes = sorted([c for c in plan.changes if c.level == "grid" and c.new is not None], key=lambda c: c.code)
    area_changes = {c.code: c for c in plan.changes if c.level == "area"}
    covered = {c.code: shapely.covers(c.new, points) for c in grid_changes}
    moved = {c.zone_id: c for c in plan.changes if c.old_code}
    out = []
    for i, row in enumerate(rows):
        if row[9] in moved:  # the grid itself moved to another area
            change = moved[row[9]]
            out.append((change.code, change.parent_code))
            continue
        grid_code = next((c.code for c in grid_changes if covered[c.code][i]), None)
        if grid_code is not None:
            out.append((grid_code, parent_code("grid", grid_code)))
            continue
        if plan.level == "grid":
            # Not covered by any changed grid: a gap now (属地兜底 to the area), or an unchanged grid.
            out.append(_locate_unchanged(session, plan, points[i], row))
            continue
        area_code = next((code for code, c in sorted(area_changes.items())
                          if c.new is not None and c.new.covers(points[i])), None)
        out.append((row[2], area_code) if row[2] else (None, area_code))
    return out


def _locate_unchanged(session: Session, plan, point, row):
    changed_ids = {c.zone_id for c in plan.changes if c.level == "grid" and c.zone_id}
    grid = session.scalar(select(Grid).where(Grid.geom.ST_Covers(geo.wkb_param(point)), Grid.retired_at.is_(None),
                                             Grid.id.notin_(changed_ids) if changed_ids else True)
                          .order_by(Grid.code).limit(1))
    if grid is not None:
        return grid.code, parent_code("grid", grid.code)
    return None, row[3]  # in a gap of its area: the area leader takes it (属地兜底)


def _location(session: Session, plan, grid_code, area_code, town_id) -> Location:
    area = session.scalar(select(Area).where(Area.code == area_code)) if area_code else None
    grid = None
    if grid_code:
        grid = session.scalar(select(Grid).where(Grid.code == grid_code, Grid.retired_at.is_(None)))
        moved = next((c for c in plan.changes if c.old_code and c.code == grid_code), None)
        if grid is None and moved is not None:  # renumbered by a move: same row, same workers
            grid = session.get(Grid, moved.zone_id)
        if grid is None:  # created by this plan: no workers yet, so routing falls back to the area
            grid = SimpleNamespace(id=None, code=grid_code)
        if area is None:
            area = session.scalar(select(Area).where(Area.code == parent_code("grid", grid_code)))
    return Location(town=session.get(Town, town_id), area=area, grid=grid)


def apply_moves(session: Session, moves: list[Move], *, actor: str, reason: str, at: datetime) -> list[Move]:
    """Write the moves (after the zones were written, so new grids have ids)."""
    if not moves:
        return []
    codes = {m.to_grid for m in moves if m.to_grid} | {m.to_area for m in moves if m.to_area}
    grid_ids = dict(session.execute(select(Grid.code, Grid.id).where(Grid.code.in_(codes),
                                                                     Grid.retired_at.is_(None))).all())
    area_ids = dict(session.execute(select(Area.code, Area.id).where(Area.code.in_(codes))).all())
    lifecycle.rehome(session, [
        {"id": m.incident_id, "grid_id": grid_ids.get(m.to_grid), "area_id": area_ids.get(m.to_area),
         "assignee_id": m.to_assignee_id, "assigned_as": m.assigned_as, "routing": m.routing,
         "deadline_hours": m.deadline_hours,
         "data": {"from_grid": m.from_grid, "to_grid": m.to_grid, "from_area": m.from_area, "to_area": m.to_area,
                  "from_handler": m.from_handler, "to_handler": m.to_handler, "rule": m.routing.get("rule"),
                  "assignee": m.to_handler, "duty": m.routing.get("duty"), "grid": m.to_grid,
                  "area": m.to_area, "town": m.routing.get("town")}}
        for m in moves], actor=actor, reason=reason, at=at)
    return moves
