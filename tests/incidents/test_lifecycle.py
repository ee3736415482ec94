"""The one transition function and its API: who may do what from which state, and the event log."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dataclasses import replace

from gridsys import create_app, settings
from gridsys.errors import Conflict, Forbidden, GridsysError
from gridsys.people import services as people
from tests.incidents.helpers import act, bearer, error_code, events_of, report


@pytest.fixture
def incident(session, world):
    """Reported by general1 on grid 1-1 as a safety matter: handled by safety1, managed by leader1."""
    return report(session, world.general1, "g11", "0201")


def resolved(session, world, incident):
    act(session, incident, world.safety1, "accept")
    act(session, incident, world.safety1, "resolve", note="已修好")
    return incident


def post(client, session, user, incident, **body):
    return client.post(f"/api/v1/incidents/{incident.id}/transitions", json=body, headers=bearer(session, user))


def test_happy_path_accept_resolve_close(session, world, incident):
    act(session, incident, world.safety1, "accept")
    assert incident.status == "in_progress"
    act(session, incident, world.safety1, "resolve", note="井盖已补")
    assert incident.status == "resolved" and incident.resolved_at is not None
    act(session, incident, world.leader1, "close")
    assert incident.status == "closed" and incident.closed_at is not None and not incident.is_open
    assert [(e.action, e.from_status, e.to_status) for e in events_of(session, incident)][-3:] == [
        ("accept", "assigned", "in_progress"), ("resolve", "in_progress", "resolved"), ("close", "resolved", "closed")]


def test_happy_path_over_the_api(client, session, world, incident):
    for user, body, status in [(world.safety1, {"action": "accept"}, "in_progress"),
                               (world.safety1, {"action": "resolve", "note": "井盖已补"}, "resolved"),
                               (world.leader1, {"action": "close"}, "closed")]:
        response = post(client, session, user, incident, **body)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == status
    assert [e["action"] for e in response.get_json()["events"]][-3:] == ["accept", "resolve", "close"]


def test_reopen_sends_it_back_to_the_handler_and_counts(session, world, incident):
    resolved(session, world, incident)
    act(session, incident, world.leader1, "reopen", note="井盖不稳，返工")
    assert (incident.status, incident.reopen_count, incident.assignee.username) == ("reopened", 1, "safety1")
    assert incident.resolved_at is None
    act(session, incident, world.safety1, "accept")
    assert incident.status == "in_progress"


def test_leader_cancels_with_a_reason(session, world, incident):
    event = act(session, incident, world.leader1, "cancel", note="重复上报")
    assert incident.status == "cancelled" and event.note == "重复上报"


def test_cancel_needs_a_reason(session, world, incident):
    with pytest.raises(GridsysError) as err:
        act(session, incident, world.leader1, "cancel", note="  ")
    assert err.value.code == "note_required" and incident.status == "assigned"


def test_reporter_may_cancel_while_assigned(session, world, incident):
    act(session, incident, world.general1, "cancel", note="我看错了")
    assert incident.status == "cancelled"


def test_reporter_may_not_cancel_once_accepted(client, session, world, incident):
    act(session, incident, world.safety1, "accept")
    response = post(client, session, world.general1, incident, action="cancel", note="不用了")
    assert (response.status_code, error_code(response)) == (403, "actor_not_allowed")
    assert incident.status == "in_progress"


def test_worker_cannot_close(client, session, world, incident):
    resolved(session, world, incident)
    response = post(client, session, world.safety1, incident, action="close")
    assert (response.status_code, error_code(response)) == (403, "actor_not_allowed")
    assert incident.status == "resolved"


def test_close_from_assigned_is_not_a_transition(client, session, world, incident):
    response = post(client, session, world.leader1, incident, action="close")
    assert (response.status_code, error_code(response)) == (409, "transition_not_allowed")
    assert incident.status == "assigned"


def test_resolve_without_note_is_refused(client, session, world, incident):
    act(session, incident, world.safety1, "accept")
    response = post(client, session, world.safety1, incident, action="resolve", note="")
    assert (response.status_code, error_code(response)) == (422, "note_required")
    assert incident.status == "in_progress"


@pytest.mark.parametrize("action", ["fly", "", None])
def test_unknown_action_is_400(client, session, world, incident, action):
    response = post(client, session, world.leader1, incident, action=action)
    assert (response.status_code, error_code(response)) == (400, "action_unknown")


def test_reassign_to_a_worker_of_the_same_grid(session, world, incident):
    event = act(session, incident, world.leader1, "reassign", assignee="general1")
    assert (incident.assignee.username, incident.status) == ("general1", "assigned")
    assert (event.data["from"], event.data["to"]) == ("safety1", "general1")


def test_reassign_to_a_worker_of_another_area_is_refused(client, session, world, incident):
    response = post(client, session, world.leader1, incident, action="reassign", assignee="worker21")
    assert (response.status_code, error_code(response)) == (422, "assignee_out_of_scope")
    assert incident.assignee.username == "safety1"


def test_reassign_by_a_worker_is_forbidden(client, session, world, incident):
    response = post(client, session, world.safety1, incident, action="reassign", assignee="general1")
    assert (response.status_code, error_code(response)) == (403, "actor_not_allowed")


def test_reassigning_an_unrouted_incident_starts_its_deadline(session, zones, users):
    incident = report(session, users.general1, "g11", "0201")  # nobody serves the town yet
    assert incident.status == "reported" and incident.due_at is None
    people.assign_grid(session, users.safety1, zones.g11.code, "safety")
    event = act(session, incident, users.admin, "reassign", assignee="safety1")
    assert incident.status == "assigned" and incident.due_at == event.at + timedelta(hours=24)


def test_leader_extends_the_deadline(session, world, incident):
    before = incident.due_at
    event = act(session, incident, world.leader1, "extend", hours=24, note="等待配件")
    assert incident.due_at == before + timedelta(hours=24)
    assert datetime.fromisoformat(event.data["from"]) == before
    assert datetime.fromisoformat(event.data["to"]) == incident.due_at and event.data["hours"] == 24


def test_worker_may_not_extend(client, session, world, incident):
    before = incident.due_at
    response = post(client, session, world.safety1, incident, action="extend", hours=24, note="想延期")
    assert (response.status_code, error_code(response)) == (403, "actor_not_allowed")
    assert incident.due_at == before


@pytest.mark.parametrize("hours", [0, -3, "soon", None, 24 * 60 + 1])
def test_extension_needs_sensible_hours(client, session, world, incident, hours):
    response = post(client, session, world.leader1, incident, action="extend", hours=hours, note="延期")
    assert (response.status_code, error_code(response)) == (422, "hours_invalid")


def test_handler_escalates_with_a_reason(session, world, incident):
    assert incident.escalation_level == 0
    event = act(session, incident, world.safety1, "escalate", note="需要城管配合")
    assert incident.escalation_level == 1 and incident.status == "assigned"
    assert (event.action, event.note, event.data["level"]) == ("escalate", "需要城管配合", 1)
    assert event.data["holders"] == ["leader1"]


def test_stale_version_is_refused_and_changes_nothing(client, session, world, incident):
    read_version = incident.version
    act(session, incident, world.safety1, "accept")
    before = (incident.status, incident.version, len(events_of(session, incident)))
    response = post(client, session, world.safety1, incident, action="resolve", note="好了", version=read_version)
    assert (response.status_code, error_code(response)) == (409, "stale_update")
    session.expire_all()
    assert (incident.status, incident.version, len(events_of(session, incident))) == before


def test_current_version_is_accepted(client, session, world, incident):
    response = post(client, session, world.safety1, incident, action="accept", version=incident.version)
    assert response.status_code == 200 and response.get_json()["version"] == incident.version


STEPS = [  # (actor, action, kwargs, expected status after)
    ("safety1", "comment", {"note": "已到现场"}, "assigned"),
    ("safety1", "accept", {}, "in_progress"),
    ("leader1", "extend", {"hours": 4, "note": "等配件"}, "in_progress"),
    ("safety1", "escalate", {"note": "需要协调"}, "in_progress"),
    ("leader1", "reassign", {"assignee": "general1"}, "assigned"),
    ("general1", "resolve", {"note": "已处理"}, "resolved"),
    ("leader1", "reopen", {"note": "返工"}, "reopened"),
    ("general1", "accept", {}, "in_progress"),
    ("general1", "resolve", {"note": "再次处理"}, "resolved"),
    ("leader1", "close", {"note": "核查通过"}, "closed"),
]


def test_every_transition_appends_exactly_one_event(session, world, incident):
    for username, action, kwargs, status in STEPS:
        before = events_of(session, incident)
        version, from_status = incident.version, incident.status
        act(session, incident, getattr(world, username), action, **kwargs)
        after = events_of(session, incident)
        assert len(after) == len(before) + 1, action
        new = after[-1]
        assert (new.action, new.actor_id, new.from_status, new.to_status, new.note) == (
            action, getattr(world, username).id, from_status, status, kwargs.get("note", "")), action
        assert (incident.status, incident.version) == (status, version + 1), action


def test_refused_transition_appends_no_event(session, world, incident):
    before = len(events_of(session, incident))
    with pytest.raises(Forbidden):
        act(session, incident, world.safety1, "extend", hours=4, note="想延期")
    with pytest.raises(Conflict):
        act(session, incident, world.leader1, "close")
    assert len(events_of(session, incident)) == before


@pytest.mark.parametrize("statement", [
    "UPDATE incident_events SET note = 'rewritten' WHERE incident_id = :id",
    "DELETE FROM incident_events WHERE incident_id = :id",
])
def test_event_log_refuses_update_and_delete(session, world, incident, statement):
    before = [(e.id, e.note) for e in events_of(session, incident)]
    with pytest.raises(DBAPIError) as err:
        with session.begin_nested():
            session.execute(text(statement), {"id": incident.id})
    assert err.value.orig.sqlstate == "P0001" and "append-only" in str(err.value.orig)
    session.expire_all()
    assert [(e.id, e.note) for e in events_of(session, incident)] == before


@pytest.fixture
def lenient_app(database_url, session):
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                       "SESSION_FACTORY": lambda: session, "TILES_URL": "", "WEBHOOKS_IN_BACKGROUND": False,
                       "REPORTER_MAY_CLOSE": True})


def test_reporter_may_close_when_the_town_allows_it(lenient_app, session, world, incident):
    resolved(session, world, incident)
    response = post(lenient_app.test_client(), session, world.general1, incident, action="close")
    assert response.status_code == 200 and response.get_json()["status"] == "closed"


def test_the_rule_reads_its_setting_off_the_session_not_off_flask(session, world, incident):
    """The same call without an app: the setting travels with the session (as db.session() puts it)."""
    resolved(session, world, incident)
    with pytest.raises(Forbidden):
        act(session, incident, world.general1, "close")
    settings.attach(session, replace(settings.DEFAULTS, reporter_may_close=True))
    act(session, incident, world.general1, "close")
    assert incident.status == "closed"


def test_reporter_may_not_close_by_default(client, session, world, incident):
    resolved(session, world, incident)
    response = post(client, session, world.general1, incident, action="close")
    assert (response.status_code, error_code(response)) == (403, "actor_not_allowed")
