"""The incident page shows what this person can do now: the primary action first and open, the
rest folded away; 改派 picks from the people who serve the incident."""
from __future__ import annotations

import re

import pytest

from tests.incidents.helpers import act, csrf_token, login, report


def sections(html: str) -> tuple[list[str], list[str]]:
    """(primary actions, folded actions) as the page shows them."""
    primary, _, rest = html.partition('<details class="act more">')
    first = re.findall(r'<details open class="primary-action" data-action="(\w+)"', primary)
    folded = re.findall(r'<details data-action="(\w+)"', rest)
    return first, folded


@pytest.fixture
def incident(session, world):
    return report(session, world.general1, "g11", "0201", description="井盖缺失")


def page(client, incident):
    return client.get(f"/incidents/{incident.id}").get_data(as_text=True)


def test_the_handler_accepts_then_resolves(client, session, world, incident):
    login(client, "safety1")
    first, folded = sections(page(client, incident))
    assert first == ["accept"] and "resolve" in folded
    act(session, incident, world.safety1, "accept")
    first, folded = sections(page(client, incident))
    assert first == ["resolve"] and "accept" not in folded


def test_the_leader_verifies_a_resolved_one(client, session, world, incident):
    act(session, incident, world.safety1, "resolve", note="已修好")
    login(client, "leader1")
    first, folded = sections(page(client, incident))
    assert first == ["close", "reopen"]
    assert "accept" not in first + folded


def test_the_leader_acts_on_an_escalated_one(client, session, world, incident):
    act(session, incident, world.safety1, "escalate", note="需要城建")
    login(client, "leader1")
    first, folded = sections(page(client, incident))
    assert first == ["send_down", "reassign", "take"]
    assert first[0] not in folded


def test_the_leader_of_an_ordinary_open_one_sees_everything_folded(client, session, world, incident):
    login(client, "leader1")
    html = page(client, incident)
    first, folded = sections(html)
    assert first == [] and {"reassign", "extend", "cancel"} <= set(folded)
    assert "撤销事件" in html, "the incident's cancel has its own words"


def test_reassign_picks_from_the_people_serving_the_incident(client, session, world, incident):
    login(client, "leader1")
    html = page(client, incident)
    select = html[html.index('<select name="assignee"'):]
    select = select[:select.index("</select>")]
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', select)
    assert [v for v, _ in options] == ["", "general1", "leader1", "admin"]   # not safety1: already theirs
    assert "综合网格员" in dict(options)["general1"] and "包片领导" in dict(options)["leader1"]
    assert '<input name="assignee"' not in html, "never a typed username"
    response = client.post(f"/incidents/{incident.id}/act", data={
        "csrf_token": csrf_token(client, f"/incidents/{incident.id}"), "action": "reassign",
        "assignee": "general1", "version": incident.version})
    assert response.status_code == 303
    session.refresh(incident)
    assert incident.assignee.username == "general1"


def test_a_worker_who_only_reported_it_has_no_primary_action(client, session, world, incident):
    login(client, "general1")
    first, _folded = sections(page(client, incident))
    assert first == []
