"""The residents' channel: a report without an account, its private tracking link, 回访, the grid's
public notice, masking, and the purge of residents' contacts. Flush, never commit.

A resident's report is an incident like any other (``incidents.services.create_incident`` with a
channel): routed to the grid's worker, it waits in 待立案 until registered, declined or merged
(``incidents.lifecycle``). The tracking token is derived from the report's client UUID with the
app's secret (HMAC), so a resend of the same report gets the same link and only its SHA-256 is
stored; a lost link is given again for the code and the phone number the resident left.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import GridsysError, NotFound
from ..inputs import text_or_none
from ..people.models import GridAssignment, User
from ..zones.models import Grid
from ..incidents import lifecycle, services as incidents
from ..incidents.models import Category, Incident
from ..incidents.privacy import check_contact, token_hash, tracking_token

CHANNELS = ("resident", "phone", "open311")


@dataclass(frozen=True)
class Submitted:
    incident: Incident
    token: str          # the private tracking link's token (the same for a resend)
    created: bool


def submit(session: Session, data: incidents.NewIncident, *, secret: str, channel: str = "resident",
           phone=None, name=None, staff: User | None = None, at: datetime | None = None) -> Submitted:
    """A resident's report (web page, Open311 client, or a call entered by ``staff``): only the
    categories residents may choose; routed, waiting for 立案; with its tracking token."""
    assert channel in CHANNELS, channel
    category = session.get(Category, str(data.category or "")[:4])
    if channel != "phone" and (category is None or not category.active or not category.resident_choice):
        raise GridsysError("category_not_for_residents", "choose one of the listed kinds of problem",
                           category=str(data.category or "")[:4])
    contact = check_contact(phone, name)
    token = tracking_token(secret, incidents.parse_uuid(data.client_uuid))
    incident, created = incidents.create_incident(session, staff, data, at=at, channel=channel, contact=contact,
                                                  tracking_hash=token_hash(token))
    return Submitted(incident, token, created)


def by_token(session: Session, token) -> Incident:
    """The report a tracking token belongs to (404 for any other string)."""
    if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{32}", token):
        raise NotFound("tracking_not_found", "this tracking link is not valid: check it, or recover it with "
                                             "the code and your phone number")
    incident = session.scalar(select(Incident).where(Incident.tracking_hash == token_hash(token)))
    if incident is None:
        raise NotFound("tracking_not_found", "this tracking link is not valid: check it, or recover it with "
                                             "the code and your phone number")
    return incident


def recover(session: Session, code, phone, *, secret: str) -> str:
    """The tracking token again, for the code and the phone number the resident left. The same
    refusal for a wrong code, a wrong number or no number, so neither can be probed."""
    code = (text_or_none(code, "tracking_code_invalid", "code") or "").strip()[:40]
    digits = re.sub(r"\D", "", text_or_none(phone, "phone_invalid", "phone") or "")
    incident = session.scalar(select(Incident).where(Incident.code == code, Incident.tracking_hash.is_not(None)))
    if incident is None or not digits or re.sub(r"\D", "", incident.contact_phone or "") != digits:
        raise NotFound("tracking_not_recovered", "no report matches this code and phone number")
    return tracking_token(secret, incident.client_uuid)


def rate(session: Session, incident: Incident, rating, comment="", *, staff: User | None = None) -> None:
    """The resident's 回访 (``staff``: a telephone 回访 recorded for a resident who called)."""
    lifecycle.rate(session, incident, rating, comment, via="phone" if staff else "web", actor=staff)


def resident_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).where(Category.active, Category.resident_choice)
                                .order_by(Category.code)))


@dataclass(frozen=True)
class NoticeEntry:
    """One line of a grid's public notice (网格公示)."""
    name: str
    duties: list[str]
    phone: str | None   # only when the worker agreed to publish it


def grid_notice(session: Session, grid: Grid) -> list[NoticeEntry]:
    rows = session.execute(select(User, GridAssignment.duty).join(GridAssignment, GridAssignment.user_id == User.id)
                           .where(GridAssignment.grid_id == grid.id, GridAssignment.valid_to.is_(None),
                                  GridAssignment.backup.is_(False), User.active)
                           .order_by(User.display_name, GridAssignment.duty)).all()
    people: dict[int, NoticeEntry] = {}
    for user, duty in rows:
        entry = people.setdefault(user.id, NoticeEntry(user.display_name or user.username, [],
                                                       user.phone if user.phone_public else None))
        entry.duties.append(duty)
    return list(people.values())
