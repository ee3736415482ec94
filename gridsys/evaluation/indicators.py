"""The indicators (考核指标) of a subject over a period, each with its definition, and the incidents
behind any figure. Computed in the database (measures.py); nothing is loaded row by row.

Every figure counts an incident where it was when the counted event happened (events record their
grid and area; events written before that was recorded were backfilled by migration 0012 from the
next boundary move, else from where the incident is now). A person's figures are the incidents
they handle now (the last handler of a closed one).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .. import settings
from ..clock import now
from ..errors import GridsysError
from ..incidents.models import Category
from ..people.models import User
from ..people.gaps import gaps_by_duty
from ..wording import DUTY_NAMES, N_, name
from ..zones.models import Area, Grid
from . import measures
from .periods import Period
from .subjects import Subject


@dataclass(frozen=True)
class Indicator:
    name: str
    measure: str          # the measure (measures.py) it reads
    kind: str             # count | rate | hours | events
    statistic: str = ""   # p50 | p90 for hours
    label: str = ""       # msgid
    definition: str = ""  # msgid


def _ind(name, measure, kind, label, definition, statistic=""):
    return Indicator(name, measure, kind, statistic, label, definition)


INDICATORS = [
    _ind("reported", "reported", "count", N_("Reports received"), N_("Reports received in the period, by every channel.")),
    _ind("registered", "registered", "count", N_("Registered (立案)"),
         N_("Residents' reports registered (立案) in the period.")),
    _ind("declined", "declined", "count", N_("Reports declined"),
         N_("Residents' reports declined (不予受理) in the period, each with a reply.")),
    _ind("dispatched", "dispatched", "count", N_("Incidents dispatched"),
         N_("Incidents first handed to a handler in the period: a staff report at once, a resident's at 立案, "
            "one routing could not place at its first reassignment, take or the boundary move that gives it "
            "a handler.")),
    _ind("resolved", "resolved", "count", N_("Incidents resolved"), N_("Incidents marked resolved in the period.")),
    _ind("closed", "closed", "count", N_("Incidents closed (结案)"), N_("Incidents verified and closed (结案) in the period.")),
    _ind("cancelled", "cancelled", "count", N_("Incidents cancelled"),
         N_("Incidents cancelled in the period, declined and merged duplicates included.")),
    _ind("open_now", "open_now", "count", N_("Open now"),
         N_("Incidents open now where they are now (not limited to the period).")),
    _ind("overdue_now", "overdue_now", "count", N_("Overdue now"),
         N_("Open incidents past their deadline now (not limited to the period).")),
    _ind("response_rate", "response_rate", "rate", N_("Response rate (响应率)"),
         N_("Reports in the period answered in time ÷ reports in the period. A resident's report is answered "
            "when it is registered, declined or merged within its category's response time; a staff report "
            "is dispatched at once and counts as answered.")),
    _ind("on_time_closure_rate", "on_time_closure_rate", "rate", N_("On-time closure (按期结案率)"),
         N_("Incidents closed by their deadline ÷ incidents whose deadline fell in the period and has passed. "
            "The deadline is "
            "the first dispatch plus the category's time plus explicit extensions (延期) only: a take, "
            "reassignment or reopen does not move it. Closed and not reopened since; cancelled incidents are "
            "left out; counted where the incident was at its deadline.")),
    _ind("resolution_rate", "resolution_rate", "rate", N_("Resolution rate (解决率)"),
         N_("Of the incidents dispatched in the period, those resolved or closed now.")),
    _ind("reopen_rate", "reopen_rate", "rate", N_("Reopen rate (返工率)"),
         N_("Of the incidents resolved in the period, those reopened afterwards (返工), an unsatisfied "
            "回访 sent back included.")),
    _ind("satisfaction_rate", "satisfaction_rate", "rate", N_("Satisfaction (满意率)"),
         N_("(满意 + 基本满意) ÷ residents' ratings (回访) given in the period; the denominator is the "
            "number rated.")),
    _ind("time_to_register_p50", "time_to_register", "hours", N_("Time to register, median"),
         N_("Hours from a resident's report to its 立案, for those registered in the period."), "p50"),
    _ind("time_to_accept_p50", "time_to_accept", "hours", N_("Time to accept, median"),
         N_("Hours from the first dispatch to the handler's acceptance (受理), for first acceptances in the "
            "period."), "p50"),
    _ind("time_to_accept_p90", "time_to_accept", "hours", N_("Time to accept, 90th percentile"),
         N_("Hours from the first dispatch to the handler's acceptance (受理), for first acceptances in the "
            "period."), "p90"),
    _ind("time_to_first_action_p50", "time_to_first_action", "hours", N_("Time to first action, median"),
         N_("Hours from the report to the first thing staff did on it (立案, acceptance, a comment, …), "
            "for first actions in the period."), "p50"),
    _ind("time_to_resolve_p50", "time_to_resolve", "hours", N_("Time to resolve, median"),
         N_("Hours from the report to its first resolution, for first resolutions in the period."), "p50"),
    _ind("time_to_resolve_p90", "time_to_resolve", "hours", N_("Time to resolve, 90th percentile"),
         N_("Hours from the report to its first resolution, for first resolutions in the period."), "p90"),
    _ind("escalations", "escalations", "events", N_("Escalations in the period"),
         N_("Escalations in the period, by level (1: the area leader, 2: the town administrators) and by "
            "trigger (overdue, urgent, stale, by hand).")),
]
BY_NAME = {i.name: i for i in INDICATORS}
NAMES = tuple(BY_NAME)
BY = tuple(measures.KEYS)
GAPS_LABEL = N_("Grids lacking a worker for a duty")
GAPS_DEFINITION = N_("Grids (in service now) that lack a primary worker for one or more duties, by duty.")
PAGE_SIZE = 50


def _rounded(value, places: int = 2):
    return None if value is None else round(float(value), places)


def _figure(ind: Indicator, totals: dict, levels: dict, triggers: dict) -> dict:
    row = totals.get(ind.measure)
    den = row["den"] if row else 0
    num = row["num"] if row else 0
    if ind.kind == "count":
        return {"value": den, "numerator": den, "denominator": None}
    if ind.kind == "rate":
        return {"value": _rounded(num / den, 4) if den else None, "numerator": num, "denominator": den}
    if ind.kind == "hours":
        return {"value": _rounded(row[ind.statistic]) if row else None, "numerator": None, "denominator": den}
    events = row["n"] if row else 0
    return {"value": events, "numerator": events, "denominator": None,
            "by_level": {k: v for k, v in sorted(levels.get(ind.measure, {}).items())},
            "by_trigger": {k: v for k, v in sorted(triggers.get(ind.measure, {}).items())}}


def _for_small_reads(session: Session) -> None:
    """These statements are large plans over a few thousand rows found by index: compiling them
    (PostgreSQL's JIT) or starting parallel workers costs more than running them, and the default
    random_page_cost (4, for spinning disks) makes index probes of a cached table look dearer than
    scanning it. For this transaction only."""
    session.execute(text("SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0; "
                         "SET LOCAL random_page_cost = 1.1"))


def _params(session: Session, subject: Subject, period: Period, as_of: datetime | None) -> dict:
    return {"sid": subject.id, "start": period.start, "end": period.end, "now": as_of or now(),
            "lookback": period.start - timedelta(days=measures.LOOKBACK_DAYS), "tz": settings.of(session).timezone}


def compute(session: Session, subject: Subject, period: Period, by: str | None = None, *,
            as_of: datetime | None = None, locale: str = "zh", complete: bool = False) -> dict:
    """{"period", "scope", "indicators": {name: {"value", "numerator", "denominator"}}, "rows"}.
    ``complete``: by grid or area, also a row (of zeros) for each of the subject's zones in service
    that had nothing in the period, so a ranking or a published table names every one."""
    if by is not None and by not in BY:
        raise GridsysError("by_invalid", f"by is one of {', '.join(BY)}", allowed=list(BY), status=400)
    if by == "person" and subject.kind == "person":
        by = None
    _for_small_reads(session)
    result = session.execute(text(measures.figures_sql(subject.kind, by)),
                             _params(session, subject, period, as_of)).mappings().all()
    totals, levels, triggers, keyed = {}, {}, {}, {}
    for r in result:
        if r["g"] == 0b111:                 # the total of a measure
            totals[r["name"]] = r
        elif r["g"] == 0b101:               # by level
            levels.setdefault(r["name"], {})[r["level"] or "?"] = r["n"]
        elif r["g"] == 0b110:               # by trigger
            triggers.setdefault(r["name"], {})[r["trig"] or "?"] = r["n"]
        elif r["g"] == 0b011 and not (by == "month" and r["key"] is None):
            keyed.setdefault(r["key"], {})[r["name"]] = r
    indicators = {i.name: _figure(i, totals, levels, triggers) for i in INDICATORS}
    indicators["duty_gaps"] = duty_gaps(session, subject)
    if complete and by in ("grid", "area"):
        for code in _zones_of(session, subject, by):
            keyed.setdefault(code, {})
    names = labels(session, by, keyed, locale)
    rows = [{"key": key, "label": names.get(key, key),
             "indicators": {i.name: _figure(i, figures, {}, {}) for i in INDICATORS}}
            for key, figures in sorted(keyed.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))]
    return {"period": period.as_json(), "scope": subject.as_json(), "by": by, "indicators": indicators,
            "rows": rows}


def _zones_of(session: Session, subject: Subject, by: str) -> list[str]:
    if subject.kind == "person":
        return []
    if by == "area":
        if subject.kind != "town":
            return [subject.code] if subject.kind == "area" else []
        return list(session.scalars(select(Area.code).where(Area.town_id == subject.id)))
    where = {"grid": Grid.id == subject.id, "area": Grid.area_id == subject.id,
             "town": Grid.area_id.in_(select(Area.id).where(Area.town_id == subject.id))}[subject.kind]
    return list(session.scalars(select(Grid.code).where(where, Grid.retired_at.is_(None))))


def duty_gaps(session: Session, subject: Subject) -> dict:
    """How many grids in service lack a worker for a duty now (None for a person), and by duty."""
    if subject.kind == "person":
        return {"value": None, "numerator": None, "denominator": None, "by_duty": {}}
    where = {"grid": Grid.id == subject.id, "area": Grid.area_id == subject.id,
             "town": Grid.area_id.in_(select(Area.id).where(Area.town_id == subject.id))}[subject.kind]
    count, by_duty = gaps_by_duty(session, where)
    return {"value": count, "numerator": count, "denominator": None, "by_duty": by_duty}


def labels(session: Session, by: str | None, keyed: dict, locale: str) -> dict:
    keys = [k for k in keyed if k is not None]
    if not by or not keys:
        return {None: "—"} if None in keyed else {}
    if by == "grid":
        found = {c: f"{n} {c}" for c, n in session.execute(select(Grid.code, Grid.name).where(Grid.code.in_(keys)))}
    elif by == "area":
        found = {c: f"{n} {c}" for c, n in session.execute(select(Area.code, Area.name).where(Area.code.in_(keys)))}
    elif by == "person":
        found = dict(session.execute(select(User.username, User.display_name).where(User.username.in_(keys))).all())
    elif by == "category":
        column = Category.name_zh if locale.startswith("zh") else Category.name_en
        found = dict(session.execute(select(Category.code, column).where(Category.code.in_(keys))).all())
    elif by == "duty":
        found = {k: name(locale, DUTY_NAMES, k) for k in keys}
    else:
        found = {k: k for k in keys}
    return {**found, None: "—"}


PARTS = tuple(measures.PARTS)


def drill(session: Session, subject: Subject, period: Period, indicator: str, part: str = "numerator",
          by: str | None = None, key: str | None = None, page: int = 1, *, as_of: datetime | None = None,
          page_size: int = PAGE_SIZE) -> tuple[list[int], dict[int, float | None], bool]:
    """The ids of the incidents behind one figure (``part``: its numerator, denominator, or the rest:
    in the denominator, not the numerator), optionally those of one ``by`` key; one page by id,
    their measured hours, and whether there is a next page."""
    ind = BY_NAME.get(indicator)
    if ind is None:
        raise GridsysError("indicator_unknown", f"indicator is one of {', '.join(NAMES)}", allowed=list(NAMES), status=400)
    if part not in PARTS:
        raise GridsysError("part_invalid", f"part is one of {', '.join(PARTS)}", allowed=list(PARTS), status=400)
    if by is not None and by not in BY:
        raise GridsysError("by_invalid", f"by is one of {', '.join(BY)}", allowed=list(BY), status=400)
    params = {**_params(session, subject, period, as_of), "key": key, "limit": page_size + 1,
              "offset": (page - 1) * page_size}
    _for_small_reads(session)
    rows = session.execute(text(measures.drill_sql(subject.kind, ind.measure, part, by)), params).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    return [r.incident_id for r in rows], {r.incident_id: _rounded(r.hours) for r in rows}, more
