"""What of an incident's people the public and other staff may read: residents' contacts masked,
phone-like numbers in free text masked, and contacts forgotten some days after closure (the sweep
does it; ``flask --app gridsys residents purge-contacts`` too). Also the check of a contact given
with a report, and the hash of a report's private tracking link, for a report staff enter for a
caller (channel phone), which this layer writes without the residents' layer above it."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.orm import Session

from ..clock import now
from ..errors import GridsysError
from ..inputs import text_or_none
from ..people.access import Scope
from ..people.models import User
from . import scoping
from .models import Incident

# Anything that looks like a phone number in free text: mobiles, landlines with area codes, +86 forms.
PHONE_LIKE = re.compile(r"(?<![\d+])\+?\d(?:[ -]?\d){6,}(?!\d)")   # 7 or more digits, spaced or not


def mask_phone(phone: str | None) -> str | None:
    """138****1234: what anyone but the handler and leaders in scope sees of a resident's number."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    return digits[:3] + "*" * max(len(digits) - 7, 1) + digits[-4:] if len(digits) >= 8 else "*" * len(digits)


@dataclass(frozen=True)
class Contact:
    """A resident's contact as one person may read it: in full, or the number masked and no name."""
    phone: str | None
    name: str | None
    masked: bool


def sees_contact(user: User, scope: Scope, incident: Incident) -> bool:
    """The handler, and the leaders and administrators in scope, call the resident back: they read
    the number in full; anyone else who sees the incident reads it masked."""
    return incident.assignee_id == user.id or scoping.manages_incident(scope, incident)


def contact_for(user: User, scope: Scope, incident: Incident) -> Contact:
    if sees_contact(user, scope, incident):
        return Contact(incident.contact_phone, incident.contact_name, False)
    return Contact(mask_phone(incident.contact_phone), None, True)


# A call-back number: 6 to 20 digits, spaces and dashes between them, a leading +.
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{4,18}[0-9]$")
MAX_NAME = 60


def check_contact(phone, name=None) -> dict:
    """A caller's optional call-back number and name, as ``lifecycle.create`` stores them (the same
    rule and codes as a resident's own report)."""
    phone = (text_or_none(phone, "phone_invalid", "phone") or "").strip()
    if phone and not PHONE_RE.match(phone):
        raise GridsysError("phone_invalid", "the phone number has 6 to 20 digits (spaces and dashes allowed)")
    name = (text_or_none(name, "contact_name_invalid", "name") or "").strip()
    if len(name) > MAX_NAME:
        raise GridsysError("contact_name_invalid", f"a name has at most {MAX_NAME} characters")
    return {"phone": phone or None, "name": name or None}


def tracking_token(secret: str, client_uuid) -> str:
    """The private tracking token of a report: HMAC of its client UUID with the app's secret, 32
    characters (a resend of the same report gets the same link). Only its SHA-256 is stored."""
    return hmac.new(secret.encode(), f"track:{client_uuid}".encode(), hashlib.sha256).hexdigest()[:32]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tracking_hash(secret: str, client_uuid) -> str:
    """What the residents' pages find a tracking link and a recovery by."""
    return token_hash(tracking_token(secret, client_uuid))


def mask_numbers(text: str | None) -> str:
    """Free text for the public: every phone-like number masked."""
    return PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)) or "", text or "")


def purge_contacts(session: Session, *, days: int, as_of: datetime | None = None) -> int:
    """Forget residents' contacts ``days`` after closure (or cancellation). Returns how many."""
    return session.execute(purge_statement((as_of or now()) - timedelta(days=days))).rowcount


def purge_statement(cutoff: datetime):
    """The UPDATE forgetting the contacts of incidents that ended before ``cutoff``: closed_at, or
    for a cancelled one (never closed) its last change; read from ix_incidents_contact_held, which
    holds just the ended incidents keeping a contact."""
    return (update(Incident).where(
        or_(Incident.contact_phone.is_not(None), Incident.contact_name.is_not(None)),
        Incident.status.in_(("closed", "cancelled")), func.coalesce(Incident.closed_at, Incident.updated_at) < cutoff)
        .values(contact_phone=None, contact_name=None).execution_options(synchronize_session=False))


def public_text(text: str, contact_name: str | None = None) -> str:
    """A reply as the public reads it: phone-like numbers masked, and the reporter's name if it is in it.
    Stored with the reply when it is written (``data.public_text``): the name is purged from the
    incident some days after closure, while the reply stays on the public page for 90."""
    text = mask_numbers(text)
    if contact_name and len(contact_name.strip()) >= 2:
        text = re.sub(re.escape(contact_name.strip()), "**", text)
    return text


def reply_as_published(note: str, data: dict | None, contact_name: str | None) -> str:
    """A public reply as the resident and the public read it: the text masked when it was written,
    else (a reply from before that) masked now."""
    return (data or {}).get("public_text") or public_text(note, contact_name)
