"""On-time closure's judged deadline and the response rate's response time, at their edges.

The judged deadline is the first dispatch + the category's time (urgent: at most 4 h) + every
explicit extension (延期); a reopen's fresh deadline does not move it. A resident's report is
answered in time when registered, declined or merged within its category's response time.
"""
from __future__ import annotations

from datetime import timedelta

from tests.evaluation.test_indicators import drilled, figures, resident, subject, utc
from tests.incidents.helpers import act, report


def hours_after(incident, hours):
    return incident.created_at + timedelta(hours=hours)


def test_judged_deadlines(session, world):
    w = world

    def closed(day, category="0201", at=None, priority=None, extensions=(), reopened=None):
        incident = report(session, w.safety1, "g11", category, at=utc(10, day), priority=priority)
        for when, hours in extensions:
            act(session, incident, w.leader1, "extend", hours=hours, note="延期", at=hours_after(incident, when))
        if reopened is not None:
            act(session, incident, w.safety1, "resolve", note="已处理", at=hours_after(incident, reopened - 1))
            act(session, incident, w.leader1, "reopen", note="返工", at=hours_after(incident, reopened))
        act(session, incident, w.safety1, "resolve", note="已处理", at=hours_after(incident, at - 1))
        act(session, incident, w.leader1, "close", at=hours_after(incident, at))
        return incident

    twice = closed(1, at=40, extensions=[(10, 12), (20, 12)])       # 24 + 12 + 12 = 48: on time
    once = closed(2, at=40, extensions=[(10, 12)])                  # 24 + 12 = 36: late
    urgent = closed(3, at=9, priority="urgent", extensions=[(2, 6)])  # min(24, 4) + 6 = 10: on time
    fire = closed(4, category="0202", at=3)                          # 消防 (urgent category): 2 h: late
    reopened = closed(5, at=30, reopened=20)                         # reopened at 20 (fresh due 44): 24: late
    afterwards = closed(6, at=40, extensions=[(30, 24)])            # extended after the deadline: 48: on time
    town = subject(session, w.admin, "town", w.town.code)
    assert figures(session, town)["indicators"]["on_time_closure_rate"] == \
        {"value": 0.5, "numerator": 3, "denominator": 6}
    assert set(drilled(session, town, "on_time_closure_rate")) == {twice.id, urgent.id, afterwards.id}
    assert set(drilled(session, town, "on_time_closure_rate", "rest")) == {once.id, fire.id, reopened.id}
    assert figures(session, town)["indicators"]["reopen_rate"] == {"value": 0.1667, "numerator": 1, "denominator": 6}


def test_response_times_per_category(session, world):
    w = world
    on_the_hour = resident(session, "g11", "0201", utc(10, 1))        # 0201: 12 h to answer
    act(session, on_the_hour, w.safety1, "register", at=hours_after(on_the_hour, 12))
    a_minute_late = resident(session, "g11", "0201", utc(10, 2))
    act(session, a_minute_late, w.safety1, "register", at=hours_after(a_minute_late, 12 + 1 / 60))
    duplicate = resident(session, "g11", "0201", utc(10, 3))
    act(session, duplicate, w.safety1, "merge", duplicate_of=on_the_hour.code, at=hours_after(duplicate, 1))
    slow_category = resident(session, "g11", "0402", utc(10, 4))      # 0402 文化活动: 48 h to answer
    act(session, slow_category, w.general1, "register", at=hours_after(slow_category, 30))
    staff = report(session, w.safety1, "g11", "0201", at=utc(10, 5))  # dispatched at once: answered
    town = subject(session, w.admin, "town", w.town.code)
    got = figures(session, town)["indicators"]
    assert got["response_rate"] == {"value": 0.8, "numerator": 4, "denominator": 5}
    assert set(drilled(session, town, "response_rate")) == {on_the_hour.id, duplicate.id, slow_category.id, staff.id}
    assert set(drilled(session, town, "response_rate", "rest")) == {a_minute_late.id}
    # The merged duplicate is cancelled, not declined; the time to register counts every 立案, late or not.
    assert set(drilled(session, town, "cancelled")) == {duplicate.id}
    assert got["declined"]["value"] == 0
    assert drilled(session, town, "time_to_register_p50") == {on_the_hour.id: 12.0, a_minute_late.id: 12.02,
                                                                slow_category.id: 30.0}
