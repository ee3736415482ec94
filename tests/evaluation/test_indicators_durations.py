"""The duration indicators (hours), worked out by hand: medians and 90th percentiles interpolate
between neighbouring values (percentile_cont: position p * (n - 1) in the sorted list), and only the
first acceptance and the first resolution of an incident count.

All in grid 1-1, category 0201, one incident a day in October; hours from each report:

    S1 staff     accept 1, resolve 5, reopened 6, accept 7, resolve 8   (first acceptance 1, resolution 5)
    S2 staff     accept 2, resolve 6
    S3 staff     accept 3, resolve 9
    S4 staff     accept 4, resolve 20
    S5 staff     accept 10
    S6 staff     leader1 takes it at 6 (a take is an acceptance)
    R1 resident  立案 at 1
    R2 resident  立案 at 2
    R3 resident  立案 at 4
    R4 resident  a comment by safety1 at 0.5, 立案 at 10
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.evaluation.test_indicators import OCTOBER, drilled, figures, local_days, resident, subject, utc
from tests.incidents.helpers import act, report


@pytest.fixture
def timed(session, world):
    w = world
    s = {}

    def staff(name, day):
        s[name] = report(session, w.safety1, "g11", "0201", at=utc(10, day))
        return s[name]

    def at(incident, hours):
        return incident.created_at + timedelta(hours=hours)

    for name, day, accept, resolve in (("S1", 1, 1, 5), ("S2", 2, 2, 6), ("S3", 3, 3, 9), ("S4", 4, 4, 20),
                                       ("S5", 5, 10, None)):
        incident = staff(name, day)
        act(session, incident, w.safety1, "accept", at=at(incident, accept))
        if resolve is not None:
            act(session, incident, w.safety1, "resolve", note="已处理", at=at(incident, resolve))
    s1 = s["S1"]
    act(session, s1, w.leader1, "reopen", note="没修好", at=at(s1, 6))
    act(session, s1, w.safety1, "accept", at=at(s1, 7))
    act(session, s1, w.safety1, "resolve", note="返工完成", at=at(s1, 8))
    s6 = staff("S6", 6)
    act(session, s6, w.leader1, "take", at=at(s6, 6))
    for name, day, register in (("R1", 7, 1), ("R2", 8, 2), ("R3", 9, 4), ("R4", 10, 10)):
        s[name] = incident = resident(session, "g11", "0201", utc(10, day))
        if name == "R4":
            act(session, incident, w.safety1, "comment", note="已联系居民", at=at(incident, 0.5))
        act(session, incident, w.safety1, "register", at=at(incident, register))
    return s


def hours_of(timed, **hours) -> dict[int, float]:
    return {timed[name].id: float(h) for name, h in hours.items()}


def test_medians_and_90th_percentiles(session, world, timed):
    town = subject(session, world.admin, "town", world.town.code)
    got = figures(session, town)["indicators"]
    # 立案: 1, 2, 4, 10: the median is halfway between 2 and 4.
    assert got["time_to_register_p50"] == {"value": 3.0, "numerator": None, "denominator": 4}
    # First acceptance: 1, 2, 3, 4, 6, 10. Median at position 2.5: (3 + 4) / 2 = 3.5;
    # 90th at position 4.5: 6 + 0.5 * (10 - 6) = 8.
    assert got["time_to_accept_p50"] == {"value": 3.5, "numerator": None, "denominator": 6}
    assert got["time_to_accept_p90"] == {"value": 8.0, "numerator": None, "denominator": 6}
    # First staff action: S 1, 2, 3, 4, 10, 6 and R 1, 2, 4, 0.5 (R4's comment, before its 立案).
    # Sorted 0.5, 1, 1, 2, 2, 3, 4, 4, 6, 10: median at position 4.5: (2 + 3) / 2 = 2.5.
    assert got["time_to_first_action_p50"] == {"value": 2.5, "numerator": None, "denominator": 10}
    # First resolution: 5, 6, 9, 20. Median at position 1.5: 7.5; 90th at 2.7: 9 + 0.7 * (20 - 9) = 16.7.
    assert got["time_to_resolve_p50"] == {"value": 7.5, "numerator": None, "denominator": 4}
    assert got["time_to_resolve_p90"] == {"value": 16.7, "numerator": None, "denominator": 4}


def test_each_duration_drills_to_the_incidents_measured_with_their_hours(session, world, timed):
    town = subject(session, world.admin, "town", world.town.code)
    assert drilled(session, town, "time_to_register_p50") == hours_of(timed, R1=1, R2=2, R3=4, R4=10)
    accepted = hours_of(timed, S1=1, S2=2, S3=3, S4=4, S5=10, S6=6)   # S1's second acceptance (7) is not a first
    assert drilled(session, town, "time_to_accept_p50") == accepted
    assert drilled(session, town, "time_to_accept_p90") == accepted
    assert drilled(session, town, "time_to_first_action_p50") == hours_of(
        timed, S1=1, S2=2, S3=3, S4=4, S5=10, S6=6, R1=1, R2=2, R3=4, R4=0.5)
    resolved = hours_of(timed, S1=5, S2=6, S3=9, S4=20)                # S1's second resolution (8) is not a first
    assert drilled(session, town, "time_to_resolve_p50") == resolved
    assert drilled(session, town, "time_to_resolve_p90") == resolved


def test_a_period_without_incidents_has_no_durations_and_no_rates(session, world, timed):
    town = subject(session, world.admin, "town", world.town.code)
    got = figures(session, town, local_days(date(2026, 9, 1), date(2026, 9, 30)))["indicators"]
    assert got["time_to_resolve_p50"] == {"value": None, "numerator": None, "denominator": 0}
    assert got["on_time_closure_rate"] == {"value": None, "numerator": 0, "denominator": 0}
    assert got["reported"] == {"value": 0, "numerator": 0, "denominator": None}
    assert drilled(session, town, "time_to_resolve_p50", period=local_days(date(2026, 9, 1), date(2026, 9, 30))) == {}
    # October has them all.
    assert figures(session, town, OCTOBER)["indicators"]["reported"]["value"] == 10
