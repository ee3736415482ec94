"""The evaluation API: GET /api/v1/indicators and the incidents behind a figure."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import db, paging
from ..apidoc import operation
from ..i18n import locale as request_locale
from ..incidents import scoping
from ..incidents.models import Incident
from ..people import auth
from ..wording import text
from . import indicators, schemas
from .params import asked, drill_args

bp = Blueprint("evaluation_api", __name__)


def definitions(locale: str) -> dict[str, str]:
    found = {i.name: text(locale, i.definition) for i in indicators.INDICATORS}
    found["duty_gaps"] = text(locale, indicators.GAPS_DEFINITION)
    return found


@bp.get("/api/v1/indicators")
@operation("getIndicators", "evaluation", schemas.Indicators, query=schemas.IndicatorsQuery, errors=schemas.ERRORS,
           summary="Evaluation indicators (考核) of a town, area, grid or person over a period")
@auth.login_required
def figures():
    session = db.session()
    ask = asked(session, auth.current_user(), auth.current_scope(), request.args)
    locale = request_locale()
    body = indicators.compute(session, ask.subject, ask.period, ask.by, locale=locale)
    return jsonify({**body, "definitions": definitions(locale)})


def drilled_json(incident: Incident, hours) -> dict:
    return {"id": incident.id, "code": incident.code, "status": incident.status, "category": incident.category_code,
            "grid": incident.grid.code if incident.grid else None,
            "area": incident.area.code if incident.area else None,
            "assignee": incident.assignee.username if incident.assignee else None,
            "created_at": incident.created_at.isoformat(),
            "due_at": incident.due_at.isoformat() if incident.due_at else None,
            "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
            "hours": hours, "url": url_for("incidents.show", incident_id=incident.id)}


def drilled(session, ask, args, scope) -> tuple[list[tuple[Incident, float | None]], int, bool]:
    """One page of the incidents behind the figure the query names, with their measured hours; only
    those the viewer may open (a person's incidents may lie partly outside a leader's areas)."""
    indicator, part, key = drill_args(args)
    page = paging.page_number(args)
    ids, hours, more = indicators.drill(session, ask.subject, ask.period, indicator, part, ask.by, key, page)
    found = {i.id: i for i in session.scalars(
        select(Incident).where(Incident.id.in_(ids), scoping.incidents_where(scope))
        .options(selectinload(Incident.grid), selectinload(Incident.area), selectinload(Incident.assignee)))}
    return [(found[i], hours[i]) for i in ids if i in found], page, more


@bp.get("/api/v1/indicators/incidents")
@operation("listIndicatorIncidents", "evaluation", schemas.DrillPage, query=schemas.DrillQuery,
           errors=schemas.DRILL_ERRORS, summary="The incidents behind one figure (its numerator, denominator or rest)")
@auth.login_required
def incidents():
    session = db.session()
    ask = asked(session, auth.current_user(), auth.current_scope(), request.args)
    rows, page, more = drilled(session, ask, request.args, auth.current_scope())
    return jsonify(items=[drilled_json(i, h) for i, h in rows], page=page, next_page=page + 1 if more else None)
