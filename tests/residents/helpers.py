"""Reporting as a resident through the real service."""
from __future__ import annotations

from gridsys.residents import services as residents
from tests.incidents.helpers import new_report

SECRET = "test-secret"


def resident_report(session, spot="g11", category="0201", *, phone="13800001111", commit=True, **kw):
    submitted = residents.submit(session, new_report(spot, category, **kw), secret=SECRET, phone=phone)
    if commit:
        session.commit()
    return submitted
