"""The period of an evaluation: whole local days, ``from`` and ``to`` inclusive, in the towns' time
zone (a month ends at local midnight, not at UTC midnight)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ..clock import now
from ..errors import GridsysError
from ..inputs import text_or_none

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    first: date        # the first day
    last: date         # the last day (inclusive)
    start: datetime    # local midnight starting ``first``, aware
    end: datetime      # local midnight after ``last`` (exclusive)

    def as_json(self) -> dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def between(first: date, last: date, zone) -> Period:
    return Period(first, last, datetime.combine(first, time(), zone),
                  datetime.combine(last + timedelta(days=1), time(), zone))


def last_month(zone, today: date | None = None) -> Period:
    """The calendar month before this one (local time): the dashboard's default."""
    today = today or now().astimezone(zone).date()
    last = today.replace(day=1) - timedelta(days=1)
    return between(last.replace(day=1), last, zone)


def months_back(period: Period, count: int, zone) -> Period:
    """``count`` whole months ending with the period's last month (the trend chart's span)."""
    month = period.last.replace(day=1)
    for _ in range(count - 1):
        month = (month - timedelta(days=1)).replace(day=1)
    return between(month, period.last, zone)


def _day(value, name: str) -> date | None:
    value = (text_or_none(value, "day_invalid", name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad(value, name)
    except ValueError:
        return _bad(value, name)


def _bad(value: str, name: str):
    raise GridsysError("day_invalid", f"{name} is a date YYYY-MM-DD, not {value[:40]!r}", field=name, status=400)


def parse(args, zone) -> Period:
    """``from`` and ``to`` (YYYY-MM-DD, both or neither: last month), at most MAX_DAYS days."""
    first, last = _day(args.get("from"), "from"), _day(args.get("to"), "to")
    if first is None and last is None:
        return last_month(zone)
    if first is None or last is None:
        raise GridsysError("period_invalid", "give both from and to (YYYY-MM-DD), or neither for last month", status=400)
    if first > last:
        raise GridsysError("period_invalid", f"from ({first}) is after to ({last})", status=400)
    if (last - first).days + 1 > MAX_DAYS:
        raise GridsysError("period_too_long", f"a period is at most {MAX_DAYS} days", max_days=MAX_DAYS, status=400)
    return between(first, last, zone)
