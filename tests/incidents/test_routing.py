"""Routing at creation: point -> grid -> category -> duty -> worker, with the 属地兜底 fallbacks;
the decision recorded; deadlines; priority; human codes."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gridsys.incidents import routing
from gridsys.incidents.models import Category
from gridsys.people import services as people
from gridsys.zones.services import locate
from tests.incidents.helpers import events_of, lonlat, report

AT = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def assign(session, user, grid, duty, backup=False):
    return people.assign_grid(session, user, grid.code, duty, backup=backup)


def test_primary_duty_worker_gets_the_incident(session, zones, users):
    assign(session, users.safety1, zones.g11, "safety")
    assign(session, users.general1, zones.g11, "general")
    people.set_area_leader(session, users.leader1, zones.a1.code)
    incident = report(session, users.worker12, "g11", "0201")
    assert (incident.assignee.username, incident.assigned_as, incident.status) == ("safety1", "safety", "assigned")
    assert incident.routing["rule"] == "duty_primary"
    assert (incident.grid.code, incident.area.code, incident.town.code) == (
        zones.g11.code, zones.a1.code, zones.town.code)


def test_backup_duty_worker_when_the_duty_has_no_primary(session, zones, users):
    assign(session, users.safety1, zones.g11, "safety", backup=True)
    assign(session, users.general1, zones.g11, "general")
    incident = report(session, users.worker12, "g11", "0201")
    assert (incident.assignee.username, incident.assigned_as) == ("safety1", "safety")
    assert incident.routing["rule"] == "duty_backup"


def test_general_worker_when_nobody_holds_the_duty(session, zones, users):
    assign(session, users.safety1, zones.g11, "civilization")
    assign(session, users.general1, zones.g11, "general")
    incident = report(session, users.worker12, "g11", "0201")
    assert (incident.assignee.username, incident.assigned_as) == ("general1", "general")
    assert incident.routing["rule"] == "general_primary"


def test_general_backup_when_there_is_no_general_primary(session, zones, users):
    assign(session, users.general1, zones.g11, "general", backup=True)
    incident = report(session, users.worker12, "g11", "0201")
    assert (incident.assignee.username, incident.assigned_as) == ("general1", "general")
    assert incident.routing["rule"] == "general_backup"


def test_area_leader_when_the_grid_has_nobody(session, zones, users):
    assign(session, users.general1, zones.g12, "general")  # a worker of the neighbouring grid only
    people.set_area_leader(session, users.leader1, zones.a1.code)
    incident = report(session, users.worker12, "g11", "0201")
    assert (incident.assignee.username, incident.assigned_as) == ("leader1", "area_leader")
    assert incident.grid.code == zones.g11.code and incident.routing["rule"] == "area_leader"


def test_point_in_a_grid_gap_goes_to_the_area_leader_without_a_grid(session, zones, users):
    assign(session, users.worker21, zones.g21, "general")
    people.set_area_leader(session, users.leader2, zones.a2.code)
    incident = report(session, users.worker21, "gap", "0201")
    assert incident.grid is None and incident.area.code == zones.a2.code
    assert (incident.assignee.username, incident.assigned_as) == ("leader2", "area_leader")
    assert incident.code.startswith(zones.a2.code + "-")


def test_town_admin_when_the_area_has_no_leader(session, zones, users):
    people.set_area_leader(session, users.leader2, zones.a2.code)  # the other area's leader
    people.add_town_admin(session, users.admin, zones.town.code)
    incident = report(session, users.worker12, "g11", "0201")
    assert (incident.assignee.username, incident.assigned_as) == ("admin", "town_admin")
    assert incident.routing["rule"] == "town_admin"


def test_point_outside_every_area_goes_to_the_town_admin(session, zones, users):
    people.set_area_leader(session, users.leader1, zones.a1.code)
    people.set_area_leader(session, users.leader2, zones.a2.code)
    people.add_town_admin(session, users.admin, zones.town.code)
    incident = report(session, users.worker12, "no_area", "0201")
    assert incident.area is None and incident.grid is None and incident.town.code == zones.town.code
    assert (incident.assignee.username, incident.assigned_as) == ("admin", "town_admin")
    assert incident.code.startswith(zones.town.code + "-")


def test_nobody_to_route_to_leaves_it_reported_without_deadline(session, zones, users):
    incident = report(session, users.worker12, "g11", "0201", at=AT)
    assert (incident.status, incident.assignee_id, incident.due_at) == ("reported", None, None)
    assert incident.routing["rule"] == "unassigned"
    assert [e.action for e in events_of(session, incident)][:2] == ["report", "unrouted"]


def test_deactivated_primary_is_skipped(session, zones, users):
    assign(session, users.safety1, zones.g11, "safety")
    assign(session, users.general1, zones.g11, "general")
    people.set_active(session, users.safety1, False)
    incident = report(session, users.worker12, "g11", "0201")
    assert incident.assignee.username == "general1"


def test_ended_assignment_is_skipped(session, zones, users):
    ended = assign(session, users.safety1, zones.g11, "safety")
    assign(session, users.general1, zones.g11, "general")
    people.end_assignment(session, "grid", ended.id)
    incident = report(session, users.worker12, "g11", "0201")
    assert incident.assignee.username == "general1"


def test_ended_area_leadership_falls_through_to_the_town(session, zones, users):
    term = people.set_area_leader(session, users.leader1, zones.a1.code)
    people.add_town_admin(session, users.admin, zones.town.code)
    people.end_assignment(session, "area", term.id)
    assert report(session, users.worker12, "g11", "0201").assignee.username == "admin"


def test_deactivated_area_leader_falls_through_to_the_town(session, zones, users):
    people.set_area_leader(session, users.leader1, zones.a1.code)
    people.add_town_admin(session, users.admin, zones.town.code)
    people.set_active(session, users.leader1, False)
    assert report(session, users.worker12, "g11", "0201").assignee.username == "admin"


def test_worker_without_the_grid_worker_role_is_not_routed_to(session, zones, users):
    assign(session, users.safety1, zones.g11, "safety")
    assign(session, users.general1, zones.g11, "general")
    people.set_roles(session, users.safety1, [])
    assert report(session, users.worker12, "g11", "0201").assignee.username == "general1"


def test_route_is_a_decision_without_writes(session, zones, users):
    assign(session, users.safety1, zones.g11, "safety")
    decision = routing.route(session, locate(session, *lonlat("g11")), session.get(Category, "0201"))
    assert (decision.assignee.username, decision.assigned_as, decision.rule) == ("safety1", "safety", "duty_primary")
    assert decision.data == {"duty": "safety", "category": "0201", "level": "grid", "town": zones.town.code,
                             "area": zones.a1.code, "grid": zones.g11.code, "rule": "duty_primary",
                             "assignee": "safety1"}
    assert not session.new and not session.dirty


def test_decision_is_stored_on_the_incident_and_as_a_dispatch_event(session, zones, users):
    assign(session, users.safety1, zones.g11, "safety")
    incident = report(session, users.worker12, "g11", "0201", at=AT)
    dispatch = [e for e in events_of(session, incident) if e.action == "dispatch"]
    assert len(dispatch) == 1
    assert (dispatch[0].from_status, dispatch[0].to_status, dispatch[0].actor_id) == ("reported", "assigned", None)
    assert dispatch[0].data == incident.routing
    assert incident.routing["rule"] == "duty_primary" and incident.routing["assignee"] == "safety1"


@pytest.mark.parametrize("locale,words", [("zh", ["safety1", "平安综治"]), ("en", ["safety1", "Safety & order"])])
def test_reason_text_names_the_assignee_the_duty_and_the_grid(session, zones, users, locale, words):
    assign(session, users.safety1, zones.g11, "safety")
    incident = report(session, users.worker12, "g11", "0201")
    text = routing.reason_text(incident.routing, locale)
    for word in [*words, zones.g11.code]:
        assert word in text


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_reason_text_of_a_fallback_names_the_leader_and_the_grid(session, zones, users, locale):
    people.set_area_leader(session, users.leader1, zones.a1.code)
    incident = report(session, users.worker12, "g11", "0201")
    text = routing.reason_text(incident.routing, locale)
    assert "leader1" in text and zones.g11.code in text and zones.a1.code in text


def test_due_at_is_dispatch_time_plus_the_category_deadline(session, zones, users):
    assign(session, users.safety1, zones.g11, "safety")
    incident = report(session, users.worker12, "g11", "0204", at=AT)  # property dispute: 72 h
    assert incident.dispatched_at == AT and incident.created_at == AT
    assert incident.due_at == AT + timedelta(hours=72)


@pytest.mark.parametrize("category,priority,hours", [
    ("0204", "urgent", 4),   # 72 h category, sent as urgent: shortened to 4 h
    ("0204", "normal", 72),
    ("0202", None, 2),       # an urgent category shorter than 4 h keeps its own deadline
    ("0602", "urgent", 1),
])
def test_urgent_priority_shortens_the_deadline_to_at_most_four_hours(session, zones, users, category, priority,
                                                                    hours):
    assign(session, users.safety1, zones.g11, "general")
    incident = report(session, users.worker12, "g11", category, at=AT, priority=priority)
    assert incident.due_at - AT == timedelta(hours=hours)


def test_counseling_categories_are_always_urgent(session, zones, users):
    assign(session, users.general1, zones.g11, "general")
    codes = session.scalars(select(Category.code).where(Category.duty == "counseling")).all()
    assert codes  # the catalogue has counseling categories to check
    for code in codes:
        incident = report(session, users.worker12, "g11", code, at=AT, priority="normal")
        assert incident.priority == "urgent", code
        assert incident.due_at - AT <= timedelta(hours=4), code


def test_normal_category_stays_normal_unless_asked(session, zones, users):
    assign(session, users.general1, zones.g11, "general")
    assert report(session, users.worker12, "g11", "0101").priority == "normal"
    assert report(session, users.worker12, "g11", "0101", priority="urgent").priority == "urgent"


def test_codes_count_per_grid_and_day(session, zones, users):
    assign(session, users.general1, zones.g11, "general")
    assign(session, users.worker12, zones.g12, "general")
    first = report(session, users.worker12, "g11", "0101", at=AT)
    second = report(session, users.worker12, "g11", "0101", at=AT + timedelta(hours=1))
    other_grid = report(session, users.worker12, "g12", "0101", at=AT)
    next_day = report(session, users.worker12, "g11", "0101", at=AT + timedelta(days=1))
    assert first.code == f"{zones.g11.code}-20260302-001"
    assert second.code == f"{zones.g11.code}-20260302-002"
    assert other_grid.code == f"{zones.g12.code}-20260302-001"
    assert next_day.code == f"{zones.g11.code}-20260303-001"


def test_code_date_is_the_towns_local_date(app, session, zones, users):
    assign(session, users.general1, zones.g11, "general")
    morning_in_town = datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)  # 2026-03-02 07:30 Asia/Shanghai
    with app.app_context():
        incident = report(session, users.worker12, "g11", "0101", at=morning_in_town)
    assert incident.code == f"{zones.g11.code}-20260302-001"
