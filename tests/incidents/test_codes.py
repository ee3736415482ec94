"""Incident codes never overflow (issue 12): <zone>-<yyyymmdd>-<seq> with at least three digits,
then as many as the day's count needs; the 1000th report in one grid on one day is stored with
its own code, as is every one after it."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from gridsys.incidents.models import Incident
from tests.incidents.helpers import report


def test_more_than_a_thousand_reports_in_one_grid_on_one_day(session, world):
    at = report(session, world.general1, "g11", "0101", commit=False).created_at
    for n in range(1000):
        report(session, world.general1, "g11", "0101", description=f"第{n}次", at=at, commit=False)
    session.commit()
    codes = session.scalars(select(Incident.code).where(Incident.grid_id == world.g11.id)
                            .order_by(Incident.id)).all()
    assert len(codes) == len(set(codes)) == 1001
    prefix = f"{world.g11.code}-{at.astimezone(__import__('zoneinfo').ZoneInfo('Asia/Shanghai')):%Y%m%d}-"
    assert codes[0] == prefix + "001" and codes[998] == prefix + "999"
    assert codes[999] == prefix + "1000" and codes[1000] == prefix + "1001"
    assert all(re.fullmatch(re.escape(prefix) + r"\d{3,}", c) for c in codes)
    assert session.scalar(select(func.max(func.length(Incident.code)))) <= Incident.code.type.length
