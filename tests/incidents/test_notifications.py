"""Notifications reach the person who must act, and nobody else; the API lists and marks them.

safety1 handles safety reports on grid 1-1; general1 is the grid's general worker; leader1 leads
area 1, leader2 area 2; admin administers the town (see conftest.py).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gridsys.incidents import escalation, notify, permissions
from gridsys.incidents.models import Notification
from gridsys.zones import redraw
from gridsys import boundaries
from tests.incidents.helpers import act, bearer, error_code, login, report


def notices(session) -> list[tuple[str, str, int]]:
    """Every notification written, as (username, kind, incident id), in order."""
    from gridsys.people.models import User
    return [(u, k, i) for u, k, i in session.execute(
        select(User.username, Notification.kind, Notification.incident_id)
        .join(User, User.id == Notification.user_id).order_by(Notification.id))]


@pytest.fixture
def handled(session, world):
    """A safety report by the general worker: dispatched to safety1 (who is told)."""
    return report(session, world.general1, "g11", "0201", description="井盖缺失")


def test_a_dispatched_report_tells_its_handler(session, world, handled):
    assert notices(session) == [("safety1", "assigned", handled.id)]


def test_nobody_is_told_of_their_own_report(session, world):
    report(session, world.safety1, "g11", "0201")
    assert notices(session) == []


EVENTS = [
    # (what happens, who is told, of which kind)
    ("reassign", "general1", "assigned"),
    ("send_down", "safety1", "instructed"),
    ("extend", "safety1", "extended"),
    ("resolve", "leader1", "to_verify"),
    ("reopen", "safety1", "returned"),
    ("escalate", "leader1", "escalated"),
]


@pytest.mark.parametrize("event, told, kind", EVENTS)
def test_each_event_tells_the_right_person_and_nobody_else(session, world, handled, event, told, kind):
    if event == "reassign":
        act(session, handled, world.leader1, "reassign", assignee="general1")
    elif event == "send_down":
        act(session, handled, world.safety1, "escalate", note="处理不了")
        before = len(notices(session))
        act(session, handled, world.leader1, "send_down", note="联系市政所今天修好")
        assert notices(session)[before:] == [(told, kind, handled.id)]
        assert session.scalars(select(Notification).order_by(Notification.id.desc())).first().data == {
            "by": "leader1", "note": "联系市政所今天修好"}
        return
    elif event == "extend":
        act(session, handled, world.leader1, "extend", hours=24, note="等配件")
    elif event == "resolve":
        act(session, handled, world.safety1, "resolve", note="已修好")
    elif event == "reopen":
        act(session, handled, world.safety1, "resolve", note="已修好")
        before = len(notices(session))
        act(session, handled, world.leader1, "reopen", note="盖板没固定")
        assert notices(session)[before:] == [(told, kind, handled.id)]
        return
    elif event == "escalate":
        act(session, handled, world.safety1, "escalate", note="需要城建")
    assert notices(session)[1:] == [(told, kind, handled.id)]


def test_quiet_actions_tell_nobody(session, world, handled):
    act(session, handled, world.safety1, "accept")
    act(session, handled, world.safety1, "comment", note="已到现场")
    act(session, handled, world.leader1, "take")
    assert notices(session) == [("safety1", "assigned", handled.id)]


def test_a_leader_resolving_what_they_took_is_not_told_to_verify_it(session, world, handled):
    act(session, handled, world.leader1, "take")
    act(session, handled, world.leader1, "resolve", note="我来处理了")
    assert [n for n in notices(session) if n[1] == "to_verify"] == []


def test_resolved_without_an_area_leader_goes_to_the_town_administrators(session, world):
    incident = report(session, world.worker21, "g21", "0101", description="垃圾")
    from gridsys.people.models import AreaLeader
    session.scalar(select(AreaLeader).where(AreaLeader.user_id == world.leader2.id)).valid_to = escalation.now()
    session.commit()
    act(session, incident, world.worker21, "resolve", note="清运了")
    assert notices(session)[-1] == ("admin", "to_verify", incident.id)


def test_due_soon_is_sent_once_per_deadline(session, world, handled):
    soon = handled.due_at - timedelta(hours=1)
    escalation.sweep(session, as_of=soon)
    escalation.sweep(session, as_of=soon + timedelta(minutes=10))
    session.commit()
    assert [n for n in notices(session) if n[1] == "due_soon"] == [("safety1", "due_soon", handled.id)]
    act(session, handled, world.leader1, "extend", hours=2, note="再给两小时")   # a new deadline
    escalation.sweep(session, as_of=handled.due_at - timedelta(hours=1))
    session.commit()
    assert [n for n in notices(session) if n[1] == "due_soon"] == [("safety1", "due_soon", handled.id)] * 2


def test_due_soon_skips_what_is_overdue_or_resolved(session, world, handled):
    late = report(session, world.general1, "g11", "0201", description="早就超期",
                  at=escalation.now() - timedelta(days=3))
    act(session, handled, world.safety1, "resolve", note="好了")
    escalation.sweep(session, as_of=handled.due_at - timedelta(hours=1))
    session.commit()
    assert [n for n in notices(session) if n[1] == "due_soon" and n[2] in (handled.id, late.id)] == []


def test_a_boundary_change_tells_the_new_handler(session, world):
    incident = report(session, world.general1, "g12", "0101", description="垃圾")   # worker12's grid
    assert incident.assignee.username == "worker12"
    boundaries.save(session, redraw.plan_merge(session, world.g11.code, world.g12.code), actor="admin",
                    reason="网格合并")
    session.commit()
    session.refresh(incident)
    assert incident.assignee.username == "general1"   # grid 1-1's general worker takes it over
    moved = session.scalars(select(Notification).where(Notification.incident_id == incident.id)
                            .order_by(Notification.id)).all()
    assert [(n.user_id, n.kind, n.data) for n in moved] == [
        (world.worker12.id, "assigned", {"by": "general1"}),
        (world.general1.id, "assigned", {"by": "admin", "moved": True})]


def test_notifications_api_lists_newest_first_and_marks_read(client, session, world, handled):
    act(session, handled, world.safety1, "resolve", note="好了")
    act(session, handled, world.leader1, "reopen", note="再看看")
    headers = bearer(session, world.safety1)
    body = client.get("/api/v1/notifications", headers=headers).get_json()
    assert [(n["kind"], n["incident_id"], n["read"]) for n in body["items"]] == [
        ("returned", handled.id, False), ("assigned", handled.id, False)]
    assert body["unread"] == 2 and set(body["items"][0]) == {"id", "kind", "incident_id", "at", "read", "data"}
    first = body["items"][1]["id"]
    marked = client.post("/api/v1/notifications/read", json={"ids": [first]}, headers=headers).get_json()
    assert marked == {"marked": 1, "unread": 1}
    unread = client.get("/api/v1/notifications?unread=1", headers=headers).get_json()
    assert [n["kind"] for n in unread["items"]] == ["returned"]
    assert client.post("/api/v1/notifications/read", json={"all": True}, headers=headers).get_json() == {
        "marked": 1, "unread": 0}


def test_nobody_marks_anothers_notifications(client, session, world, handled):
    [mine] = session.scalars(select(Notification.id)).all()
    response = client.post("/api/v1/notifications/read", json={"ids": [mine]}, headers=bearer(session, world.leader1))
    assert response.get_json() == {"marked": 0, "unread": 0}
    assert session.scalar(select(Notification.read_at).where(Notification.id == mine)) is None


@pytest.mark.parametrize("body", [{}, {"ids": "1"}, {"ids": [True]}, {"ids": [0]}, {"ids": [2**31]},
                                  {"all": False}, {"all": "yes"}, {"ids": [1], "all": True}, {"idz": [1]},
                                  {"ids": list(range(1, 1002))}, [1, 2]])
def test_bad_mark_read_bodies_are_refused_and_change_nothing(client, session, world, handled, body):
    response = client.post("/api/v1/notifications/read", json=body, headers=bearer(session, world.safety1))
    assert response.status_code == 400
    assert error_code(response) in ("notifications_invalid", "body_not_json")
    assert session.scalar(select(Notification.read_at)) is None


def test_unread_flag_is_checked(client, session, world):
    response = client.get("/api/v1/notifications?unread=maybe", headers=bearer(session, world.safety1))
    assert (response.status_code, error_code(response)) == (400, "unread_invalid")


def test_opening_the_incident_reads_its_notices(client, session, world, handled):
    login(client, "safety1")
    assert notify.unread_count(session, world.safety1) == 1
    client.get(f"/incidents/{handled.id}")
    assert notify.unread_count(session, world.safety1) == 0


def test_inbox_page_names_each_kind(client, session, world, handled):
    act(session, handled, world.safety1, "resolve", note="好了")
    act(session, handled, world.leader1, "reopen", note="再看看")
    login(client, "safety1")
    html = client.get("/inbox").get_data(as_text=True)
    assert "分派给您" in html and "被退回返工" in html and "再看看" in html


def test_a_leader_escalating_what_they_handle_is_not_told_of_it(session, world):
    gap = report(session, world.worker21, "gap", "0201", description="空地积水")   # routed to leader2
    act(session, gap, world.leader2, "escalate", note="需要镇里协调")
    assert [n for n in notices(session) if n[2] == gap.id and n[0] == "leader2"] == [("leader2", "assigned", gap.id)]
    assert gap.escalation_level == 1   # it is theirs at level 1 too: nobody else to tell yet


def test_the_extension_notice_says_by_how_much(session, world, handled):
    act(session, handled, world.leader1, "extend", hours=6, note="等配件")
    [note] = session.scalars(select(Notification).where(Notification.kind == "extended")).all()
    assert note.data["hours"] == 6 and note.data["due_at"] == handled.due_at.isoformat()


def test_reassign_offers_only_people_the_server_would_take(session, world, handled):
    from gridsys.people import services as people
    assert "general1" in [c.user.username for c in permissions.reassign_candidates(session, handled)]
    people.set_roles(session, world.general1, [])   # no longer a grid worker; the assignment row stays
    session.commit()
    assert "general1" not in [c.user.username for c in permissions.reassign_candidates(session, handled)]


def test_a_dispatched_report_queues_the_towns_webhooks_too(session, world):
    from gridsys.incidents import webhooks
    from gridsys.incidents.models import WebhookDelivery
    incident = report(session, world.general1, "g11", "0201", description="没有钩子")
    assert session.scalars(select(WebhookDelivery)).all() == []
    webhooks.add_webhook(session, world.town, "http://127.0.0.1:9/hook", "json")
    session.commit()
    incident = report(session, world.general1, "g11", "0201", description="有钩子")
    [delivery] = session.scalars(select(WebhookDelivery)).all()
    assert (delivery.incident_id, delivery.payload["type"]) == (incident.id, "incident.assigned")
    assert delivery.payload["data"]["to"] == ["safety1"]
    report(session, world.safety1, "g11", "0201", description="自己报自己办")
    assert len(session.scalars(select(WebhookDelivery)).all()) == 1, "nobody to tell: nothing sent"
