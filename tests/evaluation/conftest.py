"""The incident tests' town and people (tests/incidents/conftest.py) serve the evaluation tests too,
and the October history the API and publication tests read."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.incidents.conftest import app, password_hash, users, world, zones  # noqa: F401
from tests.incidents.helpers import act, report

T0 = datetime(2026, 10, 5, 1, 0, tzinfo=timezone.utc)   # 09:00 local on 5 October


@pytest.fixture
def history(session, world):
    """One on-time closure in grid 1-1; one incident in grid 2-1 still open, late, at the end of October."""
    done = report(session, world.safety1, "g11", "0201", at=T0)
    act(session, done, world.safety1, "accept", at=T0 + timedelta(hours=2))
    act(session, done, world.safety1, "resolve", note="修好了", at=T0 + timedelta(hours=5))
    act(session, done, world.leader1, "close", at=T0 + timedelta(hours=6))
    late = report(session, world.worker21, "g21", "0201", at=T0)
    return done, late
