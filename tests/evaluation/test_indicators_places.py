"""Where and when the indicators count an incident: the grid it was in at each event's time (a
boundary move does not rewrite the past), the local month of the event (Asia/Shanghai, UTC+8), and
on-time closure at the incident's deadline (where it was then, and only once the deadline has come).

Category 0201 throughout (24 h to close after dispatch); grid 1-1 is safety1's, grid 1-2 worker12's.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from gridsys import boundaries
from gridsys.zones import redraw
from tests.evaluation.test_indicators import OCTOBER, drilled, figures, local_days, resident, subject, utc
from tests.factories import cell
from tests.incidents.helpers import act, report

NEAR_THE_EDGE = (2, 4.5)       # in grid 1-1 (y 0..5) until grid 1-2 is redrawn to start at y = 4
ALSO_NEAR_THE_EDGE = (3, 4.6)
MOVED_AT = utc(10, 5, 5)
LATER = datetime(2026, 11, 20, tzinfo=timezone.utc)   # "now" for these tests: every deadline has passed


@pytest.fixture
def moved(session, world):
    """X: reported in 1-1 at 10-05 01:00, accepted there at 02:00, moved to 1-2 at 05:00, accepted
    again by worker12 at 07:00, resolved at 09:00, closed at 10:00: due 10-06 01:00, on time, in 1-2.
    Y: reported in 1-1 at 10-03 01:00, due 10-04 01:00 while still in 1-1 (late there), moved at
    10-05 05:00, resolved in 1-2 at 10-06 01:00 (72 h after its report), closed at 02:00."""
    w = world
    x = report(session, w.safety1, NEAR_THE_EDGE, "0201", at=utc(10, 5, 1))
    y = report(session, w.safety1, ALSO_NEAR_THE_EDGE, "0201", at=utc(10, 3, 1))
    act(session, x, w.safety1, "accept", at=utc(10, 5, 2))
    boundaries.save(session, redraw.plan_reshape(session, "grid", w.g12.code, cell(0, 4, 5, 10)),
                    actor="admin", reason="网格调整", at=MOVED_AT)
    session.commit()
    session.expire_all()
    assert (x.grid_id, x.assignee_id, x.status) == (w.g12.id, w.worker12.id, "assigned")
    assert (y.grid_id, y.assignee_id) == (w.g12.id, w.worker12.id)
    act(session, x, w.worker12, "accept", at=utc(10, 5, 7))
    act(session, x, w.worker12, "resolve", note="已处理", at=utc(10, 5, 9))
    act(session, x, w.leader1, "close", at=utc(10, 5, 10))
    act(session, y, w.worker12, "resolve", note="已处理", at=utc(10, 6, 1))
    act(session, y, w.leader1, "close", at=utc(10, 6, 2))
    return x, y


def test_a_moved_incident_counts_in_each_grid_for_what_happened_there(session, world, moved):
    x, y = moved
    g11 = subject(session, world.admin, "grid", world.g11.code)
    g12 = subject(session, world.admin, "grid", world.g12.code)
    before, after = figures(session, g11, as_of=LATER)["indicators"], figures(session, g12, as_of=LATER)["indicators"]
    # Reported and dispatched in 1-1; resolved and closed in 1-2.
    assert [before[n]["value"] for n in ("reported", "dispatched", "resolved", "closed")] == [2, 2, 0, 0]
    assert [after[n]["value"] for n in ("reported", "dispatched", "resolved", "closed")] == [0, 0, 2, 2]
    assert set(drilled(session, g11, "reported", as_of=LATER)) == {x.id, y.id}
    assert set(drilled(session, g12, "resolved", as_of=LATER)) == {x.id, y.id}
    # X's first acceptance (1 h after dispatch) happened in 1-1; worker12's later one is not a first.
    assert drilled(session, g11, "time_to_accept_p50", as_of=LATER) == {x.id: 1.0}
    assert drilled(session, g12, "time_to_accept_p50", as_of=LATER) == {}
    assert drilled(session, g12, "time_to_resolve_p50", as_of=LATER) == {x.id: 8.0, y.id: 72.0}
    # Resolution rate: of those dispatched in 1-1 (both), resolved or closed now (both); 1-2 dispatched none.
    assert before["resolution_rate"] == {"value": 1.0, "numerator": 2, "denominator": 2}
    assert after["resolution_rate"] == {"value": None, "numerator": 0, "denominator": 0}
    # Open now where they are now: neither (both closed).
    assert before["open_now"]["value"] == after["open_now"]["value"] == 0


def test_on_time_closure_counts_where_the_incident_was_at_its_deadline(session, world, moved):
    x, y = moved
    g11 = subject(session, world.admin, "grid", world.g11.code)
    g12 = subject(session, world.admin, "grid", world.g12.code)
    # Y was due while in 1-1 and not closed: late in 1-1. X was due after its move, closed on time: 1-2.
    assert figures(session, g11, as_of=LATER)["indicators"]["on_time_closure_rate"] == \
        {"value": 0.0, "numerator": 0, "denominator": 1}
    assert set(drilled(session, g11, "on_time_closure_rate", "rest", as_of=LATER)) == {y.id}
    assert figures(session, g12, as_of=LATER)["indicators"]["on_time_closure_rate"] == \
        {"value": 1.0, "numerator": 1, "denominator": 1}
    assert set(drilled(session, g12, "on_time_closure_rate", as_of=LATER)) == {x.id}


def test_rows_by_grid_split_a_moved_incident_the_same_way(session, world, moved):
    x, y = moved
    area = subject(session, world.leader1, "area", world.a1.code)
    rows = {r["key"]: r["indicators"] for r in figures(session, area, by="grid", as_of=LATER)["rows"]}
    assert set(rows) == {world.g11.code, world.g12.code}
    assert [rows[world.g11.code][n]["value"] for n in ("reported", "resolved", "closed")] == [2, 0, 0]
    assert [rows[world.g12.code][n]["value"] for n in ("reported", "resolved", "closed")] == [0, 2, 2]
    assert rows[world.g11.code]["on_time_closure_rate"]["denominator"] == 1   # Y
    assert rows[world.g12.code]["on_time_closure_rate"]["numerator"] == 1     # X
    assert set(drilled(session, area, "reported", by="grid", key=world.g11.code, as_of=LATER)) == {x.id, y.id}
    assert drilled(session, area, "reported", by="grid", key=world.g12.code, as_of=LATER) == {}
    assert set(drilled(session, area, "resolved", by="grid", key=world.g12.code, as_of=LATER)) == {x.id, y.id}
    # The area holds both grids: its totals count each incident once.
    assert figures(session, area, as_of=LATER)["indicators"]["on_time_closure_rate"] == \
        {"value": 0.5, "numerator": 1, "denominator": 2}


@pytest.fixture
def month_end(session, world):
    """Four staff reports in grid 1-1 around the end of October, local time (UTC+8):
    P0 09-30 15:30 UTC = 09-30 23:30 local (September), due 10-01 23:30 local, left open;
    P1 09-30 16:30 UTC = 10-01 00:30 local (October), due 10-02 00:30 local, left open;
    P2 10-31 15:00 UTC = 10-31 23:00 local (October), due 11-01 23:00 local; the tests accept it
       10-31 17:00 UTC = 11-01 01:00 local (November), and may resolve and close it then;
    P3 10-31 16:00 UTC = 11-01 00:00 local (November), due 11-02 00:00 local, left open."""
    w = world
    return [report(session, w.safety1, "g11", "0201", at=at) for at in (
        utc(9, 30, 15, 30), utc(9, 30, 16, 30), utc(10, 31, 15), utc(10, 31, 16))]


def test_periods_are_local_months(session, world, month_end):
    p0, p1, p2, p3 = month_end
    act(session, p2, world.safety1, "accept", at=utc(10, 31, 17))
    act(session, p2, world.safety1, "resolve", note="已处理", at=utc(10, 31, 18))
    act(session, p2, world.leader1, "close", at=utc(10, 31, 19))
    town = subject(session, world.admin, "town", world.town.code)
    november = local_days(date(2026, 11, 1), date(2026, 11, 30))
    october = figures(session, town, OCTOBER, as_of=LATER)["indicators"]
    assert set(drilled(session, town, "reported", period=OCTOBER, as_of=LATER)) == {p1.id, p2.id}
    assert set(drilled(session, town, "reported", period=november, as_of=LATER)) == {p3.id}
    assert [october[n]["value"] for n in ("reported", "resolved", "closed")] == [2, 0, 0]
    # P2 was reported in October but accepted (2 h later), resolved and closed in November.
    assert drilled(session, town, "time_to_accept_p50", period=november, as_of=LATER) == {p2.id: 2.0}
    assert set(drilled(session, town, "closed", period=november, as_of=LATER)) == {p2.id}
    # On time by the deadline's local month: P0 (reported in September) and P1 were due in October, late;
    # P2 and P3 were due in November, P2 closed on time.
    assert october["on_time_closure_rate"] == {"value": 0.0, "numerator": 0, "denominator": 2}
    assert set(drilled(session, town, "on_time_closure_rate", "denominator", period=OCTOBER, as_of=LATER)) == \
        {p0.id, p1.id}
    assert figures(session, town, november, as_of=LATER)["indicators"]["on_time_closure_rate"] == \
        {"value": 0.5, "numerator": 1, "denominator": 2}
    assert set(drilled(session, town, "on_time_closure_rate", period=november, as_of=LATER)) == {p2.id}


def test_rows_by_month_follow_local_months(session, world, month_end):
    p0, p1, p2, p3 = month_end
    act(session, p2, world.safety1, "accept", at=utc(10, 31, 17))
    town = subject(session, world.admin, "town", world.town.code)
    autumn = local_days(date(2026, 10, 1), date(2026, 11, 30))
    rows = {r["key"]: r["indicators"] for r in figures(session, town, autumn, by="month", as_of=LATER)["rows"]}
    assert set(rows) == {"2026-10", "2026-11"}
    assert [rows["2026-10"][n]["value"] for n in ("reported", "dispatched")] == [2, 2]   # P1, P2
    assert [rows["2026-11"][n]["value"] for n in ("reported", "dispatched")] == [1, 1]   # P3
    assert rows["2026-11"]["time_to_accept_p50"]["denominator"] == 1                       # P2's acceptance
    assert rows["2026-10"]["on_time_closure_rate"]["denominator"] == 2                     # P0, P1
    assert set(drilled(session, town, "reported", period=autumn, by="month", key="2026-11", as_of=LATER)) == {p3.id}
    assert set(drilled(session, town, "on_time_closure_rate", "rest", period=autumn, by="month", key="2026-10",
                       as_of=LATER)) == {p0.id, p1.id}


def test_an_incident_is_judged_on_time_or_late_only_once_its_deadline_has_come(session, world):
    """In the middle of November, an incident due later in November is neither on time nor late yet:
    counting it late would put it among the late incidents a leader drills into."""
    due_later = report(session, world.safety1, "g11", "0201", at=utc(11, 20))          # due 11-21 01:00 UTC
    due_passed = report(session, world.safety1, "g11", "0201", at=utc(11, 10))         # due 11-11 01:00 UTC
    closed_early = report(session, world.safety1, "g11", "0201", at=utc(11, 20, 2))    # due 11-21 02:00 UTC
    act(session, closed_early, world.safety1, "resolve", note="已处理", at=utc(11, 20, 3))
    act(session, closed_early, world.leader1, "close", at=utc(11, 20, 4))
    town = subject(session, world.admin, "town", world.town.code)
    november = local_days(date(2026, 11, 1), date(2026, 11, 30))
    mid = utc(11, 20, 12)
    assert figures(session, town, november, as_of=mid)["indicators"]["on_time_closure_rate"] == \
        {"value": 0.0, "numerator": 0, "denominator": 1}
    assert set(drilled(session, town, "on_time_closure_rate", "rest", period=november, as_of=mid)) == {due_passed.id}
    after = mid + timedelta(days=2)
    assert figures(session, town, november, as_of=after)["indicators"]["on_time_closure_rate"] == \
        {"value": 0.3333, "numerator": 1, "denominator": 3}
    assert set(drilled(session, town, "on_time_closure_rate", "rest", period=november, as_of=after)) == \
        {due_later.id, due_passed.id}


def test_an_unrouted_report_is_dispatched_by_the_move_that_gives_it_a_handler(session, zones, users):
    """A town being set up: no leader, no administrator, only worker12 on grid 1-2. A staff report
    in 1-1 is routed to nobody until a redraw puts it in 1-2 at 05:00: that is its first dispatch,
    and its deadline runs from there (due 10-06 05:00). A resident's report moved while awaiting
    立案 is not dispatched by the move but by its 立案 (at 08:00, due 10-06 08:00)."""
    from gridsys.people import services as people
    people.assign_grid(session, users.worker12, zones.g12.code, "general")
    session.commit()
    waiting = report(session, users.safety1, NEAR_THE_EDGE, "0201", at=utc(10, 5, 1))
    unregistered = resident(session, ALSO_NEAR_THE_EDGE, "0201", utc(10, 5, 2))
    assert (waiting.status, waiting.assignee_id) == ("reported", None)
    boundaries.save(session, redraw.plan_reshape(session, "grid", zones.g12.code, cell(0, 4, 5, 10)),
                    actor="admin", reason="网格调整", at=MOVED_AT)
    session.commit()
    session.expire_all()
    assert (waiting.status, waiting.assignee_id, waiting.due_at) == ("assigned", users.worker12.id, utc(10, 6, 5))
    assert (unregistered.status, unregistered.assignee_id) == ("reported", users.worker12.id)
    act(session, waiting, users.worker12, "accept", at=utc(10, 5, 6))
    act(session, waiting, users.worker12, "resolve", note="已处理", at=utc(10, 6, 1))
    act(session, waiting, users.admin, "close", at=utc(10, 6, 4))          # before 10-06 05:00: on time
    act(session, unregistered, users.worker12, "register", at=utc(10, 5, 8))
    town = subject(session, users.admin, "town", zones.town.code)
    got = figures(session, town, as_of=LATER)["indicators"]
    assert drilled(session, town, "dispatched", as_of=LATER).keys() == {waiting.id, unregistered.id}
    assert got["on_time_closure_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert set(drilled(session, town, "on_time_closure_rate", as_of=LATER)) == {waiting.id}
    assert got["resolution_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert drilled(session, town, "time_to_accept_p50", as_of=LATER) == {waiting.id: 1.0}   # from 05:00 to 06:00
    g12 = subject(session, users.admin, "grid", zones.g12.code)
    assert drilled(session, g12, "dispatched", as_of=LATER).keys() == {waiting.id, unregistered.id}
