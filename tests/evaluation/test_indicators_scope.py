"""Escalations by level and trigger, and whose figures a viewer may see (anything else is a 404)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from gridsys.clock import now
from gridsys.errors import NotFound
from gridsys.incidents import escalation, lifecycle
from gridsys.settings import DEFAULTS
from tests.evaluation.test_indicators import drilled, figures, local_days, subject, utc
from tests.incidents.helpers import act, report


@pytest.fixture
def escalated(session, world):
    """P: urgent, to the area leader at once (level 1, urgent), then to the town (level 2, stale).
    Q: escalated by its handler (level 1, by hand). R: in grid 2-1, overdue (level 1)."""
    w = world
    p = report(session, w.safety1, "g11", "0201", at=utc(10, 5), priority="urgent")
    lifecycle.escalate(session, p, utc(10, 5, 9), trigger="stale")
    session.commit()
    q = report(session, w.safety1, "g11", "0201", at=utc(10, 6))
    act(session, q, w.safety1, "escalate", note="需要协调", at=utc(10, 6, 3))
    r = report(session, w.worker21, "g21", "0201", at=utc(10, 7))
    lifecycle.escalate(session, r, utc(10, 8, 1), trigger="overdue")
    session.commit()
    assert (p.escalation_level, q.escalation_level, r.escalation_level) == (2, 1, 1)
    return p, q, r


def test_escalations_by_level_and_trigger(session, world, escalated):
    p, q, r = escalated
    town = subject(session, world.admin, "town", world.town.code)
    # Four escalations of three incidents: the figure counts escalations, the drill-down the incidents.
    assert figures(session, town)["indicators"]["escalations"] == {
        "value": 4, "numerator": 4, "denominator": None, "by_level": {"1": 3, "2": 1},
        "by_trigger": {"manual": 1, "overdue": 1, "stale": 1, "urgent": 1}}
    assert set(drilled(session, town, "escalations")) == {p.id, q.id, r.id}
    area = subject(session, world.leader1, "area", world.a1.code)
    assert figures(session, area)["indicators"]["escalations"] == {
        "value": 3, "numerator": 3, "denominator": None, "by_level": {"1": 2, "2": 1},
        "by_trigger": {"manual": 1, "stale": 1, "urgent": 1}}
    assert set(drilled(session, area, "escalations")) == {p.id, q.id}
    rows = {row["key"]: row["indicators"]["escalations"]["value"] for row in figures(session, town, by="area")["rows"]}
    assert rows == {world.a1.code: 3, world.a2.code: 1}
    assert set(drilled(session, town, "escalations", by="area", key=world.a2.code)) == {r.id}


def test_the_sweeps_escalations_count_on_the_day_they_happen(session, world):
    """The sweep writes its events at the real time: today's figures show them, as overdue."""
    late = report(session, world.safety1, "g11", "0201", at=now() - timedelta(days=2))   # due a day ago
    assert escalation.sweep(session) == [late.id]
    session.commit()
    today = now().astimezone(DEFAULTS.zone).date()
    town = subject(session, world.admin, "town", world.town.code)
    got = figures(session, town, local_days(today - timedelta(days=3), today), as_of=now())["indicators"]
    assert (got["escalations"]["by_level"], got["escalations"]["by_trigger"]) == ({"1": 1}, {"overdue": 1})
    assert got["overdue_now"]["value"] == 1


def refused(session, viewer, kind, code) -> str:
    with pytest.raises(NotFound) as refusal:
        subject(session, viewer, kind, code)
    return refusal.value.code


def test_a_leader_sees_their_area_and_its_people_only(session, world):
    w = world
    assert subject(session, w.leader1, "area", w.a1.code).id == w.a1.id
    assert subject(session, w.leader1, "grid", w.g12.code).id == w.g12.id
    assert subject(session, w.leader1, "person", "safety1").id == w.safety1.id
    assert refused(session, w.leader1, "area", w.a2.code) == "area_not_found"
    assert refused(session, w.leader1, "grid", w.g21.code) == "grid_not_found"
    assert refused(session, w.leader1, "town", w.town.code) == "town_not_found"
    assert refused(session, w.leader1, "person", "worker21") == "person_not_found"
    # The same refusal as for a code that does not exist.
    assert refused(session, w.leader1, "area", "999999999999") == "area_not_found"


def test_a_worker_sees_their_own_figures_and_their_grid_not_the_town(session, world):
    w = world
    mine = report(session, w.worker12, "g12", "0201", at=utc(10, 5))
    report(session, w.safety1, "g11", "0201", at=utc(10, 5))
    me = subject(session, w.worker12, "person", "worker12")
    assert figures(session, me)["indicators"]["reported"]["value"] == 1
    assert set(drilled(session, me, "reported")) == {mine.id}
    assert subject(session, w.worker12, "grid", w.g12.code).id == w.g12.id
    assert refused(session, w.worker12, "town", w.town.code) == "town_not_found"
    assert refused(session, w.worker12, "area", w.a1.code) == "area_not_found"
    assert refused(session, w.worker12, "grid", w.g11.code) == "grid_not_found"
    assert refused(session, w.worker12, "person", "safety1") == "person_not_found"


def test_a_town_administrator_sees_the_town(session, world):
    assert subject(session, world.admin, "town", world.town.code).id == world.town.id
    november = local_days(date(2026, 11, 1), date(2026, 11, 30))
    town = subject(session, world.admin, "town", world.town.code)
    assert figures(session, town, november)["scope"] == {"kind": "town", "code": world.town.code,
                                                          "name": world.town.name}
