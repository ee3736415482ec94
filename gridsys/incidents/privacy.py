"""What of an incident's people the public and other staff may read: residents' contacts masked,
phone-like numbers in free text masked, and contacts forgotten some days after closure (the sweep
does it; ``flask --app gridsys residents purge-contacts`` too)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from ..clock import now
from .models import Incident

# Anything that looks like a phone number in free text: mobiles, landlines with area codes, +86 forms.
PHONE_LIKE = re.compile(r"(?<![\d+])\+?\d(?:[ -]?\d){6,}(?!\d)")   # 7 or more digits, spaced or not


def mask_phone(phone: str | None) -> str | None:
    """138****1234: what anyone but the handler and leaders in scope sees of a resident's number."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    return digits[:3] + "*" * max(len(digits) - 7, 1) + digits[-4:] if len(digits) >= 8 else "*" * len(digits)


def mask_numbers(text: str | None) -> str:
    """Free text for the public: every phone-like number masked."""
    return PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)) or "", text or "")


def purge_contacts(session: Session, *, days: int, as_of: datetime | None = None) -> int:
    """Forget residents' contacts ``days`` after closure (or cancellation). Returns how many."""
    cutoff = (as_of or now()) - timedelta(days=days)
    ended = or_(Incident.closed_at < cutoff,
                (Incident.status == "cancelled") & (Incident.updated_at < cutoff))
    result = session.execute(update(Incident).where(
        or_(Incident.contact_phone.is_not(None), Incident.contact_name.is_not(None)),
        Incident.status.in_(("closed", "cancelled")), ended)
        .values(contact_phone=None, contact_name=None).execution_options(synchronize_session=False))
    return result.rowcount
