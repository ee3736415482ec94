"""What a request asks the evaluation for: the subject, the period and the grouping, read from a
query string (the API's and the dashboard's), each refused with a stable code."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from .. import settings
from ..errors import GridsysError
from ..inputs import text_or_none
from ..people import access
from ..people.models import User
from . import indicators, periods, subjects
from .periods import Period
from .subjects import Subject


@dataclass(frozen=True)
class Asked:
    subject: Subject
    period: Period
    by: str | None


def _choice(args, name: str, allowed: tuple[str, ...], code: str) -> str | None:
    value = (text_or_none(args.get(name), code, name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        raise GridsysError(code, f"{name} is one of {', '.join(allowed)}", allowed=list(allowed), status=400)
    return value


def asked(session: Session, user: User, scope: access.Scope, args, *, default_subject: bool = False) -> Asked:
    """``scope``+``code`` (or, for the dashboard's first view, the viewer's widest subject), the period
    ``from``/``to`` (default: last month), ``by``."""
    zone = settings.of(session).zone
    period = periods.parse(args, zone)
    by = _choice(args, "by", indicators.BY, "by_invalid")
    if default_subject and not args.get("scope") and not args.get("code"):
        subject = subjects.default_for(session, user, scope)
    else:
        subject = subjects.resolve(session, scope, args.get("scope"), args.get("code"))
    return Asked(subject, period, by)


def drill_args(args) -> tuple[str, str, str | None]:
    """The figure a drill-down lists: ``indicator``, ``part`` (default numerator), ``key``."""
    indicator = _choice(args, "indicator", indicators.NAMES, "indicator_unknown")
    if indicator is None:
        raise GridsysError("indicator_unknown", f"indicator is one of {', '.join(indicators.NAMES)}",
                           allowed=list(indicators.NAMES), status=400)
    part = _choice(args, "part", indicators.PARTS, "part_invalid") or "numerator"
    key = text_or_none(args.get("key"), "key_invalid", "key")
    return indicator, part, (key.strip()[:40] if key is not None else None)
