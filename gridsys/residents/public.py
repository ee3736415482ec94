"""What the public may read of the incidents of a town, area or grid: the one de-identified listing
behind the public results pages and Open311's GET requests. No Flask.

Published, for each request: its code, the category's plain name, a coarse place (the names of its
grid, area and town; a point rounded to 0.001°, a cell of about 111 m × 97 m at 29°N), its dates,
its status, the handler's public replies (phone-like numbers and the resident's name masked) and the
photos the handler marked public. Never: the description and address the reporter typed, anyone's
name or phone number, the handler, internal notes, and nothing at all of a sensitive category
(心理咨询, 民政救济, disputes). A report declined (不予受理) or merged as a duplicate is shown as
closed with its reply; one cancelled for another reason was not a case and is not shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Numeric, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..clock import now
from ..errors import NotFound
from ..incidents.models import Category, Incident, IncidentEvent, IncidentPhoto
from ..incidents.privacy import reply_as_published
from ..zones.models import Area, Grid, Town
from ..zones.services import require_zone

WINDOW_DAYS = 90            # what the public pages show, and Open311's default and widest window
COORD_DECIMALS = 3          # the published point: 0.001° (about 100 m)
MAX_PAGE_SIZE = 1000        # Open311's default limit
CLOSED_STATUSES = ("resolved", "closed", "cancelled")   # Open311 "closed": handled, done, or not taken up
DONE_STATUSES = ("resolved", "closed")
SHOWN_CANCELLED = ("declined", "duplicate")
LEVEL_OF_LENGTH = {9: "town", 12: "area", 15: "grid"}
CODE_COLUMN = {"town": Incident.town_id, "area": Incident.area_id, "grid": Incident.grid_id}


def published():
    """The incidents anyone may read about: not of a sensitive category (checked through the
    category's row), and not cancelled unless declined or merged."""
    return and_(Category.sensitive.is_(False),
                or_(Incident.status != "cancelled", Incident.cancel_reason.in_(SHOWN_CANCELLED)))


# --- zones and windows ------------------------------------------------------------------------

@dataclass(frozen=True)
class Zone:
    level: str              # town | area | grid
    row: object             # the Town, Area or Grid


def zone_of(session: Session, code) -> Zone:
    """The town, area or grid of a 9-, 12- or 15-digit code (404 for anything else)."""
    level = LEVEL_OF_LENGTH.get(len(code)) if isinstance(code, str) and code.isascii() and code.isdigit() else None
    if level is None:
        raise NotFound("zone_not_found", "a public page is at /public/<code>, the 9-digit code of a town, "
                                         "12 of an area or 15 of a grid")
    return Zone(level, require_zone(session, level, code))


def last_days(days: int = WINDOW_DAYS, *, at: datetime | None = None) -> tuple[datetime, datetime]:
    end = at or now()
    return end - timedelta(days=days), end


# --- the listing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Criteria:
    """What to list. ``codes`` (service_request_id) overrides the window, categories and statuses."""
    zone: Zone | None = None                 # None: every town
    since: datetime | None = None            # reported at or after
    until: datetime | None = None            # reported at or before
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()           # open | closed
    codes: tuple[str, ...] = ()
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class Reply:
    at: datetime
    text: str


@dataclass(frozen=True)
class Place:
    name: str
    name_en: str | None

    def label(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name


@dataclass(frozen=True)
class PublicRequest:
    code: str
    service_code: str
    plain_zh: str
    plain_en: str
    status: str                   # the incident's status
    cancel_reason: str | None
    requested_at: datetime
    updated_at: datetime
    expected_at: datetime | None  # its deadline, while open
    lat: float
    lon: float
    town_code: str
    places: tuple[Place, ...]     # grid, area, town: the ones it has, finest first
    replies: tuple[Reply, ...] = ()
    photo_ids: tuple[int, ...] = ()

    @property
    def open311_status(self) -> str:
        return "closed" if self.status in CLOSED_STATUSES else "open"

    def category(self, locale: str) -> str:
        return self.plain_en if locale == "en" else self.plain_zh

    def place(self, locale: str, levels: int = 3) -> str:
        return " · ".join(p.label(locale) for p in self.places[:levels])


@dataclass(frozen=True)
class Page:
    items: list[PublicRequest] = field(default_factory=list)
    more: bool = False            # another page follows


def _where(criteria: Criteria) -> list:
    where = [published()]
    if criteria.zone is not None:
        where.append(CODE_COLUMN[criteria.zone.level] == criteria.zone.row.id)
    if criteria.codes:
        return [*where, Incident.code.in_(criteria.codes)]
    if criteria.since is not None:
        where.append(Incident.created_at >= criteria.since)
    if criteria.until is not None:
        where.append(Incident.created_at <= criteria.until)
    if criteria.service_codes:
        where.append(Incident.category_code.in_(criteria.service_codes))
    if criteria.statuses and set(criteria.statuses) != {"open", "closed"}:
        closed = Incident.status.in_(CLOSED_STATUSES)
        where.append(closed if "closed" in criteria.statuses else ~closed)
    return where


def requests(session: Session, criteria: Criteria) -> Page:
    """One page of published requests, newest first, computed in the database."""
    size = max(1, min(criteria.page_size, MAX_PAGE_SIZE))
    town = aliased(Town)
    rows = session.execute(
        select(Incident.id, Incident.code, Incident.category_code,
               func.coalesce(Category.plain_zh, Category.name_zh), func.coalesce(Category.plain_en, Category.name_en),
               Incident.status, Incident.cancel_reason, Incident.created_at,
               func.coalesce(Incident.closed_at, Incident.updated_at),
               case((Incident.status.in_(CLOSED_STATUSES), None), else_=Incident.due_at),
               func.round(func.ST_Y(Incident.geom).cast(Numeric), COORD_DECIMALS),
               func.round(func.ST_X(Incident.geom).cast(Numeric), COORD_DECIMALS),
               town.code, Grid.name, Grid.name_en, Area.name, Area.name_en, town.name, town.name_en,
               Incident.contact_name)
        .join(Category, Category.code == Incident.category_code).join(town, town.id == Incident.town_id)
        .outerjoin(Area, Area.id == Incident.area_id).outerjoin(Grid, Grid.id == Incident.grid_id)
        .where(*_where(criteria)).order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(size + 1).offset((max(criteria.page, 1) - 1) * size)).all()
    more, rows = len(rows) > size, rows[:size]
    ids = [row[0] for row in rows]
    replies: dict[int, list[Reply]] = {}
    names = {row[0]: row[19] for row in rows}
    for incident_id, at, note, data in session.execute(
            select(IncidentEvent.incident_id, IncidentEvent.at, IncidentEvent.note, IncidentEvent.data)
            .where(IncidentEvent.incident_id.in_(ids), IncidentEvent.public, IncidentEvent.note != "")
            .order_by(IncidentEvent.at, IncidentEvent.id)):
        replies.setdefault(incident_id, []).append(Reply(at, reply_as_published(note, data, names.get(incident_id))))
    photos: dict[int, list[int]] = {}
    for photo_id, incident_id in session.execute(
            select(IncidentPhoto.id, IncidentPhoto.incident_id)
            .where(IncidentPhoto.incident_id.in_(ids), IncidentPhoto.public).order_by(IncidentPhoto.id)):
        photos.setdefault(incident_id, []).append(photo_id)
    items = []
    for (incident_id, code, service_code, plain_zh, plain_en, status, reason, created, updated, expected, lat, lon,
         town_code, grid, grid_en, area, area_en, town_name, town_en, _contact) in rows:
        places = tuple(Place(n, e) for n, e in ((grid, grid_en), (area, area_en), (town_name, town_en)) if n)
        items.append(PublicRequest(code, service_code, plain_zh, plain_en, status, reason, created, updated, expected,
                                   float(lat), float(lon), town_code, places, tuple(replies.get(incident_id, ())),
                                   tuple(photos.get(incident_id, ()))))
    return Page(items, more)


# --- counts -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CategoryCount:
    service_code: str
    plain_zh: str
    plain_en: str
    total: int
    done: int            # resolved or closed
    open: int

    def category(self, locale: str) -> str:
        return self.plain_en if locale == "en" else self.plain_zh


def counts(session: Session, zone: Zone | None, since: datetime, until: datetime) -> list[CategoryCount]:
    """Published requests of the zone reported in the window, by category, most reported first."""
    rows = session.execute(
        select(Incident.category_code, func.coalesce(Category.plain_zh, Category.name_zh),
               func.coalesce(Category.plain_en, Category.name_en), func.count(),
               func.count().filter(Incident.status.in_(DONE_STATUSES)),
               func.count().filter(~Incident.status.in_(CLOSED_STATUSES)))
        .join(Category, Category.code == Incident.category_code)
        .where(*_where(Criteria(zone=zone, since=since, until=until)))
        .group_by(Incident.category_code, Category.plain_zh, Category.name_zh, Category.plain_en, Category.name_en)
        .order_by(func.count().desc(), Incident.category_code)).all()
    return [CategoryCount(*row) for row in rows]


# --- photos -----------------------------------------------------------------------------------

def photo(session: Session, photo_id: int, *, thumbnail: bool = False) -> bytes:
    """A photo the handler marked public, of a published incident (404 for any other)."""
    column = IncidentPhoto.thumbnail if thumbnail else IncidentPhoto.data
    blob = None
    if 0 < photo_id < 2**31:
        blob = session.scalar(select(column).join(Incident, Incident.id == IncidentPhoto.incident_id)
                              .join(Category, Category.code == Incident.category_code)
                              .where(IncidentPhoto.id == photo_id, IncidentPhoto.public, published()))
    if blob is None:
        raise NotFound("photo_not_found", "no public photo with that id")
    return blob
