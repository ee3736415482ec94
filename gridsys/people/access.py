"""The one access helper: what a user may see and act on (DESIGN.md "Access").

An admin sees everything; a town administrator their towns; an area leader their areas
(and every grid in them); a grid worker their grids. Every list, map layer, export and
API filters through ``scope_for`` + ``where``/``require``; out of scope is a 404, never data.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..zones.models import Area, Grid, Town
from .models import AreaLeader, GridAssignment, TownAdmin, User


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    everything: bool
    town_ids: frozenset[int]
    area_ids: frozenset[int]
    grid_ids: frozenset[int]

    @property
    def empty(self) -> bool:
        return not (self.everything or self.town_ids or self.area_ids or self.grid_ids)


NOBODY = Scope(None, False, frozenset(), frozenset(), frozenset())


def scope_for(session: Session, user: User | None) -> Scope:
    if user is None or not user.active:
        return NOBODY
    if "admin" in user.roles:
        return Scope(user.id, True, frozenset(), frozenset(), frozenset())

    def ids(column, model):
        return frozenset(session.scalars(select(column).where(model.user_id == user.id,
                                                              model.valid_to.is_(None))))
    towns = ids(TownAdmin.town_id, TownAdmin) if "admin" in user.roles else frozenset()
    areas = ids(AreaLeader.area_id, AreaLeader) if "area_leader" in user.roles else frozenset()
    grids = ids(GridAssignment.grid_id, GridAssignment) if "grid_worker" in user.roles else frozenset()
    return Scope(user.id, False, towns, areas, grids)


def where(scope: Scope, model):
    """SQL condition limiting ``model`` (Town, Area or Grid) to the scope (retired grids never show)."""
    if model is Grid:
        return and_(Grid.retired_at.is_(None), _where(scope, model))
    return _where(scope, model)


def _where(scope: Scope, model):
    if scope.everything:
        return true()
    if scope.empty:
        return false()
    if model is Grid:
        return or_(Grid.id.in_(scope.grid_ids), Grid.area_id.in_(scope.area_ids),
                   Grid.area_id.in_(select(Area.id).where(Area.town_id.in_(scope.town_ids))))
    if model is Area:
        return or_(Area.id.in_(scope.area_ids), Area.town_id.in_(scope.town_ids),
                   Area.id.in_(select(Grid.area_id).where(Grid.id.in_(scope.grid_ids))))
    if model is Town:
        return or_(Town.id.in_(scope.town_ids),
                   Town.id.in_(select(Area.town_id).where(Area.id.in_(scope.area_ids))),
                   Town.id.in_(select(Area.town_id).join(Grid, Grid.area_id == Area.id)
                               .where(Grid.id.in_(scope.grid_ids))))
    raise TypeError(f"no scope rule for {model.__name__}")


def require(session: Session, scope: Scope, model, code: str):
    """The zone with ``code`` if it is in scope; otherwise the same 404 as a missing one."""
    obj = session.scalar(select(model).where(model.code == code, where(scope, model)))
    if obj is None:
        level = model.__tablename__.rstrip("s")
        raise NotFound(f"{level}_not_found", f"no {level} with code {code}")
    return obj


def manages(scope: Scope, grid: Grid) -> bool:
    """May act on a grid as a leader or administrator (not merely as its worker)."""
    return scope.everything or grid.area_id in scope.area_ids or grid.area.town_id in scope.town_ids


def incidents_where(scope: Scope):
    """SQL condition: incidents of the scope's zones, plus those the user reported or handles."""
    from ..incidents.models import Incident
    if scope.everything:
        return true()
    if scope.user_id is None:
        return false()
    return or_(Incident.grid_id.in_(scope.grid_ids), Incident.area_id.in_(scope.area_ids),
               Incident.town_id.in_(scope.town_ids), Incident.reporter_id == scope.user_id,
               Incident.assignee_id == scope.user_id)


def responsible_for(scope: Scope):
    """Incidents of the scope's zones or handled by the user (not those merely reported)."""
    from ..incidents.models import Incident
    if scope.everything:
        return true()
    if scope.user_id is None:
        return false()
    return or_(Incident.grid_id.in_(scope.grid_ids), Incident.area_id.in_(scope.area_ids),
               Incident.town_id.in_(scope.town_ids), Incident.assignee_id == scope.user_id)


def require_incident(session: Session, scope: Scope, incident_id, *, for_update: bool = False):
    """The incident if the scope may see it; otherwise the same 404 as a missing one."""
    from ..incidents.models import Incident
    try:
        incident_id = int(incident_id)
    except (TypeError, ValueError):
        incident_id = -1
    if not 0 < incident_id < 2**31:  # beyond the id column's range: as missing as any other
        raise NotFound("incident_not_found", f"no incident {incident_id}")
    query = select(Incident).where(Incident.id == incident_id, incidents_where(scope))
    if for_update:
        query = query.with_for_update(of=Incident)
    obj = session.scalar(query)
    if obj is None:
        raise NotFound("incident_not_found", f"no incident {incident_id}")
    return obj


def manages_incident(scope: Scope, incident) -> bool:
    """A leader of its area, an administrator of its town, or an admin."""
    return scope.everything or (incident.area_id is not None and incident.area_id in scope.area_ids) \
        or incident.town_id in scope.town_ids


def covers_incident(scope: Scope, incident) -> bool:
    """Whether a person with this scope may be handed the incident (reassignment target)."""
    return scope.everything or incident.grid_id in scope.grid_ids or manages_incident(scope, incident)
