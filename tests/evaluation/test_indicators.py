"""The indicators of a hand-built October (issue 16): every figure is worked out by hand below, and
every figure's drill-down lists exactly the incidents behind it.

Category 0201 (治安隐患) throughout: 24 h to close after dispatch, 12 h to answer a resident, normal
priority. All in grid 1-1 (safety1 handles, leader1 verifies) except O, in grid 2-1 (worker21,
leader2). Hours are counted from each incident's report; times are UTC, and October in Shanghai runs
from 09-30 16:00 to 10-31 16:00 UTC. Deadline = first dispatch + 24 h (+ extensions; urgent: 4 h).

    A staff     accept 1, resolve 5, close 6                          closed on time (due 24)
    B staff     accept 2, resolve 30, close 31                        late (due 24)
    C staff     extend +24 h at 10, accept 12, resolve 40, close 44   on time (due 24 + 24 = 48)
    D staff     accept 1, leader1 takes at 30, resolves 40, closes 41  late: the take's fresh deadline does not count
    E staff     reassigned to general1 at 30, accept 31, resolve 40, close 41   late, likewise
    F staff     accept 1, resolve 5, reopened 6, resolve 8, close 9   on time; reopened (返工)
    G resident  register 2, accept 3, resolve 10, close 12, rated 满意 at 20      answered in time, on time (due 26)
    H resident  register 15, accept 16, resolve 30, close 31, rated 基本满意 at 40  answered late, on time (due 39)
    I resident  declined at 3                                          answered in time, cancelled
    J resident  register 1, accept 2, resolve 6, close 8, rated 不满意 at 10, reopened 12, resolve 30,
                close 32          late (due 25): its on-time close was reopened; the reopen's due (36) does not count
    K staff     cancelled at 3                                         left out of on-time
    L resident  nothing: unanswered, open, overdue (answer due at 12)
    M staff     10-31 09:00 local: accept 1, escalated by hand at 2; due 11-01 (November), open, not overdue
    N staff     urgent: escalated at once; accept 1, resolve 5, close 5.5   late (due 4, not 24)
    O staff     grid 2-1: accept 1, resolve 3, close 4                 on time
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from gridsys.evaluation import indicators, periods, subjects
from gridsys.incidents import lifecycle
from gridsys.people import access
from gridsys.residents import services as residents
from gridsys.settings import DEFAULTS
from tests.incidents.helpers import act, new_report, report

AS_OF = datetime(2026, 10, 31, 12, 0, tzinfo=timezone.utc)   # 10-31 20:00 local: "now" for open/overdue


def utc(month, day, hour=1, minute=0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def local_days(first: date, last: date) -> periods.Period:
    return periods.between(first, last, DEFAULTS.zone)


OCTOBER = local_days(date(2026, 10, 1), date(2026, 10, 31))


def resident(session, spot, category, at):
    """A resident's report through the residents' service, awaiting 立案."""
    submitted = residents.submit(session, new_report(spot, category), secret="test-secret", phone="13800001111",
                                 at=at)
    session.commit()
    return submitted.incident


def rated(session, incident, rating, at):
    """The resident's 回访 (residents.rate's lifecycle call, at a chosen time)."""
    lifecycle.rate(session, incident, rating, at=at)
    session.commit()


def subject(session, viewer, kind, code):
    return subjects.resolve(session, access.scope_for(session, viewer), kind, code)


def figures(session, subj, period=OCTOBER, by=None, as_of=AS_OF) -> dict:
    return indicators.compute(session, subj, period, by, as_of=as_of)


def drilled(session, subj, name, part="numerator", period=OCTOBER, as_of=AS_OF, **kw) -> dict[int, float | None]:
    """The incidents behind a figure (all of them: one page) with their measured hours."""
    ids, hours, more = indicators.drill(session, subj, period, name, part, as_of=as_of, **kw)
    assert not more
    return hours


def ids_of(story, letters: str) -> set[int]:
    return {getattr(story, letter).id for letter in letters}


@pytest.fixture
def october(session, world):
    w = world
    s = SimpleNamespace(world=w)

    def h(base, hours):
        return base + timedelta(hours=hours)

    def staff(letter, base, spot="g11", reporter=None, **kw):
        incident = report(session, reporter or w.safety1, spot, "0201", at=base, **kw)
        setattr(s, letter, incident)
        return incident

    a = staff("A", utc(10, 5))
    act(session, a, w.safety1, "accept", at=h(a.created_at, 1))
    act(session, a, w.safety1, "resolve", note="已处理", at=h(a.created_at, 5))
    act(session, a, w.leader1, "close", at=h(a.created_at, 6))

    b = staff("B", utc(10, 6))
    act(session, b, w.safety1, "accept", at=h(b.created_at, 2))
    act(session, b, w.safety1, "resolve", note="已处理", at=h(b.created_at, 30))
    act(session, b, w.leader1, "close", at=h(b.created_at, 31))

    c = staff("C", utc(10, 7))
    act(session, c, w.leader1, "extend", hours=24, note="等配件", at=h(c.created_at, 10))
    act(session, c, w.safety1, "accept", at=h(c.created_at, 12))
    act(session, c, w.safety1, "resolve", note="已处理", at=h(c.created_at, 40))
    act(session, c, w.leader1, "close", at=h(c.created_at, 44))

    d = staff("D", utc(10, 8))
    act(session, d, w.safety1, "accept", at=h(d.created_at, 1))
    act(session, d, w.leader1, "take", at=h(d.created_at, 30))
    act(session, d, w.leader1, "resolve", note="领导处理", at=h(d.created_at, 40))
    act(session, d, w.leader1, "close", at=h(d.created_at, 41))
    assert d.due_at == h(d.created_at, 54)   # the take reset the live deadline (30 + 24)

    e = staff("E", utc(10, 9))
    act(session, e, w.leader1, "reassign", assignee="general1", at=h(e.created_at, 30))
    act(session, e, w.general1, "accept", at=h(e.created_at, 31))
    act(session, e, w.general1, "resolve", note="已处理", at=h(e.created_at, 40))
    act(session, e, w.leader1, "close", at=h(e.created_at, 41))

    f = staff("F", utc(10, 10))
    act(session, f, w.safety1, "accept", at=h(f.created_at, 1))
    act(session, f, w.safety1, "resolve", note="已处理", at=h(f.created_at, 5))
    act(session, f, w.leader1, "reopen", note="没修好", at=h(f.created_at, 6))
    act(session, f, w.safety1, "resolve", note="返工完成", at=h(f.created_at, 8))
    act(session, f, w.leader1, "close", at=h(f.created_at, 9))

    s.G = g = resident(session, "g11", "0201", utc(10, 12))
    act(session, g, w.safety1, "register", at=h(g.created_at, 2))
    act(session, g, w.safety1, "accept", at=h(g.created_at, 3))
    act(session, g, w.safety1, "resolve", note="已处理", at=h(g.created_at, 10))
    act(session, g, w.leader1, "close", at=h(g.created_at, 12))
    rated(session, g, "satisfied", h(g.created_at, 20))

    s.H = hh = resident(session, "g11", "0201", utc(10, 13))
    act(session, hh, w.safety1, "register", at=h(hh.created_at, 15))
    act(session, hh, w.safety1, "accept", at=h(hh.created_at, 16))
    act(session, hh, w.safety1, "resolve", note="已处理", at=h(hh.created_at, 30))
    act(session, hh, w.leader1, "close", at=h(hh.created_at, 31))
    rated(session, hh, "basically", h(hh.created_at, 40))

    s.I = i = resident(session, "g11", "0201", utc(10, 14))
    act(session, i, w.safety1, "decline", note="不属于网格事项", at=h(i.created_at, 3))

    s.J = j = resident(session, "g11", "0201", utc(10, 15))
    act(session, j, w.safety1, "register", at=h(j.created_at, 1))
    act(session, j, w.safety1, "accept", at=h(j.created_at, 2))
    act(session, j, w.safety1, "resolve", note="已处理", at=h(j.created_at, 6))
    act(session, j, w.leader1, "close", at=h(j.created_at, 8))
    rated(session, j, "unsatisfied", h(j.created_at, 10))
    act(session, j, w.leader1, "reopen", note="回访不满意，返工", at=h(j.created_at, 12))
    act(session, j, w.safety1, "resolve", note="返工完成", at=h(j.created_at, 30))
    act(session, j, w.leader1, "close", at=h(j.created_at, 32))

    k = staff("K", utc(10, 16))
    act(session, k, w.leader1, "cancel", note="重复上报", at=h(k.created_at, 3))

    s.L = resident(session, "g11", "0201", utc(10, 20))

    m = staff("M", utc(10, 31))
    act(session, m, w.safety1, "accept", at=h(m.created_at, 1))
    act(session, m, w.safety1, "escalate", note="需要领导协调", at=h(m.created_at, 2))

    n = staff("N", utc(10, 22), priority="urgent")
    act(session, n, w.safety1, "accept", at=h(n.created_at, 1))
    act(session, n, w.safety1, "resolve", note="已处理", at=h(n.created_at, 5))
    act(session, n, w.leader1, "close", at=h(n.created_at, 5.5))

    o = staff("O", utc(10, 23), spot="g21", reporter=w.worker21)
    act(session, o, w.worker21, "accept", at=h(o.created_at, 1))
    act(session, o, w.worker21, "resolve", note="已处理", at=h(o.created_at, 3))
    act(session, o, w.leader2, "close", at=h(o.created_at, 4))
    return s


# The town's October, by hand. Counts: the incidents counted.
COUNTS = {
    "reported": "ABCDEFGHIJKLMNO",       # every report, staff and resident
    "registered": "GHJ",                 # 立案 of residents' reports (I declined, L unanswered)
    "declined": "I",
    "dispatched": "ABCDEFGHJKMNO",       # staff reports at once, residents' at 立案
    "resolved": "ABCDEFGHJNO",           # F and J resolved twice: once each
    "closed": "ABCDEFGHJNO",             # J closed twice: once
    "cancelled": "IK",                   # the decline and the cancellation
    "open_now": "LM",                    # L awaits 立案, M is in progress
    "overdue_now": "L",                  # L's answer was due 10-20 13:00; M is due 11-01 01:00, after AS_OF
}
# Rates: numerator, denominator, value.
RATES = {
    # H registered after 15 h (> 12 h), L never; staff reports count as answered.
    "response_rate": ("ABCDEFGIJKMNO", "ABCDEFGHIJKLMNO", 0.8667),          # 13 / 15
    # Due in October: all dispatched but the cancelled K and M (due in November). On time: A, C (extended),
    # F (reopened before its close), G, H, O. Late: B, D and E (take/reassign do not move it), J (its
    # on-time close was reopened), N (urgent: 4 h).
    "on_time_closure_rate": ("ACFGHO", "ABCDEFGHJNO", 0.5455),               # 6 / 11
    # Dispatched in October, resolved or closed now: all but K (cancelled) and M (in progress).
    "resolution_rate": ("ABCDEFGHJNO", "ABCDEFGHJKMNO", 0.8462),             # 11 / 13
    # Resolved in October, reopened afterwards: F (by leader1) and J (after its 不满意 回访).
    "reopen_rate": ("FJ", "ABCDEFGHJNO", 0.1818),                            # 2 / 11
    "satisfaction_rate": ("GH", "GHJ", 0.6667),                              # (满意 + 基本满意) / rated = 2 / 3
}
ACCEPTED = {"A": 1, "B": 2, "C": 12, "D": 1, "E": 31, "F": 1, "G": 1, "H": 1, "J": 1, "M": 1, "N": 1, "O": 1}
RESOLVED = {"A": 5, "B": 30, "C": 40, "D": 40, "E": 40, "F": 5, "G": 10, "H": 30, "J": 6, "N": 5, "O": 3}
# Durations: the value, and each measured incident's hours.
HOURS = {
    # Report to 立案: 1, 2, 15 -> median 2.
    "time_to_register_p50": (2.0, {"G": 2, "H": 15, "J": 1}),
    # First dispatch to first acceptance: nine of 1 h, B 2, C 12, E 31 (12 values).
    # Median: between the 6th and 7th, both 1. 90th: position 0.9 * 11 = 9.9, 2 + 0.9 * (12 - 2) = 11.
    "time_to_accept_p50": (1.0, ACCEPTED),
    "time_to_accept_p90": (11.0, ACCEPTED),
    # Report to the first thing staff did (N's escalation at once is the system's, not staff's; C's is the
    # extension, E's the reassignment, I's the decline, K's the cancellation). Sorted: seven of 1, 2, 2, 3,
    # 3, 10, 15, 30 (14 values): the median is between the 7th (1) and 8th (2): 1.5.
    "time_to_first_action_p50": (1.5, {"A": 1, "B": 2, "C": 10, "D": 1, "E": 30, "F": 1, "G": 2, "H": 15, "I": 3,
                                       "J": 1, "K": 3, "M": 1, "N": 1, "O": 1}),
    # Report to first resolution: 3, 5, 5, 5, 6, 10, 30, 30, 40, 40, 40: median the 6th (10), 90th at
    # position 0.9 * 10 = 9: 40.
    "time_to_resolve_p50": (10.0, RESOLVED),
    "time_to_resolve_p90": (40.0, RESOLVED),
}
# M's escalation by hand, N's at once (urgent); one each.
ESCALATED = "MN"


def test_the_expectations_cover_every_indicator():
    assert {*COUNTS, *RATES, *HOURS, "escalations"} == set(indicators.NAMES)


def test_every_town_figure_and_its_drill_down(session, october):
    town = subject(session, october.world.admin, "town", october.world.town.code)
    got = figures(session, town)["indicators"]
    wrong = []

    def check(what, actual, expected):
        if actual != expected:
            wrong.append((what, actual, expected))

    for name, letters in COUNTS.items():
        check(name, got[name], {"value": len(letters), "numerator": len(letters), "denominator": None})
        check(f"{name} drill", set(drilled(session, town, name)), ids_of(october, letters))
    for name, (num, den, value) in RATES.items():
        check(name, got[name], {"value": value, "numerator": len(num), "denominator": len(den)})
        check(f"{name} numerator", set(drilled(session, town, name)), ids_of(october, num))
        check(f"{name} denominator", set(drilled(session, town, name, "denominator")), ids_of(october, den))
        check(f"{name} rest", set(drilled(session, town, name, "rest")), ids_of(october, den) - ids_of(october, num))
    for name, (value, hours) in HOURS.items():
        check(name, got[name], {"value": value, "numerator": None, "denominator": len(hours)})
        check(f"{name} drill", drilled(session, town, name),
              {getattr(october, letter).id: float(h) for letter, h in hours.items()})
    check("escalations", got["escalations"], {"value": 2, "numerator": 2, "denominator": None,
                                              "by_level": {"1": 2}, "by_trigger": {"manual": 1, "urgent": 1}})
    check("escalations drill", set(drilled(session, town, "escalations")), ids_of(october, ESCALATED))
    assert wrong == []


def test_an_area_counts_only_its_own_incidents(session, october):
    """Area 1 is the town without O (grid 2-1): its leader sees the same incidents less O."""
    area = subject(session, october.world.leader1, "area", october.world.a1.code)
    got = figures(session, area)["indicators"]
    assert got["reported"]["value"] == 14
    assert got["on_time_closure_rate"] == {"value": 0.5, "numerator": 5, "denominator": 10}      # A C F G H / 10
    assert got["response_rate"] == {"value": 0.8571, "numerator": 12, "denominator": 14}
    assert got["reopen_rate"] == {"value": 0.2, "numerator": 2, "denominator": 10}
    assert set(drilled(session, area, "on_time_closure_rate", "rest")) == ids_of(october, "BDEJN")
    assert set(drilled(session, area, "closed")) == ids_of(october, "ABCDEFGHJN")
    grid21 = subject(session, october.world.admin, "grid", october.world.g21.code)
    assert set(drilled(session, grid21, "on_time_closure_rate")) == ids_of(october, "O")


def test_a_persons_figures_are_the_incidents_they_handle(session, october):
    """safety1 handles all of grid 1-1's but D (taken by leader1) and E (reassigned to general1)."""
    w = october.world
    safety1 = subject(session, w.admin, "person", "safety1")
    got = figures(session, safety1)["indicators"]
    assert got["reported"]["value"] == 12
    assert got["on_time_closure_rate"] == {"value": 0.625, "numerator": 5, "denominator": 8}   # A C F G H / 8
    assert set(drilled(session, safety1, "on_time_closure_rate", "rest")) == ids_of(october, "BJN")
    leader1 = subject(session, w.admin, "person", "leader1")
    assert set(drilled(session, leader1, "on_time_closure_rate", "denominator")) == ids_of(october, "D")
    assert figures(session, leader1)["indicators"]["on_time_closure_rate"]["value"] == 0.0


def test_rows_by_each_key(session, october):
    town = subject(session, october.world.admin, "town", october.world.town.code)

    def reported(by):
        return {r["key"]: r["indicators"]["reported"]["value"] for r in figures(session, town, by=by)["rows"]}

    w = october.world
    assert reported("grid") == {w.g11.code: 14, w.g21.code: 1}
    assert reported("area") == {w.a1.code: 14, w.a2.code: 1}
    assert reported("person") == {"general1": 1, "leader1": 1, "safety1": 12, "worker21": 1}
    assert reported("category") == {"0201": 15}
    assert reported("duty") == {"safety": 15}
    assert reported("month") == {"2026-10": 15}
    rows = {r["key"]: r["indicators"] for r in figures(session, town, by="grid")["rows"]}
    assert rows[w.g11.code]["on_time_closure_rate"] == {"value": 0.5, "numerator": 5, "denominator": 10}
    assert rows[w.g21.code]["on_time_closure_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    late_in_g11 = drilled(session, town, "on_time_closure_rate", "rest", by="grid", key=w.g11.code)
    assert set(late_in_g11) == ids_of(october, "BDEJN")
