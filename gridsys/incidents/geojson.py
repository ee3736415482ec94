"""Incident GeoJSON for maps, assembled by PostgreSQL (json_build_object) in one query.

Text fields stay data: the browser inserts them with textContent, never as HTML.
"""
from __future__ import annotations

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, aliased

from .. import geo
from ..people.models import User
from .models import Category, Incident
from .services import Filters, overdue_expr, scoped_incidents

MAX_FEATURES = 20000


def incidents_feature_collection(session: Session, scope, filters: Filters, bbox=None,
                                 user: User | None = None) -> str:
    assignee = aliased(User)
    query = scoped_incidents(scope, filters, user)
    if bbox is not None:
        query = query.where(Incident.geom.intersects(func.ST_MakeEnvelope(*bbox, geo.STORAGE_SRID)))
    # Compact on purpose (10 000 features go to phones): names of categories come from the
    # catalogue, the page URL is /incidents/<id>. ``assignee`` is the username, as in the API;
    # ``assignee_name`` the display name maps show.
    props = func.json_build_object(
        "code", Incident.code, "category", Incident.category_code, "duty", Category.duty,
        "status", Incident.status, "priority", Incident.priority, "overdue", overdue_expr(),
        "escalation_level", Incident.escalation_level,
        "assignee", assignee.username, "assignee_name", assignee.display_name,
        "created_at", func.date_trunc("second", Incident.created_at),
        "due_at", func.date_trunc("second", Incident.due_at))
    feature = func.json_build_object(
        "type", "Feature", "id", Incident.id,
        "geometry", cast(func.ST_AsGeoJSON(Incident.geom, 6), _json()), "properties", props).label("f")
    features = (query.with_only_columns(feature)
                .join(Category, Category.code == Incident.category_code)
                .outerjoin(assignee, assignee.id == Incident.assignee_id)
                .limit(MAX_FEATURES).subquery())
    collection = func.json_build_object(
        "type", "FeatureCollection",
        "features", func.coalesce(func.json_agg(features.c.f), func.json_build_array()))
    return session.scalar(select(cast(collection, String)).select_from(features))


def _json():
    from sqlalchemy.dialects.postgresql import JSON
    return JSON()
