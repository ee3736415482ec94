"""The incident list read in parts (services.list_page, issue 12 at city scale): the scope's parts
read the same incidents as the scope, pages follow the list order across parts and filters, and
the total stops at a cap and says so (API, page)."""
from datetime import timedelta

import pytest
from sqlalchemy import or_, select

from gridsys import settings
from gridsys.incidents import scoping, services
from gridsys.incidents.models import Incident
from gridsys.people import access
from gridsys.people.access import NOBODY, Scope
from tests.incidents.helpers import act, bearer, login, report

PEOPLE = ("admin", "leader1", "leader2", "safety1", "general1", "worker12", "worker21")


@pytest.fixture
def incidents(session, world):
    """Open, overdue, closed and handled ones in both areas, some reported across areas."""
    made = [report(session, world.general1, "g11", "0201"), report(session, world.worker12, "g12", "0101"),
            report(session, world.worker21, "g21", "0201"), report(session, world.worker21, "gap", "0203"),
            report(session, world.safety1, "g22", "0101"), report(session, world.leader1, "g21", "0101"),
            report(session, world.worker12, "g11", "0101"), report(session, world.admin, "g12", "0201")]
    made[1].due_at = services.now() - timedelta(hours=3)
    made[6].due_at = services.now() - timedelta(hours=1)
    session.commit()
    for incident in (made[0], made[2]):
        act(session, incident, incident.assignee, "accept")
        act(session, incident, incident.assignee, "resolve", note="已处理")
        act(session, incident, world.admin, "close")
    return made


def ids(session, condition) -> set[int]:
    return set(session.scalars(select(Incident.id).where(condition)))


def every_page(page_of, total: int) -> list[int]:
    """The ids of page 1, 2, … of ``page_of(number)`` until one says there is no more; each page
    tells the exact, uncapped ``total``."""
    read, number = [], 1
    while True:
        page = page_of(number)
        read += [i.id for i in page.items]
        assert (page.total, page.total_capped) == (total, False)
        if not page.more:
            return read
        number += 1


@pytest.mark.parametrize("most", [services.MAX_SCOPE_PARTS, 0])   # 0: every kind of zone as one IN
def test_the_scope_parts_read_what_the_scope_reads(session, world, incidents, monkeypatch, most):
    """If scoping.incidents_where changes, scope_parts must follow: this fails until it does."""
    monkeypatch.setattr(services, "MAX_SCOPE_PARTS", most)
    scopes = [access.scope_for(session, getattr(world, name)) for name in PEOPLE]
    scopes += [Scope(world.leader1.id, False, frozenset({world.town.id}), frozenset(), frozenset()),
               Scope(world.worker12.id, False, frozenset(), frozenset({world.a2.id}),
                     frozenset({world.g11.id, world.g12.id})), NOBODY]
    for scope in scopes:
        parts = services.scope_parts(scope)
        assert ids(session, or_(*parts) if parts else False) == ids(session, scoping.incidents_where(scope)), scope


@pytest.mark.parametrize("args", [{}, {"status": "open"}, {"status": "closed"}, {"overdue": "1"},
                                  {"overdue": "0"}, {"mine": "1"}, {"category": "0101"}, {"queue": "to_accept"}])
@pytest.mark.parametrize("name", PEOPLE)
def test_pages_follow_the_list_order(session, world, incidents, name, args):
    """Read two at a time from several parts, the pages give the list in its order, once each."""
    user = getattr(world, name)
    scope, filters = access.scope_for(session, user), services.parse_filters(args, settings.of(session))
    whole = list(session.scalars(services.scoped_incidents(scope, filters, user).with_only_columns(Incident.id)))

    def page_of(number):
        filters.page = number
        return services.list_page(session, scope, filters, user, size=2)
    assert every_page(page_of, len(whole)) == whole


def test_the_list_order_is_open_first_then_by_deadline(session, world, incidents):
    scope = access.scope_for(session, world.admin)
    page = services.list_page(session, scope, services.parse_filters({}, settings.of(session)), world.admin)
    rows = page.items
    assert [i.is_open for i in rows] == sorted((i.is_open for i in rows), reverse=True)
    due = [i.due_at for i in rows if i.is_open]
    assert due[:2] == [incidents[1].due_at, incidents[6].due_at]   # overdue ones first, the latest last
    assert due == sorted(due)


def test_the_total_stops_at_the_cap_and_says_so(session, world, incidents):
    scope = access.scope_for(session, world.leader1)
    filters = services.parse_filters({}, settings.of(session))
    exact = services.list_page(session, scope, filters, world.leader1)
    assert (exact.total, exact.total_capped, exact.more) == (5, False, False)   # area 1's four, one reported
    at_the_cap = services.list_page(session, scope, filters, world.leader1, cap=5)
    assert (at_the_cap.total, at_the_cap.total_capped) == (5, False)
    capped = services.list_page(session, scope, filters, world.leader1, cap=4, size=2)
    assert (capped.total, capped.total_capped, capped.more, len(capped.items)) == (4, True, True, 2)


def test_the_api_says_when_its_total_is_capped(client, session, world, incidents, monkeypatch):
    headers = bearer(session, world.admin)
    body = client.get("/api/v1/incidents", headers=headers).get_json()
    assert (body["total"], body["total_capped"], body["more"], body["page"]) == (8, False, False, 1)
    monkeypatch.setattr(services, "LIST_COUNT_CAP", 3)
    monkeypatch.setattr(services, "PAGE_SIZE", 2)
    body = client.get("/api/v1/incidents?page=2", headers=headers).get_json()
    assert (body["total"], body["total_capped"], body["more"], body["page_size"]) == (3, True, True, 2)
    assert len(body["items"]) == 2


def test_the_page_shows_a_capped_total_with_a_plus(client, session, world, incidents, monkeypatch):
    monkeypatch.setattr(services, "LIST_COUNT_CAP", 3)
    monkeypatch.setattr(services, "PAGE_SIZE", 2)
    login(client, "admin")
    page = client.get("/incidents?status=open").get_data(as_text=True)
    assert 'data-total="3">(3+)</span>' in page and 'rel="next"' in page
    monkeypatch.setattr(services, "LIST_COUNT_CAP", 100)
    page = client.get("/incidents?status=open&page=3").get_data(as_text=True)
    assert 'data-total="6">(6)</span>' in page and 'rel="next"' not in page


def escalate(session, incidents, levels):
    """Levels and times of escalation set directly: these tests are about the listing only."""
    for n, (incident, level) in enumerate(zip(incidents, levels)):
        incident.escalation_level, incident.escalated_at = level, services.now() - timedelta(hours=10 - n)
    session.commit()


@pytest.mark.parametrize("name", ["admin", "leader1", "leader2", "worker12", "safety1"])
def test_the_escalation_inbox_is_paged_in_its_order(session, world, incidents, name):
    escalate(session, incidents, [2, 1, 1, 2, 1, 1, 1, 2])   # 0 and 2 are closed: never listed
    user = getattr(world, name)
    scope = access.scope_for(session, user)
    whole = list(session.scalars(
        select(Incident.id).where(scoping.responsible_for(scope), Incident.escalation_level > 0,
                                  Incident.status.in_(("reported", "assigned", "in_progress", "reopened")))
        .order_by(Incident.escalation_level.desc(), Incident.escalated_at, Incident.id)))
    assert every_page(lambda number: services.escalations_page(session, scope, number, size=2), len(whole)) == whole


def test_the_escalation_page_shows_a_page_and_a_link_to_the_next(client, session, world, incidents, monkeypatch):
    escalate(session, incidents, [2, 1, 1, 2, 1, 1, 1, 2])
    monkeypatch.setattr(services, "PAGE_SIZE", 2)
    monkeypatch.setattr(services, "LIST_COUNT_CAP", 5)
    login(client, "admin")
    first = client.get("/escalations").get_data(as_text=True)
    assert first.count('class="incident escalated') == 2 and 'data-total="5">(5+)</span>' in first   # of 6
    assert 'rel="next" href="/escalations?page=2"' in first
    last = client.get("/escalations?page=3").get_data(as_text=True)
    assert last.count('class="incident escalated') == 2 and 'rel="next"' not in last
    assert client.get("/escalations?page=0").status_code == 400
