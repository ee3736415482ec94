"""Escalation at the service level: the sweep, its triggers, the leader's answers, and the CLI.

Levels: 0 the handler, 1 the leader of the area holding the incident now, 2 the town
administrators. In the test town (see conftest.py) grid 1-1 is handled by safety1 for the
safety category 0201 (deadline 24 h, second deadline 24 h); leader1 leads area 1, leader2
area 2, admin administers the town.
"""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gridsys.errors import Conflict, Forbidden, GridsysError
from gridsys.incidents import deadlines, escalation, notify
from gridsys.incidents.models import Incident, Notification
from gridsys.people import services as people
from gridsys.people.models import AreaLeader
from gridsys import boundaries
from gridsys.zones import redraw
from tests.incidents.helpers import act, events_of, report

FAR_FUTURE = datetime(2030, 1, 1, tzinfo=timezone.utc)
SECOND_DEADLINE = timedelta(hours=24, minutes=1)   # 0201's escalate_after_hours, and a minute
CLOSE = timedelta(seconds=30)  # "now" measured by the test and by the code differ by less than this


def overdue(session, world, spot="g11", category="0201", **kw):
    """An incident dispatched two days ago: its 24 h deadline passed a day ago."""
    return report(session, world.general1, spot, category, at=escalation.now() - timedelta(days=2), **kw)


def sweep(session, **kw) -> list[int]:
    done = escalation.sweep(session, **kw)
    session.commit()
    return done


def escalations_of(session, incident):
    return [e for e in events_of(session, incident) if e.action == "escalate"]


def inbox_of(session, user) -> list[Notification]:
    """The person's escalation notices (the other kinds: tests/incidents/test_notifications.py)."""
    return list(session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                           Notification.kind == "escalated")
                                .order_by(Notification.id)))


# --- the overdue sweep -------------------------------------------------------------------------

def test_overdue_incident_goes_to_the_area_leader(session, world):
    incident = overdue(session, world)
    assert (incident.escalation_level, incident.next_escalation_at) == (0, incident.due_at)
    before = escalation.now()
    assert sweep(session, as_of=escalation.now()) == [incident.id]
    assert (incident.escalation_level, incident.escalation_trigger) == (1, "overdue")
    assert before <= incident.escalated_at <= escalation.now()
    assert (incident.status, incident.assignee.username) == ("assigned", "safety1")  # still the handler's
    second_deadline = incident.escalated_at + timedelta(hours=incident.category.escalate_after_hours)
    assert incident.next_escalation_at == second_deadline
    [event] = escalations_of(session, incident)
    assert (event.actor_id, event.from_status, event.to_status) == (None, "assigned", "assigned")
    assert event.data == {"level": 1, "trigger": "overdue", "holders": ["leader1"]}
    assert (event.grid_id, event.area_id) == (incident.grid_id, incident.area_id)   # the set-based form too
    [note] = inbox_of(session, world.leader1)
    assert (note.incident_id, note.kind, note.read_at) == (incident.id, "escalated", None)
    assert note.data["level"] == 1 and note.data["trigger"] == "overdue"
    assert notify.unread_count(session, world.leader1) == 1
    assert inbox_of(session, world.leader2) == [] and inbox_of(session, world.admin) == []


def test_a_second_sweep_does_nothing(session, world):
    incident = overdue(session, world)
    as_of = escalation.now()
    assert sweep(session, as_of=as_of) == [incident.id]
    assert sweep(session, as_of=as_of) == []
    assert incident.escalation_level == 1
    assert len(escalations_of(session, incident)) == 1 and len(inbox_of(session, world.leader1)) == 1


def test_incident_is_due_exactly_at_its_deadline(session, world):
    incident = report(session, world.general1, "g11", "0201")  # due in 24 h
    assert sweep(session) == []
    assert sweep(session, as_of=incident.due_at - timedelta(seconds=1)) == []
    assert sweep(session, as_of=incident.due_at) == [incident.id]
    assert incident.escalation_trigger == "overdue"


def test_far_future_moves_one_level_per_pass_and_events_keep_the_real_time(session, world):
    incident = overdue(session, world)
    assert sweep(session, as_of=FAR_FUTURE) == [incident.id]
    assert (incident.escalation_level, incident.escalation_trigger) == (1, "overdue")  # not straight to 2
    assert abs(escalations_of(session, incident)[0].at - escalation.now()) < CLOSE
    assert sweep(session, as_of=FAR_FUTURE) == [], "the same drill time again: nothing more"
    assert sweep(session, as_of=FAR_FUTURE + SECOND_DEADLINE) == [incident.id]
    assert (incident.escalation_level, incident.escalation_trigger, incident.next_escalation_at) == (2, "stale", None)
    first, second = escalations_of(session, incident)
    assert second.data == {"level": 2, "trigger": "stale", "holders": ["admin"]}
    assert abs(second.at - escalation.now()) < CLOSE
    assert [n.data["level"] for n in inbox_of(session, world.admin)] == [2]
    assert sweep(session, as_of=FAR_FUTURE + 10 * SECOND_DEADLINE) == []  # level 2 is the top
    assert len(escalations_of(session, incident)) == 2


def test_level_one_goes_up_only_after_the_second_deadline(session, world):
    incident = overdue(session, world)
    sweep(session)
    second_deadline = incident.escalated_at + timedelta(hours=24)
    assert sweep(session, as_of=second_deadline - timedelta(seconds=1)) == []
    assert sweep(session, as_of=second_deadline) == [incident.id]
    assert (incident.escalation_level, incident.escalation_trigger) == (2, "stale")


@pytest.mark.parametrize("batch", [1, 2])
def test_sweep_pages_through_batches_escalating_each_once(session, world, batch):
    incidents = [overdue(session, world, spot) for spot in ("g11", "g12", "g21")]
    assert sweep(session, batch=batch) == sorted(i.id for i in incidents)
    assert [(i.escalation_level, len(escalations_of(session, i))) for i in incidents] == [(1, 1)] * 3


def _resolved(session, world, incident):
    act(session, incident, world.safety1, "accept")
    act(session, incident, world.safety1, "resolve", note="已处理")


FINISH = {
    "resolved": _resolved,
    "closed": lambda s, w, i: (_resolved(s, w, i), act(s, i, w.leader1, "close")),
    "cancelled": lambda s, w, i: act(s, i, w.leader1, "cancel", note="重复上报"),
}


@pytest.mark.parametrize("status", sorted(FINISH))
def test_finished_incidents_never_escalate(session, world, status):
    incident = overdue(session, world)
    FINISH[status](session, world, incident)
    assert (incident.status, incident.next_escalation_at) == (status, None)
    # Even if the schedule said otherwise, the sweep looks at open incidents only.
    incident.next_escalation_at = incident.due_at
    session.commit()
    assert sweep(session, as_of=FAR_FUTURE) == []
    assert (incident.escalation_level, escalations_of(session, incident)) == (0, [])
    assert inbox_of(session, world.leader1) == []


def test_unrouted_incident_has_no_deadline_and_never_escalates(session, zones, users):
    incident = report(session, users.general1, "g11", "0201", at=escalation.now() - timedelta(days=5))
    assert (incident.status, incident.due_at, incident.next_escalation_at) == ("reported", None, None)
    assert sweep(session, as_of=FAR_FUTURE) == []


# --- urgent at creation, manual ------------------------------------------------------------------

def test_urgent_incident_alerts_the_leader_at_once_and_stays_with_the_handler(session, world):
    incident = report(session, world.general1, "g11", "0202")  # fire hazard: always urgent
    assert (incident.priority, incident.assignee.username, incident.status) == ("urgent", "safety1", "assigned")
    assert (incident.escalation_level, incident.escalation_trigger) == (1, "urgent")
    assert incident.escalated_at == incident.created_at
    assert incident.next_escalation_at == incident.created_at + timedelta(hours=incident.category.escalate_after_hours)
    assert [e.action for e in events_of(session, incident)] == ["report", "dispatch", "escalate"]
    assert escalations_of(session, incident)[0].data == {"level": 1, "trigger": "urgent", "holders": ["leader1"]}
    assert [(n.incident_id, n.data["trigger"]) for n in notify.inbox(session, world.leader1)] == [
        (incident.id, "urgent")]


def test_urgent_priority_on_a_normal_category_also_alerts_the_leader(session, world):
    urgent = report(session, world.general1, "g11", "0201", priority="urgent")
    normal = report(session, world.general1, "g11", "0201")
    assert (urgent.escalation_level, urgent.escalation_trigger) == (1, "urgent")
    assert (normal.escalation_level, normal.escalation_trigger, normal.escalated_at) == (0, None, None)
    assert [n.incident_id for n in inbox_of(session, world.leader1)] == [urgent.id]


def test_urgent_incident_routed_to_the_leader_is_not_escalated_to_him(session, world):
    incident = report(session, world.general1, "g22", "0202")  # grid 2-2 has no worker: leader2 handles it
    assert (incident.assignee.username, incident.assigned_as) == ("leader2", "area_leader")
    assert incident.escalation_level == 0 and inbox_of(session, world.leader2) == []


def test_handler_escalates_manually_with_a_reason(session, world):
    incident = report(session, world.general1, "g11", "0201")
    due = incident.due_at
    event = act(session, incident, world.safety1, "escalate", note="需要城管配合")
    assert (incident.escalation_level, incident.escalation_trigger) == (1, "manual")
    assert (incident.status, incident.assignee.username, incident.due_at) == ("assigned", "safety1", due)
    assert (event.action, event.actor_id, event.note) == ("escalate", world.safety1.id, "需要城管配合")
    assert event.data == {"level": 1, "trigger": "manual", "holders": ["leader1"]}
    assert len(escalations_of(session, incident)) == 1  # the transition's event only, not a second one
    assert [n.data["trigger"] for n in inbox_of(session, world.leader1)] == ["manual"]


def test_manual_escalation_needs_a_reason_and_the_handler(session, world):
    incident = report(session, world.general1, "g11", "0201")
    with pytest.raises(GridsysError) as err:
        act(session, incident, world.safety1, "escalate", note=" ")
    assert err.value.code == "note_required"
    with pytest.raises(Forbidden) as err:
        act(session, incident, world.worker21, "escalate", note="不是我的")
    assert err.value.code == "actor_not_allowed"
    assert incident.escalation_level == 0 and inbox_of(session, world.leader1) == []


def test_level_two_is_the_top(session, world):
    incident = report(session, world.general1, "g11", "0201")
    act(session, incident, world.safety1, "escalate", note="需要协调")
    event = act(session, incident, world.safety1, "escalate", note="领导也未处理")
    assert event.data == {"level": 2, "trigger": "manual", "holders": ["admin"]}
    assert (incident.escalation_level, incident.next_escalation_at) == (2, None)
    version, events = incident.version, len(events_of(session, incident))
    with pytest.raises(Conflict) as err:
        act(session, incident, world.safety1, "escalate", note="再升级")
    assert (err.value.code, err.value.status) == ("already_at_top", 409)
    assert (incident.escalation_level, incident.version, len(events_of(session, incident))) == (2, version, events)


# --- the leader's answers ------------------------------------------------------------------------

LEADER_ACTIONS = {
    "take": {},
    "reassign": {"assignee": "general1"},
    "send_down": {"note": "请联系物业后再处理"},
}


@pytest.mark.parametrize("action", sorted(LEADER_ACTIONS))
def test_leader_action_brings_an_overdue_escalation_down_with_a_fresh_deadline(session, world, action):
    incident = overdue(session, world)
    sweep(session)
    old_due = incident.due_at
    event = act(session, incident, world.leader1, action, **LEADER_ACTIONS[action])
    assert (incident.escalation_level, incident.escalation_trigger) == (0, None)
    assert incident.due_at == event.at + timedelta(hours=24) > escalation.now()
    assert incident.next_escalation_at == incident.due_at
    assert event.data["from_level"] == 1
    assert (event.data["due_from"], event.data["due_to"]) == (old_due.isoformat(), incident.due_at.isoformat())
    assert sweep(session) == []  # no longer due


def test_take_makes_the_leader_the_handler(session, world):
    incident = overdue(session, world)
    sweep(session)
    act(session, incident, world.leader1, "take")
    assert (incident.assignee.username, incident.assigned_as, incident.status) == ("leader1", "taken", "in_progress")


def test_send_down_returns_it_to_the_handler_with_instructions(session, world):
    incident = overdue(session, world)
    act(session, incident, world.safety1, "accept")
    sweep(session)
    event = act(session, incident, world.leader1, "send_down", note="先联系物业")
    assert (incident.status, incident.assignee.username, event.note) == ("assigned", "safety1", "先联系物业")


def test_extension_brings_it_down_on_the_extended_deadline(session, world):
    incident = report(session, world.general1, "g11", "0201")
    act(session, incident, world.safety1, "escalate", note="需要协调")
    old_due = incident.due_at
    event = act(session, incident, world.leader1, "extend", hours=48, note="等配件")
    assert (incident.escalation_level, incident.escalation_trigger) == (0, None)
    assert (incident.due_at, incident.next_escalation_at) == (old_due + timedelta(hours=48),) * 2
    assert (event.data["from_level"], event.data["hours"]) == (1, 48)
    assert sweep(session, as_of=old_due + timedelta(hours=47)) == []


def test_extending_a_long_overdue_escalation_keeps_it_down(session, world):
    incident = report(session, world.general1, "g11", "0201", at=escalation.now() - timedelta(days=5))
    sweep(session)
    act(session, incident, world.leader1, "extend", hours=24, note="等配件")
    assert incident.escalation_level == 0
    assert incident.due_at > escalation.now()
    assert sweep(session) == []


def test_leader_action_keeps_a_deadline_that_has_not_passed(session, world):
    incident = report(session, world.general1, "g11", "0201")
    act(session, incident, world.safety1, "escalate", note="需要协调")
    due = incident.due_at
    event = act(session, incident, world.leader1, "send_down", note="你先处理")
    assert (incident.escalation_level, incident.due_at, incident.next_escalation_at) == (0, due, due)
    assert "due_to" not in event.data


def test_stale_escalation_brought_down_from_level_two(session, world):
    incident = overdue(session, world)
    sweep(session, as_of=FAR_FUTURE)
    sweep(session, as_of=FAR_FUTURE + SECOND_DEADLINE)
    assert incident.escalation_level == 2
    event = act(session, incident, world.admin, "send_down", note="请片区督办")
    assert (incident.escalation_level, event.data["from_level"]) == (0, 2)
    assert incident.next_escalation_at == incident.due_at > escalation.now()


def test_send_down_refuses_an_incident_that_is_not_escalated(session, world):
    incident = report(session, world.general1, "g11", "0201")
    version = incident.version
    with pytest.raises(Conflict) as err:
        act(session, incident, world.leader1, "send_down", note="下派")
    assert (err.value.code, err.value.status) == ("not_escalated", 409)
    assert (incident.status, incident.version, events_of(session, incident)[-1].action) == ("assigned", version,
                                                                                           "dispatch")


def test_worker_may_not_send_down(session, world):
    incident = report(session, world.general1, "g11", "0201")
    act(session, incident, world.safety1, "escalate", note="需要协调")
    with pytest.raises(Forbidden):
        act(session, incident, world.safety1, "send_down", note="我自己下派")
    assert incident.escalation_level == 1


# --- who holds level 1 -----------------------------------------------------------------------------

def test_without_an_area_leader_level_one_goes_to_the_town_admins(session, world):
    leadership = session.scalar(select(AreaLeader).where(AreaLeader.user_id == world.leader1.id))
    people.end_assignment(session, "area", leadership.id)
    session.commit()
    incident = overdue(session, world)
    sweep(session)
    assert escalations_of(session, incident)[0].data["holders"] == ["admin"]
    assert deadlines.holders(session, incident) == [world.admin]
    assert [n.incident_id for n in inbox_of(session, world.admin)] == [incident.id]
    assert inbox_of(session, world.leader1) == []


def test_nobody_to_notify_still_escalates(session, zones, users):
    people.assign_grid(session, users.safety1, zones.g11.code, "safety")
    session.commit()
    incident = report(session, users.general1, "g11", "0201", at=escalation.now() - timedelta(days=2))
    assert sweep(session) == [incident.id]
    assert incident.escalation_level == 1 and escalations_of(session, incident)[0].data["holders"] == []
    assert session.scalars(select(Notification).where(Notification.kind == "escalated")).all() == []


def test_responsibility_follows_a_grid_moved_to_another_area(session, world):
    incident = overdue(session, world, "g12")  # worker12's grid, in area 1
    assert (incident.area_id, incident.assignee.username) == (world.a1.id, "worker12")
    boundaries.save(session, redraw.plan_move(session, world.g12.code, world.a2.code), actor="admin", reason="片区调整")
    session.commit()
    incident = session.get(Incident, incident.id)
    assert (incident.area_id, incident.assignee.username) == (world.a2.id, "worker12")
    assert sweep(session) == [incident.id]
    assert escalations_of(session, incident)[0].data["holders"] == ["leader2"]
    assert [n.incident_id for n in inbox_of(session, world.leader2)] == [incident.id]
    assert inbox_of(session, world.leader1) == []


def test_the_new_area_leader_may_answer_after_a_move(session, world):
    incident = overdue(session, world, "g12")
    sweep(session)
    boundaries.save(session, redraw.plan_move(session, world.g12.code, world.a2.code), actor="admin", reason="片区调整")
    session.commit()
    incident = session.get(Incident, incident.id)
    with pytest.raises(Forbidden):
        act(session, incident, world.leader1, "send_down", note="旧领导")
    act(session, incident, world.leader2, "send_down", note="新领导")
    assert incident.escalation_level == 0


# --- the CLI ------------------------------------------------------------------------------------

def escalate(app, cli, *args):
    """``flask --app gridsys escalate …``: FlaskGroup pushes an app context for it (app.cli does not)."""
    with app.app_context():
        return cli.invoke(args=["escalate", *args])


def test_escalate_command_says_how_many_it_escalated(app, cli, session, world):
    incident = report(session, world.general1, "g11", "0201")  # due tomorrow: overdue by 2030
    result = escalate(app, cli, "--now", "2030-01-01T00:00:00+00:00")
    assert result.exit_code == 0, result.output
    assert "escalated 1;" in result.output and "webhooks 0 delivered" in result.output
    assert (incident.escalation_level, incident.escalation_trigger) == (1, "overdue")
    assert "escalated 0;" in escalate(app, cli, "--now", "2030-01-01T00:00:00+00:00").output, "a drill repeated"
    assert incident.escalation_level == 1
    assert "escalated 1;" in escalate(app, cli, "--now", "2030-01-03T00:00:00+00:00").output
    assert incident.escalation_level == 2


def test_escalate_command_without_now_uses_the_real_time(app, cli, session, world):
    incident = report(session, world.general1, "g11", "0201")
    result = escalate(app, cli)
    assert result.exit_code == 0 and "escalated 0;" in result.output
    assert incident.escalation_level == 0


def test_escalate_command_reads_a_time_without_offset_as_utc(app, cli, session, world):
    incident = report(session, world.general1, "g11", "0201")
    due = incident.due_at.astimezone(timezone.utc)
    just_before, just_after = due - timedelta(minutes=1), due + timedelta(minutes=1)
    china = timezone(timedelta(hours=8))
    assert "escalated 0;" in escalate(app, cli, "--now", just_before.replace(tzinfo=None).isoformat()).output
    assert "escalated 0;" in escalate(app, cli, "--now", just_before.astimezone(china).isoformat()).output
    assert "escalated 1;" in escalate(app, cli, "--now", just_after.replace(tzinfo=None).isoformat()).output
    assert incident.escalation_level == 1


@pytest.mark.parametrize("value", ["tomorrow", "2030-13-01", "1"])
def test_escalate_command_refuses_a_bad_time(app, cli, session, world, value):
    incident = overdue(session, world)
    result = escalate(app, cli, "--now", value)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output and "ISO time" in result.output
    assert incident.escalation_level == 0


@pytest.mark.parametrize("value", ["0", "9", "two", "-1"])
def test_escalate_command_refuses_a_bad_number_of_workers(app, cli, session, world, value):
    incident = overdue(session, world)
    result = escalate(app, cli, "--workers", value)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output and "--workers" in result.output
    assert incident.escalation_level == 0


def test_escalate_command_loops_with_the_interval(app, cli, session, world, monkeypatch):
    class Stop(Exception):
        pass
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise Stop
    monkeypatch.setattr("gridsys.incidents.cli.time.sleep", sleep)
    incident = report(session, world.general1, "g11", "0201")
    result = escalate(app, cli, "--loop", "7", "--now", "2030-01-01T00:00:00+00:00")
    assert isinstance(result.exception, Stop) and sleeps == [7, 7]
    assert [line.split(" ", 1)[1].split(";")[0] for line in result.output.splitlines()] == [
        "escalated 1", "escalated 0"]   # a looping drill at one time escalates once
    assert incident.escalation_level == 1


def test_a_drill_run_twice_with_the_same_time_escalates_nothing_more(session, world):
    """`escalate --now T` twice: the README promises the second run escalates nothing (issue 13
    found every level-1 incident raised to level 2, the next deadline counted from the real time)."""
    incident = overdue(session, world)
    drill = escalation.now() + timedelta(days=3)
    assert sweep(session, as_of=drill) == [incident.id]
    session.commit()
    assert sweep(session, as_of=drill) == []
    assert incident.escalation_level == 1
    later = drill + timedelta(hours=incident.category.escalate_after_hours, minutes=1)
    assert sweep(session, as_of=later) == [incident.id], "past the second deadline, counted from the drill"
    assert incident.escalation_level == 2
