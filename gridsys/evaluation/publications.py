"""Publishing a town's evaluation (考核结果公开): the period's figures frozen as they stood, so later
edits to incidents never change what the public reads. A correction is a new, dated publication for
the same town and period that names the one it corrects; both stay public. No Flask.

The snapshot (``Publication.figures``) holds everything the public pages and the CSV show: the
town's figures, the rows by area and by grid with their names, and each indicator's label and
definition in Chinese and English, as they were when published.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from sqlalchemy import select, text as sql
from sqlalchemy.orm import Session, defer

from ..clock import now
from ..errors import GridsysError, NotFound
from ..incidents.wording import LEVEL_NAMES, TRIGGER_NAMES
from ..inputs import INT4_MAX, check_text, text_or_none
from ..people import access
from ..people.models import User
from ..vocabulary import ROLES
from ..wording import DUTY_NAMES, text
from ..zones.models import Area, Grid, Town
from . import indicators, subjects
from .models import Publication
from .periods import Period

MAX_NOTE = 500
LOCALES = ("zh", "en")
SNAPSHOT_VERSION = 1
GAPS = "duty_gaps"
LEVELS = ("town", "area", "grid")


# --- publishing ---------------------------------------------------------------------------------

def publish(session: Session, actor: User, town_code, period: Period, note="", *,
            at: datetime | None = None) -> Publication:
    """Publish the town's figures for a period that has ended; a second publication of the same
    town and period is a correction of the latest one and must say in ``note`` what it corrects."""
    at = at or now()
    town = _publishable_town(session, actor, town_code)
    note = _note(note)
    if period.end > at:
        raise GridsysError("period_not_over", f"the period ends at {period.end.isoformat()}: publish it after that",
                           to=period.last.isoformat())
    # Two administrators publishing the same town at once: the second waits and becomes the correction.
    session.execute(sql("SELECT pg_advisory_xact_lock(hashtext('evaluation:' || :town))"), {"town": town.id})
    previous = latest(session, town.id, period)
    if previous is not None and not note:
        raise GridsysError("correction_note_required", "these results were published already: say in the note "
                                                       "what this publication corrects", corrects=previous.id)
    publication = Publication(town_id=town.id, period_from=period.first, period_to=period.last, published_at=at,
                              published_by_id=actor.id, note=note, figures=snapshot(session, town, period, actor, at),
                              supersedes_id=previous.id if previous is not None else None)
    session.add(publication)
    session.flush()
    return publication


def _note(note) -> str:
    note = check_text((text_or_none(note, "note_invalid", "note") or "").strip(), "the note")
    if len(note) > MAX_NOTE:
        raise GridsysError("note_too_long", f"a note has at most {MAX_NOTE} characters", max_length=MAX_NOTE)
    return note


def _publishable_town(session: Session, actor: User, town_code) -> Town:
    """The town if the actor may publish it; otherwise the same 404 as a town that does not exist."""
    code = (text_or_none(town_code, "code_invalid", "town") or "").strip()[:40]
    if not code:
        raise GridsysError("code_required", "town names the town by its code", status=400)
    town = next((t for t in subjects.towns_published_by(session, access.scope_for(session, actor))
                 if t.code == code), None)
    if town is None:
        raise NotFound("town_not_found", f"no town with code {code}", zone_code=code)
    return town


# --- the snapshot -------------------------------------------------------------------------------

def snapshot(session: Session, town: Town, period: Period, actor: User, at: datetime) -> dict:
    subject = subjects.Subject("town", town.id, town.code, town.name, town.id)
    whole = indicators.compute(session, subject, period, None, as_of=at)
    by_area = indicators.compute(session, subject, period, "area", as_of=at, complete=True)["rows"]
    by_grid = indicators.compute(session, subject, period, "grid", as_of=at, complete=True)["rows"]
    areas = _zones(session, Area, [r["key"] for r in by_area])
    grids = _zones(session, Grid, [r["key"] for r in by_grid])
    figures = whole["indicators"]
    return {
        "version": SNAPSHOT_VERSION,
        "computed_at": at.isoformat(),
        "period": period.as_json(),
        "town": {"code": town.code, "name": town.name, "name_en": town.name_en},
        "publisher_role": _role(actor),
        "indicators": _indicators(),
        "town_figures": figures,
        "areas": [_row(r, areas) for r in by_area],
        "grids": [_row(r, grids) for r in by_grid],
        "names": _names(figures),
    }


def _both(msgid: str) -> dict[str, str]:
    return {locale: text(locale, msgid) for locale in LOCALES}


def _indicators() -> list[dict]:
    """The indicators in their order, each with its kind, label and definition in both languages."""
    found = [{"name": i.name, "kind": i.kind, "label": _both(i.label), "definition": _both(i.definition)}
             for i in indicators.INDICATORS]
    found.append({"name": GAPS, "kind": "count", "label": _both(indicators.GAPS_LABEL),
                  "definition": _both(indicators.GAPS_DEFINITION)})
    return found


def _zones(session: Session, model, codes) -> dict[str, dict]:
    """Names (and a grid's area) of the rows' zones as they are now, retired grids included."""
    codes = [c for c in codes if c is not None]
    if not codes:
        return {}
    if model is Area:
        query = select(Area.code, Area.name, Area.name_en).where(Area.code.in_(codes))
        return {code: {"name": n, "name_en": en} for code, n, en in session.execute(query)}
    query = select(Grid.code, Grid.name, Grid.name_en, Area.code).join(Area, Area.id == Grid.area_id) \
        .where(Grid.code.in_(codes))
    return {code: {"name": n, "name_en": en, "area_code": area} for code, n, en, area in session.execute(query)}


def _row(row: dict, zones: dict) -> dict:
    """One area's or grid's figures; ``code`` None for incidents in no area (or grid)."""
    zone = zones.get(row["key"], {"name": row["label"] if row["key"] else "", "name_en": None})
    return {"code": row["key"], **zone, "figures": row["indicators"]}


def _role(actor: User) -> str:
    """The publisher's role (what the public page names), never the person."""
    return next((role for role in ROLES if role in actor.roles), "")


def _names(figures: dict) -> dict:
    """The names of the escalation levels and triggers and of the duties the figures break down by."""
    escalations, gaps = figures.get("escalations", {}), figures.get(GAPS, {})

    def level_name(locale: str, key: str) -> str:
        msgid = LEVEL_NAMES.get(int(key)) if key.isdigit() else None
        return text(locale, msgid) if msgid else key

    def table(keys, name_of) -> dict[str, dict[str, str]]:
        return {locale: {k: name_of(locale, k) for k in keys} for locale in LOCALES}

    return {
        "level": table(escalations.get("by_level", {}), level_name),
        "trigger": table(escalations.get("by_trigger", {}),
                         lambda loc, k: text(loc, TRIGGER_NAMES[k]) if k in TRIGGER_NAMES else k),
        "duty": table(gaps.get("by_duty", {}), lambda loc, k: text(loc, DUTY_NAMES[k]) if k in DUTY_NAMES else k),
    }


# --- reading ------------------------------------------------------------------------------------

def latest(session: Session, town_id: int, period: Period) -> Publication | None:
    """The newest publication of the town for exactly this period (the one a correction corrects)."""
    return session.scalar(select(Publication).options(defer(Publication.figures))
                          .where(Publication.town_id == town_id, Publication.period_from == period.first,
                                 Publication.period_to == period.last)
                          .order_by(Publication.published_at.desc(), Publication.id.desc()).limit(1))


def list_for(session: Session, town: Town) -> list[Publication]:
    """The town's publications, newest first (without their figures)."""
    return list(session.scalars(select(Publication).options(defer(Publication.figures))
                                .where(Publication.town_id == town.id)
                                .order_by(Publication.published_at.desc(), Publication.id.desc())))


def corrections(publications: list[Publication]) -> dict[int, Publication]:
    """For each publication corrected, the correction of it (the newest, if corrected twice)."""
    found: dict[int, Publication] = {}
    for p in sorted(publications, key=lambda p: (p.published_at, p.id)):
        if p.supersedes_id is not None:
            found[p.supersedes_id] = p
    return found


def get(session: Session, town_code, pub_id: int) -> Publication:
    """One publication of the town (404 if the town has none with this id)."""
    code = town_code if isinstance(town_code, str) else ""
    publication = None if not 0 < pub_id <= INT4_MAX else session.scalar(select(Publication).join(Town, Town.id == Publication.town_id)
                                 .where(Town.code == code, Publication.id == pub_id))
    if publication is None:
        raise NotFound("evaluation_not_found", f"town {code[:40]} has no published evaluation {pub_id}")
    return publication


@dataclass(frozen=True)
class Related:
    """What a publication's page links to: the one it corrects, and the one correcting it."""
    corrects: Publication | None
    corrected_by: Publication | None


def related(session: Session, publication: Publication) -> Related:
    def first(where) -> Publication | None:
        return session.scalar(select(Publication).options(defer(Publication.figures)).where(where)
                              .order_by(Publication.published_at.desc(), Publication.id.desc()).limit(1))
    corrects = first(Publication.id == publication.supersedes_id) if publication.supersedes_id else None
    return Related(corrects, first(Publication.supersedes_id == publication.id))


@dataclass(frozen=True)
class PublishState:
    """What the dashboard's publish form shows: this period's publications so far (newest first),
    and whether the period has ended (only then can it be published)."""
    existing: list[Publication]
    period_over: bool


def publish_state(session: Session, town_id: int, period: Period, *, at: datetime | None = None) -> PublishState:
    existing = list(session.scalars(select(Publication).options(defer(Publication.figures))
                                    .where(Publication.town_id == town_id, Publication.period_from == period.first,
                                           Publication.period_to == period.last)
                                    .order_by(Publication.published_at.desc(), Publication.id.desc())))
    return PublishState(existing, period.end <= (at or now()))


# --- the CSV ------------------------------------------------------------------------------------

def csv_header(figures: dict) -> list[str]:
    columns = ["level", "code", "name"]
    for ind in figures["indicators"]:
        columns += [ind["name"], f"{ind['name']}_numerator", f"{ind['name']}_denominator"]
    return columns


def csv_rows(figures: dict, locale: str = "zh") -> Iterator[list]:
    """One row per subject: the town, then its areas, then its grids; each indicator's value,
    numerator and denominator (rates as fractions 0–1, times in hours, blank when none)."""
    names = [ind["name"] for ind in figures["indicators"]]

    def row(level: str, zone: dict, values: dict) -> list:
        name = zone.get("name_en") if locale == "en" and zone.get("name_en") else zone.get("name", "")
        cells = [level, zone.get("code") or "", name]
        for n in names:
            figure = values.get(n) or {}
            cells += [figure.get("value"), figure.get("numerator"), figure.get("denominator")]
        return cells

    yield row("town", figures["town"], figures["town_figures"])
    for level, key in (("area", "areas"), ("grid", "grids")):
        for zone in figures[key]:
            yield row(level, zone, zone["figures"])
