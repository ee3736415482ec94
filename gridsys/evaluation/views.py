"""The evaluation dashboard (考核) and the drill-down to the incidents behind a figure.

Thin: params.asked reads the subject and period, indicators.compute gives the figures (one call per
grouping), api.drilled the incidents. This module lays them out: a card per indicator, chart data
for static/evaluation.js and the same rows as tables; every card, bar, point and cell links to the
drill page of its figure. The form's ``subject`` (kind:code) and ``month`` (YYYY-MM) are read as
the API's scope/code and from/to, so links carry only the API's parameters.
"""
from __future__ import annotations

import calendar
import re
from datetime import date

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select

from .. import db, settings
from ..errors import GridsysError
from ..i18n import locale as request_locale
from ..incidents.models import Category
from ..people import auth
from ..refusals import refusal_text
from ..wording import N_
from ..zones.models import Area, Grid, Town
from . import api, indicators, periods, subjects
from .params import asked, drill_args

bp = Blueprint("evaluation", __name__, template_folder="templates")

TREND_MONTHS = 6
CHART_ROWS = 15        # bars in a ranking or breakdown chart; its table lists every row
MAX_CHOICES = 500      # towns, areas or grids offered in the subject menu
RANKED = "on_time_closure_rate"
MONTH = re.compile(r"(\d{4})-(\d{2})")
# The two parts of a rate, as its card and drill page name them: (numerator, rest).
RATE_PARTS = {
    "response_rate": (N_("Answered in time"), N_("Not answered in time")),
    "on_time_closure_rate": (N_("Closed on time"), N_("Not closed on time")),
    "resolution_rate": (N_("Resolved or closed"), N_("Not resolved")),
    "reopen_rate": (N_("Reopened"), N_("Not reopened")),
    "satisfaction_rate": (N_("Satisfied or basically satisfied"), N_("Not satisfied")),
}
SECTIONS = (("rate", N_("Rates")), ("count", N_("Counts")), ("hours", N_("Times, in hours")),
            ("events", N_("Escalations and coverage")))
# Rankings (worst on-time closure first) of the subjects that have them, then breakdowns.
RANKINGS = (("area", N_("Areas by on-time closure, worst first"), ("town",)),
            ("grid", N_("Grids by on-time closure, worst first"), ("town", "area")),
            ("person", N_("Workers by on-time closure, worst first"), ("town", "area", "grid")))
BREAKDOWNS = (("category", N_("Reports by category")), ("duty", N_("Reports by duty")))
KEY_NAMES = {"area": N_("Area"), "grid": N_("Grid"), "person": N_("Worker"), "category": N_("Category"),
             "duty": N_("Duty"), "month": N_("Month")}
ZERO = {"value": None, "numerator": 0, "denominator": 0}


# --- the query ---------------------------------------------------------------------------------

def _query(args) -> dict:
    """The query string as params.asked reads it: ``subject`` becomes scope and code; ``month``
    becomes from and to, unless ``days`` (the days' own button) asks for the days given."""
    query = args.to_dict()
    subject = query.pop("subject", None)
    if subject is not None:
        query["scope"], _sep, query["code"] = subject.partition(":")
    month = (query.pop("month", None) or "").strip()
    if month and not query.pop("days", None):
        query["from"], query["to"] = (day.isoformat() for day in _month(month))
    return query


def _month(value: str) -> tuple[date, date]:
    match = MONTH.fullmatch(value)
    try:
        first = date(int(match[1]), int(match[2]), 1)
    except (TypeError, ValueError):
        raise GridsysError("month_invalid", f"month is YYYY-MM, not {value[:40]!r}", field="month",
                           status=400) from None
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _base(subject: subjects.Subject, period: periods.Period) -> dict:
    return {"scope": subject.kind, "code": subject.code, "from": period.first.isoformat(),
            "to": period.last.isoformat()}


def drill_url(base: dict, indicator: str, part: str, by: str | None = None, key: str | None = None) -> str:
    """The drill page of one figure (``key`` None with ``by``: the row of incidents without one)."""
    query = {**base, "indicator": indicator, "part": part}
    if by:
        query["by"] = by
    if by and key is not None:
        query["key"] = key
    return url_for("evaluation.incidents", **query)


def _main_part(indicator: indicators.Indicator) -> str:
    """What a figure's card lists: a rate's numerator, every other figure's incidents."""
    return "numerator" if indicator.kind == "rate" else "denominator"


# --- figures as text ---------------------------------------------------------------------------

def shown(kind: str, value) -> str:
    """A figure as people read it: a rate in %, hours with one decimal, a count as it is."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return _("%(hours)s h", hours=f"{value:.1f}")
    return str(value)


def _percent(value) -> float | None:
    return None if value is None else round(value * 100, 1)


def _cards(figures: dict, base: dict) -> list[tuple[str, str, list[dict]]]:
    """The indicators of the subject as cards, by section (rates first)."""
    cards = {kind: [] for kind, _title in SECTIONS}
    for ind in indicators.INDICATORS:
        fig = figures[ind.name]
        card = {"name": ind.name, "kind": ind.kind, "label": _(ind.label), "definition": _(ind.definition),
                "value": shown(ind.kind, fig["value"]), "url": drill_url(base, ind.name, _main_part(ind))}
        if ind.kind == "rate":
            numerator, rest = RATE_PARTS[ind.name]
            card.update(parts=f"{fig['numerator']} / {fig['denominator']}", part_label=_(numerator),
                        rest_label=_(rest), rest=fig["denominator"] - fig["numerator"],
                        rest_url=drill_url(base, ind.name, "rest"))
        elif ind.kind == "hours":
            card["parts"] = _("%(count)s measured", count=fig["denominator"])
        elif ind.kind == "events":
            card.update(by_level=fig["by_level"], by_trigger=fig["by_trigger"])
        cards[ind.kind].append(card)
    return [(kind, _(title), cards[kind]) for kind, title in SECTIONS]


def _row(base: dict, by: str, key, label: str, figures: dict) -> dict:
    """One row of a ranking, breakdown or the trend: its figures and the drill links of each."""
    def fig(name):
        return figures.get(name) or ZERO
    on_time, satisfied = fig(RANKED), fig("satisfaction_rate")
    return {"key": key, "label": label,
            "subject_url": url_for("evaluation.dashboard", **{**base, "scope": by, "code": key})
            if by in ("area", "grid", "person") and key else None,
            "reported": fig("reported")["value"] or 0, "reported_url": drill_url(base, "reported", "denominator", by, key),
            "closed": fig("closed")["value"] or 0, "closed_url": drill_url(base, "closed", "denominator", by, key),
            "on_time": _percent(on_time["value"]), "on_time_text": shown("rate", on_time["value"]),
            "on_time_parts": f"{on_time['numerator']} / {on_time['denominator']}",
            "on_time_url": drill_url(base, RANKED, "numerator", by, key),
            "late": on_time["denominator"] - on_time["numerator"], "late_url": drill_url(base, RANKED, "rest", by, key),
            "satisfaction": _percent(satisfied["value"]), "satisfaction_text": shown("rate", satisfied["value"]),
            "satisfaction_parts": f"{satisfied['numerator']} / {satisfied['denominator']}",
            "unsatisfied_url": drill_url(base, "satisfaction_rate", "rest", by, key)}


def _rows(result: dict, base: dict, by: str) -> list[dict]:
    return [_row(base, by, r["key"], r["label"], r["indicators"]) for r in result["rows"]]


def _worst_first(rows: list[dict]) -> list[dict]:
    """Lowest on-time closure first (more late incidents first among equals); rows without any
    incident due in the period last."""
    return sorted(rows, key=lambda r: (r["on_time"] is None, r["on_time"] or 0, -r["late"], r["label"]))


# --- charts ------------------------------------------------------------------------------------

def _series(name: str, kind: str, rows: list[dict], value: str, url: str, percent: bool = False,
            notes: str | None = None) -> dict:
    return {"name": name, "type": kind, "percent": percent, "values": [r[value] for r in rows],
            "urls": [r[url] for r in rows], "notes": [r[notes] for r in rows] if notes else None}


def _trend_chart(rows: list[dict]) -> dict:
    on_time, satisfaction = indicators.BY_NAME[RANKED], indicators.BY_NAME["satisfaction_rate"]
    return {"kind": "trend", "labels": [r["label"] for r in rows], "series": [
        _series(_(indicators.BY_NAME["reported"].label), "bar", rows, "reported", "reported_url"),
        _series(_(indicators.BY_NAME["closed"].label), "bar", rows, "closed", "closed_url"),
        _series(_(on_time.label), "line", rows, "on_time", "late_url", True, "on_time_parts"),
        _series(_(satisfaction.label), "line", rows, "satisfaction", "unsatisfied_url", True, "satisfaction_parts")]}


def _short(row: dict) -> str:
    """A zone's name without its code (``label`` is "name code"): the chart's axis is narrow on a phone."""
    return row["label"].removesuffix(f" {row['key']}") if row["key"] else row["label"]


def _ranking_chart(rows: list[dict]) -> dict:
    shown_rows = [r for r in rows if r["on_time"] is not None][:CHART_ROWS]
    return {"kind": "bars", "labels": [_short(r) for r in shown_rows], "names": [r["label"] for r in shown_rows],
            "series": [
        _series(_(indicators.BY_NAME[RANKED].label), "bar", shown_rows, "on_time", "late_url", True, "on_time_parts")]}


def _breakdown_chart(rows: list[dict]) -> dict:
    shown_rows = [r for r in rows if r["reported"]][:CHART_ROWS]
    return {"kind": "bars", "labels": [_short(r) for r in shown_rows], "names": [r["label"] for r in shown_rows],
            "series": [_series(_(indicators.BY_NAME["reported"].label), "bar", shown_rows, "reported", "reported_url")]}


def _months(period: periods.Period) -> list[str]:
    months, month = [], period.first.replace(day=1)
    while month <= period.last:
        months.append(month.strftime("%Y-%m"))
        month = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
    return months


def _board(session, subject: subjects.Subject, period: periods.Period, locale: str) -> dict:
    """Everything the dashboard shows: one indicators.compute per grouping."""
    base = _base(subject, period)
    zone = settings.of(session).zone
    groups = []
    figures = None
    for by, title, kinds in RANKINGS:
        if subject.kind in kinds:
            result = indicators.compute(session, subject, period, by, locale=locale, complete=True)
            figures = figures or result["indicators"]
            rows = _worst_first(_rows(result, base, by))
            groups.append({"by": by, "title": _(title), "key_name": _(KEY_NAMES[by]), "rows": rows,
                           "chart": _ranking_chart(rows), "hint": _("Tap a bar for the incidents not closed on time.")})
    for by, title in BREAKDOWNS:
        result = indicators.compute(session, subject, period, by, locale=locale)
        figures = figures or result["indicators"]
        rows = sorted(_rows(result, base, by), key=lambda r: (-r["reported"], r["label"]))
        groups.append({"by": by, "title": _(title), "key_name": _(KEY_NAMES[by]), "rows": rows,
                       "chart": _breakdown_chart(rows), "hint": _("Tap a bar for its reports.")})
    span = periods.months_back(period, TREND_MONTHS, zone)
    trend_base = _base(subject, span)
    by_month = {r["key"]: r["indicators"] for r in indicators.compute(session, subject, span, "month",
                                                                     locale=locale)["rows"]}
    trend = [_row(trend_base, "month", m, m, by_month.get(m, {})) for m in _months(span)]
    groups.insert(0, {"by": "month", "title": _("Trend, %(first)s to %(last)s", first=span.first, last=span.last),
                      "key_name": _(KEY_NAMES["month"]), "rows": trend, "chart": _trend_chart(trend),
                      "hint": _("Tap a bar or a point for its incidents (on the lines: those that missed).")})
    return {"sections": _cards(figures, base), "gaps": figures["duty_gaps"],
            "columns": {name: _(indicators.BY_NAME[name].label) for name in ("reported", "closed", RANKED,
                                                                             "satisfaction_rate")},
            "late_label": _(RATE_PARTS[RANKED][1]), "unsatisfied_label": _(RATE_PARTS["satisfaction_rate"][1]),
            "gaps_definition": _(indicators.GAPS_DEFINITION), "gaps_label": _(indicators.GAPS_LABEL), "groups": groups,
            "charts": {g["by"]: g["chart"] for g in groups}}


# --- the subject menu --------------------------------------------------------------------------

def _choices(session, scope, user, subject: subjects.Subject, locale: str) -> list[tuple[str, list]]:
    """What the viewer may evaluate, as the menu's groups of (value, label): their towns, the areas
    of the town in view, the grids of the area in view (and their own grids), themselves."""
    everything = scope.everything
    towns = []
    if everything or scope.town_ids:
        query = select(Town).order_by(Town.code).limit(MAX_CHOICES)
        towns = session.scalars(query if everything else query.where(Town.id.in_(scope.town_ids))).all()
    town_id = subject.town_id or (towns[0].id if towns else None)
    area_where = [Area.id.in_(scope.area_ids)] if scope.area_ids else []
    if town_id is not None and (everything or town_id in scope.town_ids):
        area_where.append(Area.town_id == town_id)
    areas = session.scalars(select(Area).where(or_(*area_where)).order_by(Area.code).limit(MAX_CHOICES)).all() \
        if area_where else []
    area = session.get(Area, subject.id) if subject.kind == "area" else \
        session.get(Grid, subject.id).area if subject.kind == "grid" else None
    grid_where = [Grid.id.in_(scope.grid_ids)] if scope.grid_ids else []
    if area is not None and (everything or area.town_id in scope.town_ids or area.id in scope.area_ids):
        grid_where.append(Grid.area_id == area.id)
    in_service = or_(Grid.retired_at.is_(None), Grid.id == subject.id) if subject.kind == "grid" \
        else Grid.retired_at.is_(None)   # a retired grid stays in the menu while it is in view
    grids = session.scalars(select(Grid).where(or_(*grid_where), in_service).order_by(Grid.code)
                            .limit(MAX_CHOICES)).all() if grid_where else []
    people = [(f"person:{user.username}", _("My own figures (%(name)s)", name=user.display_name))]
    if subject.kind == "person" and subject.code != user.username:
        people.insert(0, (f"person:{subject.code}", subject.name))
    groups = [(_("Town"), [(f"town:{t.code}", t.label(locale)) for t in towns]),
              (_("Area"), [(f"area:{a.code}", a.label(locale)) for a in areas]),
              (_("Grid"), [(f"grid:{g.code}", g.label(locale)) for g in grids]),
              (_("Person"), people)]
    return [(label, options) for label, options in groups if options]


def _month_value(period: periods.Period) -> str:
    """The month picker's value: the period's month when the period is one whole month."""
    first, last = _month(period.first.strftime("%Y-%m"))
    return period.first.strftime("%Y-%m") if (period.first, period.last) == (first, last) else ""


def _page(session, user, scope, subject, period, locale, **context):
    publishable = subject.kind == "town" and any(
        t.id == subject.id for t in subjects.towns_published_by(session, scope))
    return render_template("evaluation/dashboard.html", subject=subject, period=period,
                           choices=_choices(session, scope, user, subject, locale), month=_month_value(period),
                           publishable=publishable, **context)


# --- the pages ---------------------------------------------------------------------------------

@bp.get("/evaluation")
@auth.login_required
def dashboard():
    """A worker opens their own figures, a leader their area's, an administrator the town's."""
    session, user, scope, locale = db.session(), auth.current_user(), auth.current_scope(), request_locale()
    try:
        ask = asked(session, user, scope, _query(request.args), default_subject=True)
    except GridsysError as exc:
        session.rollback()
        subject = subjects.default_for(session, user, scope)
        period = periods.last_month(settings.of(session).zone)
        return _page(session, user, scope, subject, period, locale, board=None, error=exc,
                     message=refusal_text(exc)), exc.status
    board = _board(session, ask.subject, ask.period, locale)
    return _page(session, user, scope, ask.subject, ask.period, locale, board=board, error=None)


@bp.get("/evaluation/incidents")
@auth.login_required
def incidents():
    """The incidents behind one figure (its numerator, denominator or rest; one row's), paged."""
    session, scope, locale = db.session(), auth.current_scope(), request_locale()
    query = _query(request.args)
    ask = asked(session, auth.current_user(), scope, query)
    indicator, part, key = drill_args(query)
    rows, page, more = api.drilled(session, ask, query, scope)
    ind = indicators.BY_NAME[indicator]
    base = _base(ask.subject, ask.period)
    here = {**base, "indicator": indicator, "part": part, **({"by": ask.by} if ask.by else {}),
            **({"key": key} if ask.by and key is not None else {})}
    codes = {incident.category_code for incident, _hours in rows}
    categories = {c.code: c for c in session.scalars(select(Category).where(Category.code.in_(codes)))} if codes else {}
    return render_template(
        "evaluation/incidents.html", subject=ask.subject, period=ask.period, indicator=ind, part=part,
        title=_(ind.label), part_label=_part_label(ind, part), definition=_(ind.definition),
        key_name=_(KEY_NAMES[ask.by]) if ask.by else None,
        key_label=_key_label(session, ask.by, key, locale) if ask.by else None,
        rows=rows, categories=categories, page=page,
        previous_url=url_for("evaluation.incidents", **here, page=page - 1) if page > 1 else None,
        next_url=url_for("evaluation.incidents", **here, page=page + 1) if more else None,
        back_url=url_for("evaluation.dashboard", **base))


def _part_label(ind: indicators.Indicator, part: str) -> str | None:
    if ind.kind == "rate":
        return {"numerator": _(RATE_PARTS[ind.name][0]), "rest": _(RATE_PARTS[ind.name][1]),
                "denominator": _("All counted")}[part]
    return _("The rest") if part == "rest" else None


def _key_label(session, by: str, key: str | None, locale: str) -> str:
    """The name of one row's key (a grid's name and code, a person's name, a category's name)."""
    return indicators.labels(session, by, {key: None}, locale).get(key, key)
