"""What the report form needs before anything is sent: where a report would go (the routing
decision logging would make, writing nothing) and the worker's most-used categories."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..people.models import User
from ..people.services import current_duties
from ..zones.services import Location, locate
from . import routing
from .models import Category, Incident
from .deadlines import due_hours
from .services import MAX_CATEGORY_CODE, now, parse_location, priority_of, usable_category

FREQUENT_WINDOW = timedelta(days=90)
FREQUENT_LIMIT = 8


@dataclass
class RoutingPreview:
    """Where a report would land and who would get it (routing.route's decision), before sending."""
    where: Location
    category: Category | None
    decision: routing.Routing | None  # None without a category
    priority: str | None
    deadline_hours: int | None        # None when nobody would be dispatched (the report waits)


def preview_routing(session: Session, lon, lat, category_code=None, *, coords=None,
                    priority=None) -> RoutingPreview:
    """What create_incident would decide for a report here, by the same rule (locate, then
    routing.route with grid_worker_choice), refusing what it would refuse; writes nothing."""
    lon, lat = parse_location(lon, lat, coords)
    category = None
    if category_code not in (None, ""):
        code = str(category_code)[:MAX_CATEGORY_CODE]
        category = usable_category(session.get(Category, code), code)
        priority = priority_of(category, priority)
    where = locate(session, lon, lat)
    if category is None:
        return RoutingPreview(where, None, None, None, None)
    decision = routing.route(session, where, category)
    hours = due_hours(category, priority) if decision.assignee is not None else None
    return RoutingPreview(where, category, decision, priority, hours)


def frequent_categories(session: Session, user: User, *, at: datetime | None = None) -> list[str]:
    """The codes of the current categories ``user`` reported most in the last 90 days, most used
    first (ties by code), at most 8: the phone offers these first."""
    return list(session.scalars(frequent_statement(user, at or now())))


def frequent_statement(user: User, at: datetime):
    """frequent_categories' query: the person's reports since ``at`` less the window, read from
    their (reporter, time) index alone."""
    return (select(Incident.category_code).join(Category, Category.code == Incident.category_code)
            .where(Incident.reporter_id == user.id, Incident.created_at >= at - FREQUENT_WINDOW, Category.active)
            .group_by(Incident.category_code)
            .order_by(func.count().desc(), Incident.category_code).limit(FREQUENT_LIMIT))


def favourite_categories(session: Session, user: User, frequent: list[str] | None = None,
                         assignments=None) -> list[str]:
    """What the report form offers first: the categories ``user`` reports most (``frequent``, when
    the caller has them already), then the rest of their own duties' categories (catalogue order;
    ``assignments``: their current_duties, when the caller has them already), at most FREQUENT_LIMIT."""
    chosen = list(frequent_categories(session, user) if frequent is None else frequent)
    duties = {d.duty for d in (current_duties(session, user) if assignments is None else assignments)} - {"general"}
    if duties and len(chosen) < FREQUENT_LIMIT:
        own = session.scalars(select(Category.code).where(Category.active, Category.duty.in_(duties))
                              .order_by(Category.code))
        chosen += [code for code in own if code not in chosen]
    return chosen[:FREQUENT_LIMIT]
