"""Which incidents a person may see and act on: the people domain's Scope (people/access.py)
applied to incidents. Every incident list, map layer, export and API filters through here;
out of scope is a 404, never data."""
from __future__ import annotations

from sqlalchemy import false, or_, select, true
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..people.access import Scope
from .models import Incident


def responsible_for(scope: Scope):
    """Incidents of the scope's zones or handled by the user (not those merely reported)."""
    if scope.everything:
        return true()
    if scope.user_id is None:
        return false()
    return or_(Incident.grid_id.in_(scope.grid_ids), Incident.area_id.in_(scope.area_ids),
               Incident.town_id.in_(scope.town_ids), Incident.assignee_id == scope.user_id)


def incidents_where(scope: Scope):
    """SQL condition: what the user is responsible for, plus the incidents they reported."""
    if scope.everything or scope.user_id is None:
        return responsible_for(scope)
    return or_(responsible_for(scope), Incident.reporter_id == scope.user_id)


def require_incident(session: Session, scope: Scope, incident_id, *, for_update: bool = False):
    """The incident if the scope may see it; otherwise the same 404 as a missing one."""
    try:
        incident_id = int(incident_id)
    except (TypeError, ValueError):
        incident_id = -1
    if not 0 < incident_id < 2**31:  # beyond the id column's range: as missing as any other
        raise NotFound("incident_not_found", f"no incident {incident_id}", incident_id=incident_id)
    query = select(Incident).where(Incident.id == incident_id, incidents_where(scope))
    if for_update:
        query = query.with_for_update(of=Incident)
    obj = session.scalar(query)
    if obj is None:
        raise NotFound("incident_not_found", f"no incident {incident_id}", incident_id=incident_id)
    return obj


def manages_incident(scope: Scope, incident) -> bool:
    """A leader of its area, an administrator of its town, or an admin."""
    return scope.everything or (incident.area_id is not None and incident.area_id in scope.area_ids) \
        or incident.town_id in scope.town_ids


def covers_incident(scope: Scope, incident) -> bool:
    """Whether a person with this scope may be handed the incident (reassignment target)."""
    return scope.everything or incident.grid_id in scope.grid_ids or manages_incident(scope, incident)
