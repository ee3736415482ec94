"""Work queues per role, after a scripted day: assign, accept, resolve, send back, escalate.

A report of category 0201 (safety) on grid 1-1 goes to safety1; leader1 leads area 1 (grids 1-1
and 1-2), leader2 area 2; admin administers the town (see conftest.py).
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from gridsys import settings
from gridsys.incidents import escalation, queues
from gridsys.incidents.models import Incident
from gridsys.incidents.models import Notification
from gridsys.people.models import AreaLeader, TownAdmin
from sqlalchemy import select
from gridsys.people.access import scope_for
from tests.incidents.helpers import act, bearer, error_code, login, report

NONE_HANDLED = {"to_accept": 0, "in_progress": 0, "returned": 0}


def counts(session, user, at=None):
    return queues.counts(session, user, scope_for(session, user), at)


def listed(client, headers, queue):
    response = client.get(f"/api/v1/incidents?queue={queue}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [item["code"] for item in response.get_json()["items"]]


@pytest.fixture
def day(session, world):
    """The day: four safety reports on grid 1-1 (safety1's), one on grid 2-1 routed to worker21, one in
    the gap of area 2 (routed to its leader), then the work on them."""
    accepted = report(session, world.general1, "g11", "0201", description="路灯不亮")
    resolved = report(session, world.general1, "g11", "0201", description="井盖松动")
    returned = report(session, world.general1, "g11", "0201", description="护栏破损")
    waiting = report(session, world.general1, "g11", "0201", description="楼道堆物")
    other_area = report(session, world.worker21, "g21", "0101", description="垃圾未清运")
    gap = report(session, world.worker21, "gap", "0201", description="空地积水")
    act(session, accepted, world.safety1, "accept")
    for incident in (resolved, returned):
        act(session, incident, world.safety1, "accept")
        act(session, incident, world.safety1, "resolve", note="已处理")
    act(session, returned, world.leader1, "reopen", note="仍有缺口")
    act(session, waiting, world.safety1, "escalate", note="需要城建部门")
    return dict(accepted=accepted, resolved=resolved, returned=returned, waiting=waiting,
                other_area=other_area, gap=gap)


def test_each_role_counts_what_waits_for_it(session, world, day):
    assert counts(session, world.safety1) == {"to_accept": 1, "in_progress": 1, "returned": 1, "to_register": 0}
    assert counts(session, world.general1) == {**NONE_HANDLED, "to_register": 0}, "reporting is not handling"
    assert counts(session, world.worker21) == {"to_accept": 1, "in_progress": 0, "returned": 0, "to_register": 0}
    assert counts(session, world.leader1) == {**NONE_HANDLED, "to_register": 0, "to_verify": 1, "escalated": 1,
                                               "due_soon": 0, "unsatisfied": 0}
    # The report in area 2's gap went to its leader to handle; area 1's work is not theirs.
    assert counts(session, world.leader2) == {"to_accept": 1, "in_progress": 0, "returned": 0, "to_register": 0,
                                               "to_verify": 0, "escalated": 0, "due_soon": 0, "unsatisfied": 0}
    assert counts(session, world.admin) == {**NONE_HANDLED, "to_register": 0, "to_verify": 0, "escalated": 0, "unsatisfied": 0, "unassigned": 0}


def test_lists_hold_what_the_counts_count_most_urgent_first(client, session, world, day):
    safety1, leader1 = bearer(session, world.safety1), bearer(session, world.leader1)
    assert listed(client, safety1, "to_accept") == [day["waiting"].code]
    assert listed(client, safety1, "in_progress") == [day["accepted"].code]
    assert listed(client, safety1, "returned") == [day["returned"].code]
    assert listed(client, leader1, "to_verify") == [day["resolved"].code]
    assert listed(client, leader1, "escalated") == [day["waiting"].code]
    assert listed(client, leader1, "to_accept") == []
    # Escalated and overdue before the rest, whatever the order of reporting.
    more = report(session, world.general1, "g11", "0201", description="后报的")
    late = report(session, world.general1, "g11", "0201", description="超期的",
                  at=escalation.now() - timedelta(days=3))
    assert listed(client, safety1, "to_accept") == [day["waiting"].code, late.code, more.code]


def test_to_verify_empties_when_the_leader_closes_and_returned_when_the_handler_resolves(session, world, day):
    act(session, day["resolved"], world.leader1, "close")
    act(session, day["returned"], world.safety1, "resolve", note="已补修")
    assert counts(session, world.leader1)["to_verify"] == 1
    assert counts(session, world.safety1)["returned"] == 0
    act(session, day["returned"], world.leader1, "close")
    assert counts(session, world.leader1)["to_verify"] == 0


def test_due_soon_is_open_on_time_work_due_within_the_window(session, world, day):
    at = escalation.now()
    accepted = day["accepted"]
    assert counts(session, world.leader1, at)["due_soon"] == 0
    soon = accepted.due_at - timedelta(hours=settings.DEFAULTS.due_soon_hours - 1)
    # An hour inside the window: accepted, the escalated one still to accept, and the one sent back
    # (its fresh deadline from the same moment); the resolved one is not worked on (all 0201: 24 h).
    assert counts(session, world.leader1, soon)["due_soon"] == 3
    assert counts(session, world.leader1, accepted.due_at + timedelta(minutes=1))["due_soon"] == 0, \
        "overdue is no longer due soon"
    assert counts(session, world.leader2, soon)["due_soon"] == 2, "area 2's own two, none of area 1's"


def test_unassigned_is_the_administrators(session, world):
    """Grid 2-2 has nobody; with area 2's leader and the town's administrator gone, a report there is
    routed to nobody, and waits in the administrators' "unassigned"."""
    for model, user in ((AreaLeader, world.leader2), (TownAdmin, world.admin)):
        assignment = session.scalar(select(model).where(model.user_id == user.id, model.valid_to.is_(None)))
        assignment.valid_to = escalation.now()
    session.commit()
    nobody = report(session, world.worker21, "g22", "0401", description="无人负责的网格")
    assert (nobody.assignee_id, nobody.status) == (None, "reported")
    assert counts(session, world.admin)["unassigned"] == 1
    assert "unassigned" not in counts(session, world.leader1)


def test_me_answers_unread_and_queues(client, session, world, day):
    response = client.get("/api/v1/me", headers=bearer(session, world.leader1))
    body = response.get_json()
    assert body["queues"] == {**NONE_HANDLED, "to_register": 0, "to_verify": 1, "escalated": 1, "due_soon": 0, "unsatisfied": 0}
    assert body["unread"] == 3   # two resolved to verify, one escalated
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("queue", ["nope", "TO_VERIFY", "to_verify;", "x" * 300])
def test_unknown_queue_is_refused(client, session, world, queue):
    response = client.get("/api/v1/incidents", query_string={"queue": queue}, headers=bearer(session, world.leader1))
    assert (response.status_code, error_code(response)) == (400, "queue_unknown")


def test_queue_someone_does_not_have_is_empty_not_an_error(client, session, world, day):
    assert listed(client, bearer(session, world.safety1), "to_verify") == []


def test_queue_pages_and_landing_counts(client, session, world, day):
    login(client, "leader1")
    home = client.get("/").get_data(as_text=True)
    assert "待核查" in home and 'href="/incidents?queue=to_verify"' in home
    page = client.get("/incidents?queue=to_verify").get_data(as_text=True)
    assert day["resolved"].code in page and day["waiting"].code not in page
    # A leader's /incidents starts from every open incident in scope, not from "mine".
    everything = client.get("/incidents").get_data(as_text=True)
    assert day["waiting"].code in everything and day["accepted"].code in everything


def test_nav_shows_the_queue_counts(client, session, world, day):
    login(client, "safety1")
    html = client.get("/map").get_data(as_text=True)
    assert 'data-queue="to_accept"' in html and 'data-queue="returned"' in html
    assert 'data-queue="to_verify"' not in html, "a worker has no verification queue"


def test_queue_counts_stay_within_scope(session, world, day):
    """leader2 sees nothing of area 1's work in any queue, whatever happens there."""
    act(session, day["accepted"], world.safety1, "resolve", note="好了")
    assert counts(session, world.leader2)["to_verify"] == 0
    incident = session.get(Incident, day["accepted"].id)
    assert incident.status == "resolved"


def test_where_no_one_leads_the_administrators_queues_hold_what_they_are_told_of(client, session, world):
    """Area 2 without its leader: escalation gives its level-1 work to the town's administrators
    (and tells them), so their 待核查 and 督办 hold it; area 1's stays with leader1."""
    session.scalar(select(AreaLeader).where(AreaLeader.user_id == world.leader2.id)).valid_to = escalation.now()
    session.commit()
    done = report(session, world.worker21, "g21", "0101", description="清运完毕")
    act(session, done, world.worker21, "resolve", note="清运了")
    stuck = report(session, world.worker21, "g21", "0101", description="处理不了")
    act(session, stuck, world.worker21, "escalate", note="需要环卫所")
    area1 = report(session, world.general1, "g11", "0201", description="区一的")
    act(session, area1, world.safety1, "escalate", note="需要城建")
    mine = counts(session, world.admin)
    assert (mine["to_verify"], mine["escalated"]) == (1, 1)
    told = {(n.incident_id, n.kind) for n in session.scalars(select(Notification).where(
        Notification.user_id == world.admin.id))}
    assert told == {(done.id, "to_verify"), (stuck.id, "escalated")}
    headers = bearer(session, world.admin)
    assert listed(client, headers, "to_verify") == [done.code]
    assert listed(client, headers, "escalated") == [stuck.code]
    assert counts(session, world.leader1)["escalated"] == 1, "area 1's stays with its leader"


def test_the_counts_statement_built_once_counts_what_each_queue_lists(session, world, day):
    """The counts' statement is built once per shape of asker, with who asks, their zones and the
    time as parameters (queues.counts_template); a queue's list builds its condition with the values.
    For every shape (a handler; leaders of one area, of both, of none; an administrator of
    everything; a leader who also administers a town; one who administers only a town) and with
    an area left without a leader, the two agree."""
    from gridsys.people.access import Scope
    session.scalar(select(AreaLeader).where(AreaLeader.user_id == world.leader2.id)).valid_to = escalation.now()
    session.flush()
    rules, at = settings.of(session), escalation.now()
    session.get(Incident, day["accepted"].id).due_at = at + timedelta(hours=1)   # due soon
    session.flush()
    town, a1, a2 = world.town.id, world.a1.id, world.a2.id
    askers = [(world.safety1, scope_for(session, world.safety1)), (world.leader1, scope_for(session, world.leader1)),
              (world.leader2, scope_for(session, world.leader2)), (world.admin, scope_for(session, world.admin)),
              (world.leader1, Scope(world.leader1.id, False, frozenset(), frozenset({a1, a2}), frozenset())),
              (world.admin, Scope(world.admin.id, False, frozenset({town}), frozenset({a1}), frozenset())),
              (world.admin, Scope(world.admin.id, False, frozenset({town}), frozenset(), frozenset()))]
    seen_nonzero = 0
    for user, scope in askers:
        counted = queues.counts(session, user, scope, at)
        assert set(counted) == set(queues.of(user))
        for name, n in counted.items():
            listed_ids = session.scalars(select(Incident.id).where(queues.condition(name, user, scope, rules, at))).all()
            assert n == min(len(listed_ids), queues.COUNT_CAP), (user.username, scope, name)
            seen_nonzero += bool(n)
    assert seen_nonzero >= 6   # (the day's work is in the queues compared, not only zeros)
    assert queues.counts(session, world.leader1, scope_for(session, world.leader1), at)["due_soon"] == 1
