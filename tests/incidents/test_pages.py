"""The HTML pages people touch: report, my queue, one incident with its timeline and actions."""
import html
import json
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from gridsys.errors import Conflict
from gridsys.incidents import lifecycle, routing, services
from gridsys.incidents.models import Category
from gridsys.people import services as people
from gridsys.refusals import refusal_text
from gridsys import wording
from gridsys.vocabulary import DUTIES
from tests.incidents.helpers import act, bearer, events_of, login, report

XSS = "<img src=x onerror=alert(1)>"


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def actions_offered(html_text) -> set[str]:
    return set(re.findall(r'<input type="hidden" name="action" value="([a-z_]+)">', html_text))


def queue_codes(html_text) -> list[str]:
    return re.findall(r'<span class="code">([^<]+)</span>', html_text)


def flashes(html_text, category) -> list[str]:
    return [html.unescape(m) for m in re.findall(rf'<p class="flash {category}">(.*?)</p>', html_text, re.S)]


@pytest.fixture
def incident(session, world):
    return report(session, world.general1, "g11", "0201")


def test_report_page_groups_category_buttons_by_duty(client, session, world):
    text = page(login(client, "worker12"), "/report")
    groups = {legend: re.findall(r'name="category" value="(\d{4})"', body) for legend, body in
              re.findall(r'<fieldset class="categories" data-duty="\w+">\s*<legend>(.*?)</legend>(.*?)</fieldset>',
                         text, re.S)}
    expected = {wording.name("zh", wording.DUTY_NAMES, d):
                list(session.scalars(select(Category.code).where(Category.duty == d, Category.active)
                                     .order_by(Category.code))) for d in DUTIES}
    assert groups == expected


def test_report_page_carries_a_fresh_client_uuid(client, world):
    login(client, "worker12")
    first, second = (re.search(r'<input type="hidden" name="client_uuid" value="([^"]+)">', page(client, "/report"))
                     .group(1) for _ in range(2))
    assert uuid.UUID(first) and uuid.UUID(second) and first != second


def test_report_page_hides_retired_categories(client, session, world):
    session.get(Category, "0105").active = False
    session.commit()
    assert 'value="0105"' not in page(login(client, "worker12"), "/report")


def test_queue_shows_my_open_incidents_overdue_first(client, session, world):
    later = report(session, world.general1, "g11", "0204")   # safety1, 72 h
    sooner = report(session, world.general1, "g11", "0201")  # safety1, 24 h
    late = report(session, world.general1, "g11", "0206")    # safety1, made overdue below
    done = report(session, world.general1, "g11", "0203")    # safety1, closed below
    not_mine = report(session, world.general1, "g11", "0101")  # general1 handles civilization here
    late.due_at = services.now() - timedelta(hours=3)
    act(session, done, world.leader1, "cancel", note="重复")
    text = page(login(client, "safety1"), "/incidents")
    assert queue_codes(text) == [late.code, sooner.code, later.code]
    assert done.code not in text and not_mine.code not in text
    assert re.search(rf'<li class="incident assigned overdue">\s*<a href="/incidents/{late.id}">', text)


def test_incident_page_shows_the_timeline_with_the_routing_reason(client, session, world, incident):
    text = page(login(client, "safety1"), f"/incidents/{incident.id}")
    reason = html.escape(routing.reason_text(incident.routing, "zh"), quote=False)
    assert "safety1" in reason and world.g11.code in reason
    assert f'<dd class="routing">{reason}</dd>' in text
    assert f'<div class="routing">{reason}</div>' in text  # on the dispatch event of the timeline


def test_worker_sees_accept_but_not_close(client, session, world, incident):
    text = page(login(client, "safety1"), f"/incidents/{incident.id}")
    assert actions_offered(text) == {"accept", "resolve", "comment", "escalate"}
    assert "受理" in text and "核查结案" not in text


def test_leader_sees_close_on_a_resolved_incident(client, session, world, incident):
    act(session, incident, world.safety1, "accept")
    act(session, incident, world.safety1, "resolve", note="已处理")
    text = page(login(client, "leader1"), f"/incidents/{incident.id}")
    assert {"close", "reopen"} <= actions_offered(text) and "核查结案" in text
    assert "accept" not in actions_offered(text)


def test_reporter_sees_no_actions_after_close(client, session, world, incident):
    act(session, incident, world.leader1, "cancel", note="重复")
    assert actions_offered(page(login(client, "general1"), f"/incidents/{incident.id}")) == set()


def test_incident_out_of_scope_is_404(client, session, world, incident):
    login(client, "worker21")
    assert client.get(f"/incidents/{incident.id}").status_code == 404
    assert client.get(f"/incidents/{incident.id + 100000}").status_code == 404


def test_user_text_is_escaped_in_pages_and_stays_data_in_json(app, client, session, world):
    people.set_area_leader(session, world.leader2, world.a2.code)
    rogue, _ = people.create_user(session, "rogue", display_name=XSS, roles=["grid_worker"],
                                  password_hash=world.safety1.password_hash)
    people.assign_grid(session, rogue, world.g22.code, "general")
    mine = report(session, world.general1, "g11", "0201", description=XSS)      # safety1 handles it
    theirs = report(session, world.general1, "g22", "0101", description=XSS)    # rogue handles it
    login(client, "safety1")
    for text in (page(client, f"/incidents/{mine.id}"), page(client, "/incidents")):
        assert "&lt;img src=x onerror=alert(1)&gt;" in text and XSS not in text
    text = page(login(app.test_client(), "leader2"), f"/incidents/{theirs.id}")  # rogue's name as handler
    assert XSS not in text and text.count("&lt;img src=x onerror=alert(1)&gt;") >= 2

    api = client.get(f"/api/v1/incidents/{mine.id}", headers=bearer(session, world.admin))
    assert api.mimetype == "application/json" and api.get_json()["description"] == XSS
    geo = client.get("/api/v1/incidents.geojson", headers=bearer(session, world.admin))
    assert geo.mimetype == "application/geo+json"
    props = {f["properties"]["code"]: f["properties"] for f in json.loads(geo.get_data(as_text=True))["features"]}
    assert (props[theirs.code]["assignee"], props[theirs.code]["assignee_name"]) == ("rogue", XSS)


def csrf_of(text) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', text).group(1)


def test_form_action_with_a_stale_version_changes_nothing(client, session, world, incident):
    login(client, "leader1")
    text = page(client, f"/incidents/{incident.id}")
    read_version = re.search(r'name="version" value="(\d+)"', text).group(1)
    act(session, incident, world.safety1, "accept")  # meanwhile, on the worker's phone
    before = (incident.status, incident.version, incident.due_at, len(events_of(session, incident)))
    with pytest.raises(Conflict) as stale:  # the message a person should then read
        lifecycle.transition(session, incident, world.leader1, "extend", hours=4, note="x",
                             expected_version=int(read_version))
    response = client.post(f"/incidents/{incident.id}/act", data={
        "csrf_token": csrf_of(text), "action": "extend", "hours": "4", "note": "等配件", "version": read_version})
    assert response.status_code == 303 and response.headers["Location"] == f"/incidents/{incident.id}"
    with client.application.test_request_context("/"):  # in the person's language (Chinese), not the API's English
        expected = refusal_text(stale.value)
    assert flashes(page(client, response.headers["Location"]), "error") == [expected] != [stale.value.message]
    session.expire_all()
    assert (incident.status, incident.version, incident.due_at, len(events_of(session, incident))) == before


def test_form_action_with_the_current_version_is_saved(client, session, world, incident):
    login(client, "safety1")
    text = page(client, f"/incidents/{incident.id}")
    version = re.search(r'name="version" value="(\d+)"', text).group(1)
    response = client.post(f"/incidents/{incident.id}/act", data={
        "csrf_token": csrf_of(text), "action": "accept", "version": version})
    assert response.status_code == 303
    assert flashes(page(client, response.headers["Location"]), "ok") == ["已保存。"]
    session.expire_all()
    assert incident.status == "in_progress"


def test_form_action_without_csrf_token_is_refused(client, session, world, incident):
    login(client, "safety1")
    response = client.post(f"/incidents/{incident.id}/act", data={"action": "accept"})
    assert response.status_code == 400
    session.expire_all()
    assert incident.status == "assigned"
