"""The incident's event log (append-only; a database trigger refuses UPDATE and DELETE): the one
function that appends to it, below every rule that records what it did."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..clock import now
from ..people.models import User
from .models import Incident, IncidentEvent


def record(session: Session, incident: Incident, actor: User | None, action: str, from_status, to_status,
           *, note: str = "", data: dict | None = None, at: datetime | None = None,
           flush: bool = True, public: bool = False) -> IncidentEvent:
    """Append one event to the incident's audit trail (``public``: its note is a reply the resident
    who reported it may read)."""
    event = IncidentEvent(incident_id=incident.id, actor_id=actor.id if actor else None, action=action,
                          from_status=from_status, to_status=to_status, note=note or "", data=data or {},
                          at=at or now(), public=public, grid_id=incident.grid_id, area_id=incident.area_id)
    session.add(event)
    if flush:
        session.flush()
    return event
