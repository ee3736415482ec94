"""The pages of escalation, through HTTP with a real login: the unread count in the header, the
inbox and marking read, the leader's /escalations list, and what an escalated incident shows.

Pages are asked for in English (``?lang=en``) where a test reads labels.
"""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from gridsys.i18n import localtime
from gridsys.incidents import escalation
from gridsys.incidents.models import Notification
from tests.incidents.helpers import act, bearer, csrf_token, login, report


def overdue(session, world, spot="g11", reporter=None):
    """An incident two days old, a day past its deadline, not yet swept."""
    return report(session, reporter or world.general1, spot, "0201", at=escalation.now() - timedelta(days=2))


def sweep(session) -> list[int]:
    done = escalation.sweep(session)
    session.commit()
    return done


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def unread_badge(html) -> int | None:
    found = re.findall(r'class="inbox-link">[^<]*<span class="count" data-unread="(\d+)">\1</span>', html)
    return int(found[0]) if found else None


def listed(html) -> list[int]:
    """Incident ids linked from the rows of an inbox or escalations list."""
    return [int(i) for i in re.findall(r'<li class="incident[^"]*">\s*<a href="/incidents/(\d+)">', html)]


def unread_rows(html) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="incident unread[^"]*">\s*<a href="/incidents/(\d+)">', html)]


def notifications(session, user) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.user_id == user.id)
                                .order_by(Notification.id)))


# --- the header and the inbox --------------------------------------------------------------------

def test_header_shows_the_unread_count_after_an_escalation(client, session, world):
    overdue(session, world)
    login(client, "leader1")
    assert unread_badge(page(client, "/incidents")) is None
    sweep(session)
    assert unread_badge(page(client, "/incidents")) == 1
    other = overdue(session, world, "g12")
    sweep(session)
    assert unread_badge(page(client, "/incidents")) == 2
    assert unread_badge(page(login(client.application.test_client(), "leader2"), "/incidents")) is None
    assert other.escalation_level == 1


def test_inbox_lists_the_escalation_and_mark_all_read_clears_the_count(client, session, world):
    incident = overdue(session, world)
    sweep(session)
    login(client, "leader1")
    html = page(client, "/inbox?lang=en")
    assert listed(html) == unread_rows(html) == [incident.id]
    assert incident.code in html and "Escalated L1" in html and "overdue" in html
    response = client.post("/inbox/read", data={"csrf_token": csrf_token(client, "/inbox")})
    assert (response.status_code, response.headers["Location"]) == (303, "/inbox")
    html = page(client, "/inbox")
    assert unread_badge(html) is None
    assert listed(html) == [incident.id] and unread_rows(html) == []  # kept, as read
    assert [n.read_at is not None for n in notifications(session, world.leader1)] == [True]


def test_marking_one_read_keeps_the_others_unread(client, session, world):
    first, second = overdue(session, world), overdue(session, world, "g12")
    sweep(session)
    login(client, "leader1")
    one = next(n for n in notifications(session, world.leader1) if n.incident_id == first.id)
    response = client.post("/inbox/read", data={"id": str(one.id), "next": "/incidents",
                                                "csrf_token": csrf_token(client, "/inbox")})
    assert (response.status_code, response.headers["Location"]) == (303, "/incidents")
    html = page(client, "/inbox")
    assert unread_badge(html) == 1 and unread_rows(html) == [second.id]
    assert listed(html) == [second.id, first.id]  # unread first


def test_marking_read_needs_the_csrf_token(client, session, world):
    overdue(session, world)
    sweep(session)
    login(client, "leader1")
    assert client.post("/inbox/read", data={}).status_code == 400
    assert unread_badge(page(client, "/inbox")) == 1


def test_nobody_marks_someone_elses_notifications(client, session, world):
    overdue(session, world)
    sweep(session)
    [leaders] = notifications(session, world.leader1)
    login(client, "worker21")
    client.post("/inbox/read", data={"id": str(leaders.id), "csrf_token": csrf_token(client, "/inbox")})
    client.post("/inbox/read", data={"csrf_token": csrf_token(client, "/inbox")})
    assert [n.read_at for n in notifications(session, world.leader1)] == [None]
    assert listed(page(client, "/inbox")) == []  # nor sees them


def test_inbox_needs_a_login(client, session, world):
    response = client.get("/inbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the leader's escalations ----------------------------------------------------------------------

@pytest.fixture
def spread(session, world):
    """Escalated: one in area 1 (grid 1-1), one in area 2 (grid 2-1), one in area 1 later
    resolved; not escalated: one in area 1."""
    mine = overdue(session, world, "g11")
    theirs = overdue(session, world, "g21")
    done = overdue(session, world, "g12")
    calm = report(session, world.general1, "g11", "0201")
    sweep(session)
    act(session, done, world.worker12, "resolve", note="已处理")
    return mine, theirs, done, calm


def test_escalations_list_the_leaders_area_only_with_why_and_how_late(client, session, world, spread):
    mine, theirs, done, calm = spread
    login(client, "leader1")
    html = page(client, "/escalations?lang=en")
    assert listed(html) == [mine.id]
    assert mine.code in html and theirs.code not in html and calm.code not in html and done.code not in html
    row = html[html.index(f'<a href="/incidents/{mine.id}">'):]
    row = row[:row.index("</li>")]
    assert "Escalated L1" in row and ">overdue<" in row
    assert f"since {localtime_in(client, mine.escalated_at)}" in row
    assert "overdue by 1 d" in row and "平安员一" in row  # late by a day; the handler it is waiting on
    assert page(client, f"/incidents/{mine.id}").count(mine.code) >= 1  # one tap to the incident
    assert client.get(f"/incidents/{theirs.id}").status_code == 404


def test_the_other_leader_sees_the_other_area(client, session, world, spread):
    mine, theirs, _done, _calm = spread
    assert listed(page(login(client, "leader2"), "/escalations")) == [theirs.id]


def test_escalations_are_ordered_by_level_then_age(client, session, world):
    older, newer = overdue(session, world, "g11"), overdue(session, world, "g12")
    sweep(session)
    top = overdue(session, world, "g11")
    act(session, top, world.safety1, "escalate", note="需要协调")
    act(session, top, world.safety1, "escalate", note="仍需协调")
    html = page(login(client, "admin"), "/escalations")
    assert listed(html) == [top.id, older.id, newer.id]


def test_a_worker_sees_no_escalation_of_other_grids(client, session, world, spread):
    html = page(login(client, "worker12"), "/escalations")
    assert listed(html) == []
    assert 'href="/escalations"' not in html  # not offered in the header either
    own = overdue(session, world, "g12", reporter=world.worker21)
    sweep(session)
    assert listed(page(client, "/escalations")) == [own.id]


def test_escalations_leave_out_what_one_merely_reported_elsewhere(client, session, world):
    in_area_1 = overdue(session, world, "g11", reporter=world.worker21)  # grid 1-1 is not worker21's
    overdue(session, world, "g22", reporter=world.leader1)  # area 2 is not leader1's, grid 2-2 not worker21's
    sweep(session)
    assert listed(page(login(client, "worker21"), "/escalations")) == []
    assert listed(page(login(client.application.test_client(), "leader1"), "/escalations")) == [in_area_1.id]


def test_leader_is_offered_escalations_in_the_header(client, session, world):
    assert 'href="/escalations"' in page(login(client, "leader1"), "/inbox")


def localtime_in(client, value) -> str:
    with client.application.app_context():
        return localtime(value)


# --- what an escalated incident shows -------------------------------------------------------------

def test_incident_page_shows_why_since_when_and_who_holds_it(client, session, world):
    incident = report(session, world.general1, "g11", "0201")
    act(session, incident, world.safety1, "escalate", note="需要协调")
    html = page(login(client, "leader1"), f"/incidents/{incident.id}?lang=en")
    assert "Escalated L1" in html
    assert "asked by the handler" in html
    assert f"since {localtime_in(client, incident.escalated_at)}" in html
    assert "包片领导一" in html  # leader1, who holds it at level 1


def test_incident_json_shows_why_since_when_and_who_holds_it(client, session, world):
    incident = report(session, world.general1, "g11", "0201")
    act(session, incident, world.safety1, "escalate", note="需要协调")
    body = client.get(f"/api/v1/incidents/{incident.id}", headers=bearer(session, world.leader1)).get_json()
    assert body["escalation_level"] == 1
    assert body["escalation_trigger"] == "manual"
    assert body["escalated_at"] == incident.escalated_at.isoformat()
    assert "leader1" in str(body.get("escalation_holders"))


def test_marking_read_with_a_bad_id_changes_nothing(client, session, world):
    from sqlalchemy import func
    report(session, world.general1, "g11", "0201", at=escalation.now() - timedelta(days=2))
    escalation.sweep(session)
    session.commit()
    unread = lambda: session.scalar(select(func.count()).where(Notification.read_at.is_(None)))  # noqa: E731
    before = unread()
    assert before > 0
    login(client, world.leader1.username)
    response = client.post("/inbox/read", data={"id": "all", "csrf_token": csrf_token(client, "/inbox")})
    assert response.status_code == 400
    session.expire_all()
    assert unread() == before
