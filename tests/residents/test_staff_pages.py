"""The staff side of the residents' channel, over HTTP: 立案 / 不予受理 / 合并 on the incident page and
the API, replies and photos the resident reads, who reads a resident's phone, a call entered by
staff (channel phone), the telephone 回访, the unsatisfied queue, and a worker's public number."""
from __future__ import annotations

import io
import re
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from gridsys.incidents import photos, privacy
from gridsys.incidents.models import Incident, IncidentEvent
from gridsys.residents import services as residents
from tests.incidents.helpers import act, bearer, csrf_token, error_code, login, lonlat, report
from tests.incidents.test_incident_page import sections
from tests.residents.helpers import SECRET, resident_report

PHONE, MASKED = "13800001111", "138****1111"


def page(client, incident) -> str:
    return client.get(f"/incidents/{incident.id}").get_data(as_text=True)


def post(client, url, data, incident=None):
    """A form of the incident's page, with its CSRF token; the page it lands on (flashes included)."""
    token = csrf_token(client, f"/incidents/{incident.id}" if incident else "/incidents")
    response = client.post(url, data={"csrf_token": token, **data})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def flashed_error(html: str) -> str | None:
    found = re.search(r'<p class="flash error"[^>]*>(.*?)</p>', html, re.S)
    return found.group(1).strip() if found else None


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def waiting(session, world):
    """A resident's report in 待立案 of grid 1-1: routed to safety1, watched by leader1."""
    return resident_report(session, "g11", "0201").incident


def closed(session, world, rating=None):
    incident = resident_report(session).incident
    act(session, incident, world.safety1, "register")
    act(session, incident, world.safety1, "resolve", note="已清理", public=True)
    act(session, incident, world.leader1, "close")
    if rating:
        residents.rate(session, incident, rating, "还是很脏")
        session.commit()
    return incident


# --- 待立案: who sees which buttons, and who reads the resident's phone ------------------------

@pytest.mark.parametrize("who", ["safety1", "leader1"])
def test_the_routed_worker_and_the_leader_register_or_decline_first(client, world, waiting, who):
    login(client, who)
    html = page(client, waiting)
    first, folded = sections(html)
    assert first == ["register", "decline"] and "merge" in folded
    assert not {"reassign", "take", "accept"} & set(first + folded)
    assert "居民（网页）" in html and f'href="tel:{PHONE}"' in html and MASKED not in html


def test_a_colleague_who_only_sees_it_reads_the_phone_masked_and_cannot_register(client, world, waiting):
    login(client, "general1")
    html = page(client, waiting)
    first, folded = sections(html)
    assert not {"register", "decline", "merge"} & set(first + folded)
    assert MASKED in html and PHONE not in html


def test_the_api_masks_the_phone_for_anyone_but_the_handler_and_the_leaders(client, session, world, waiting):
    for user, phone in ((world.safety1, PHONE), (world.leader1, PHONE), (world.admin, PHONE),
                        (world.general1, MASKED)):
        body = client.get(f"/api/v1/incidents/{waiting.id}", headers=bearer(session, user)).get_json()
        assert (body["channel"], body["contact_phone"]) == ("resident", phone), user.username
        listed = client.get("/api/v1/incidents?status=reported", headers=bearer(session, user)).get_json()
        assert [i["contact_phone"] for i in listed["items"] if i["id"] == waiting.id] == [phone]


def test_the_register_form_offers_the_routed_worker_or_another(client, session, world, waiting):
    login(client, "leader1")
    html = page(client, waiting)
    form = html[html.index('data-action="register"'):]
    form = form[:form.index("</form>")]
    options = re.findall(r'<option value="([^"]*)">', form)
    assert options[0] == "" and "general1" in options and "safety1" not in options
    assert "平安员一（按派遣规则）" in form
    landed = post(client, f"/incidents/{waiting.id}/act",
                  {"action": "register", "assignee": "general1", "version": waiting.version}, waiting)
    assert flashed_error(landed) is None
    session.refresh(waiting)
    assert (waiting.status, waiting.assignee_id, waiting.registered_at is not None) == (
        "assigned", world.general1.id, True)


def test_register_with_the_routed_worker(client, session, world, waiting):
    login(client, "safety1")
    post(client, f"/incidents/{waiting.id}/act", {"action": "register", "assignee": ""}, waiting)
    session.refresh(waiting)
    assert (waiting.status, waiting.assignee_id) == ("assigned", world.safety1.id)


def test_decline_through_the_page_needs_a_reply_the_resident_reads(client, session, world, waiting):
    login(client, "safety1")
    landed = post(client, f"/incidents/{waiting.id}/act", {"action": "decline", "note": " "}, waiting)
    assert flashed_error(landed) and waiting.status == "reported"
    landed = post(client, f"/incidents/{waiting.id}/act", {"action": "decline", "note": "属于物业管理范围，请联系物业"},
                  waiting)
    session.refresh(waiting)
    assert (waiting.status, waiting.cancel_reason) == ("cancelled", "declined")
    event = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == waiting.id,
                                                        IncidentEvent.action == "decline")).one()
    assert event.public is True
    assert "撤销原因" in landed and '<li class="public">' in landed and "答复居民" in landed


def test_merge_through_the_page_links_the_original(client, session, world, waiting):
    original = resident_report(session).incident
    login(client, "leader1")
    landed = post(client, f"/incidents/{waiting.id}/act", {"action": "merge", "duplicate_of": "nope"}, waiting)
    assert flashed_error(landed) and "nope" in flashed_error(landed)
    landed = post(client, f"/incidents/{waiting.id}/act", {"action": "merge", "duplicate_of": original.code},
                  waiting)
    session.refresh(waiting)
    assert (waiting.status, waiting.cancel_reason, waiting.duplicate_of_id) == ("cancelled", "duplicate",
                                                                                original.id)
    assert f'href="/incidents/{original.id}" class="code duplicate-of">{original.code}</a>' in landed


def test_register_decline_and_merge_through_the_api(client, session, world):
    leader = bearer(session, world.leader1)
    one, two, three = (resident_report(session).incident for _ in range(3))
    url = "/api/v1/incidents/{}/transitions"
    response = client.post(url.format(one.id), json={"action": "register", "assignee": "general1"}, headers=leader)
    assert response.status_code == 200 and response.get_json()["assignee"] == "general1"
    assert response.get_json()["registered_at"]
    response = client.post(url.format(two.id), json={"action": "decline", "note": "不属于本镇"}, headers=leader)
    body = response.get_json()
    assert (body["status"], body["cancel_reason"], body["events"][-1]["public"]) == ("cancelled", "declined", True)
    response = client.post(url.format(three.id), json={"action": "merge", "duplicate_of": one.code}, headers=leader)
    assert (response.get_json()["cancel_reason"], response.get_json()["duplicate_of"]) == ("duplicate", one.code)
    for body, code, status in (({"action": "merge", "duplicate_of": 7}, "duplicate_of_invalid", 400),
                               ({"action": "comment", "note": "x", "public": "yes"}, "public_invalid", 400)):
        response = client.post(url.format(one.id), json=body, headers=leader)
        assert (response.status_code, error_code(response)) == (status, code)


def test_a_staff_report_has_no_registration_and_no_reply_to_a_resident(client, session, world):
    incident = report(session, world.general1, "g11")
    login(client, "safety1")
    html = page(client, incident)
    first, folded = sections(html)
    assert not {"register", "decline", "merge"} & set(first + folded)
    assert 'name="public"' not in html and "居民电话" not in html


# --- replies and photos the resident reads ------------------------------------------------------

def test_a_reply_to_the_resident_is_marked_public_and_a_note_is_not(client, session, world, waiting):
    act(session, waiting, world.safety1, "register")
    login(client, "safety1")
    html = page(client, waiting)
    assert 'name="public" value="1"' in html
    post(client, f"/incidents/{waiting.id}/act", {"action": "comment", "note": "内部：需要城建配合"}, waiting)
    post(client, f"/incidents/{waiting.id}/act", {"action": "comment", "note": "已联系城建，明天施工", "public": "1"},
         waiting)
    events = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == waiting.id,
                                                         IncidentEvent.action == "comment")
                             .order_by(IncidentEvent.id)).all()
    assert [(e.note, e.public) for e in events] == [("内部：需要城建配合", False), ("已联系城建，明天施工", True)]
    body = client.get(f"/api/v1/incidents/{waiting.id}", headers=bearer(session, world.leader1)).get_json()
    assert [e["public"] for e in body["events"] if e["action"] == "comment"] == [False, True]


def test_the_api_resolves_with_a_public_reply(client, session, world, waiting):
    act(session, waiting, world.safety1, "register")
    response = client.post(f"/api/v1/incidents/{waiting.id}/transitions", headers=bearer(session, world.safety1),
                           json={"action": "resolve", "note": "井盖已补装", "public": True})
    assert response.status_code == 200 and response.get_json()["events"][-1]["public"] is True


@pytest.mark.parametrize("who", ["safety1", "leader1"])
def test_the_handler_or_the_leader_shows_a_photo_to_the_public(client, session, world, waiting, who):
    photo = photos.add_photo(session, waiting, world.safety1, jpeg())
    session.commit()
    login(client, who)
    html = page(client, waiting)
    assert f'/incidents/{waiting.id}/photos/{photo.id}/public' in html
    landed = post(client, f"/incidents/{waiting.id}/photos/{photo.id}/public", {"public": "1"}, waiting)
    session.refresh(photo)
    assert photo.public is True and "照片已公开" in landed and 'class="badge public"' in landed
    post(client, f"/incidents/{waiting.id}/photos/{photo.id}/public", {"public": "0"}, waiting)
    session.refresh(photo)
    assert photo.public is False
    logged = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == waiting.id,
                                                         IncidentEvent.action == "photo_public")
                                  .order_by(IncidentEvent.id)).all()
    assert [e.data["public"] for e in logged] == [True, False] and not any(e.public for e in logged)


def test_anyone_else_is_refused_the_photo_toggle(client, session, world, waiting):
    photo = photos.add_photo(session, waiting, world.safety1, jpeg())
    session.commit()
    login(client, "general1")
    assert "/public\"" not in page(client, waiting)
    landed = post(client, f"/incidents/{waiting.id}/photos/{photo.id}/public", {"public": "1"}, waiting)
    assert flashed_error(landed) == "您不能对该事件执行此操作。"
    session.refresh(photo)
    assert photo.public is False


def test_the_photo_flag_through_the_api(client, session, world, waiting):
    photo = photos.add_photo(session, waiting, world.safety1, jpeg())
    other = resident_report(session).incident
    session.commit()
    url = f"/api/v1/incidents/{waiting.id}/photos/{photo.id}"
    response = client.patch(url, json={"public": True}, headers=bearer(session, world.safety1))
    assert response.status_code == 200 and response.get_json()["public"] is True
    for user, body, status, code in ((world.general1, {"public": False}, 403, "actor_not_allowed"),
                                     (world.safety1, {"public": "yes"}, 400, "public_invalid"),
                                     (world.safety1, {}, 400, "public_invalid"),
                                     (world.worker21, {"public": False}, 404, "incident_not_found")):
        response = client.patch(url, json=body, headers=bearer(session, user))
        assert (response.status_code, error_code(response)) == (status, code), user.username
    response = client.patch(f"/api/v1/incidents/{other.id}/photos/{photo.id}", json={"public": False},
                            headers=bearer(session, world.leader1))
    assert (response.status_code, error_code(response)) == (404, "photo_not_found")
    session.refresh(photo)
    assert photo.public is True
    shown = client.get(f"/api/v1/incidents/{waiting.id}", headers=bearer(session, world.leader1)).get_json()
    assert [p["public"] for p in shown["photos"]] == [True]


# --- the unsatisfied queue and the telephone 回访 ----------------------------------------------

def test_the_leader_reopens_an_unsatisfied_closure_from_its_queue(client, session, world):
    incident = closed(session, world, "unsatisfied")
    login(client, "leader1")
    listed = client.get("/incidents?queue=unsatisfied").get_data(as_text=True)
    assert "不满意" in listed and "还是很脏" in listed and "决定" in listed and incident.code in listed
    html = page(client, incident)
    first, _folded = sections(html)
    assert first == ["reopen", "confirm"] and "决定期限" in html
    post(client, f"/incidents/{incident.id}/act", {"action": "reopen", "note": "重新清理"}, incident)
    session.refresh(incident)
    assert (incident.status, incident.review) == ("reopened", "reopened")
    assert incident.code not in client.get("/incidents?queue=unsatisfied").get_data(as_text=True)


def test_the_leader_confirms_the_closure_with_a_reply_through_the_api(client, session, world):
    incident = closed(session, world, "unsatisfied")
    worker = client.post(f"/api/v1/incidents/{incident.id}/transitions", headers=bearer(session, world.safety1),
                         json={"action": "confirm", "note": "已处理"})
    assert (worker.status_code, error_code(worker)) == (403, "actor_not_allowed")
    response = client.post(f"/api/v1/incidents/{incident.id}/transitions", headers=bearer(session, world.leader1),
                           json={"action": "confirm", "note": "经核实已按标准清理"})
    body = response.get_json()
    assert (body["status"], body["review"], body["rating"], body["events"][-1]["public"]) == (
        "closed", "confirmed", "unsatisfied", True)


def test_a_worker_has_no_decision_on_an_unsatisfied_closure(client, session, world):
    incident = closed(session, world, "unsatisfied")
    login(client, "safety1")
    first, folded = sections(page(client, incident))
    assert not {"reopen", "confirm"} & set(first + folded)


@pytest.mark.parametrize("who", ["safety1", "leader1"])
def test_the_handler_or_the_leader_records_a_telephone_callback(client, session, world, who):
    incident = closed(session, world)
    login(client, who)
    html = page(client, incident)
    assert f'action="/incidents/{incident.id}/rating"' in html
    landed = post(client, f"/incidents/{incident.id}/rating", {"rating": "basically", "comment": "电话回访：基本满意"},
                  incident)
    session.refresh(incident)
    assert (incident.rating, incident.rated_via, incident.rating_comment) == ("basically", "phone", "电话回访：基本满意")
    assert "基本满意" in landed and "电话回访" in landed and f'action="/incidents/{incident.id}/rating"' not in landed


def test_a_colleague_cannot_record_the_callback(client, session, world):
    incident = closed(session, world)
    login(client, "general1")
    assert "/rating\"" not in page(client, incident)
    landed = post(client, f"/incidents/{incident.id}/rating", {"rating": "satisfied"}, incident)
    assert flashed_error(landed) == "您不能对该事件执行此操作。"
    session.refresh(incident)
    assert incident.rating is None


def test_the_telephone_callback_through_the_api(client, session, world):
    incident = closed(session, world)
    url = f"/api/v1/incidents/{incident.id}/rating"
    response = client.post(url, json={"rating": "great"}, headers=bearer(session, world.leader1))
    assert (response.status_code, error_code(response)) == (422, "rating_unknown")
    response = client.post(url, json={"rating": "unsatisfied", "comment": "还有垃圾"},
                           headers=bearer(session, world.leader1))
    assert response.status_code == 200
    assert (response.get_json()["rating"], response.get_json()["rated_via"]) == ("unsatisfied", "phone")
    again = client.post(url, json={"rating": "satisfied"}, headers=bearer(session, world.leader1))
    assert (again.status_code, error_code(again)) == (409, "already_rated")
    staff = report(session, world.general1, "g11")
    refused = client.post(f"/api/v1/incidents/{staff.id}/rating", json={"rating": "satisfied"},
                          headers=bearer(session, world.safety1))
    assert (refused.status_code, error_code(refused)) == (409, "rating_not_open")


# --- a call entered by staff (channel phone) ----------------------------------------------------

def phone_form(**changes):
    lon, lat = lonlat("g11")
    fields = {"client_uuid": str(uuid.uuid4()), "lon": f"{lon}", "lat": f"{lat}", "category": "0201",
              "description": "小区门口井盖缺失", "phone": "139-0000-2222", "name": "王阿姨"}
    return {**fields, **changes}


def test_a_phoned_in_report_waits_in_to_register_and_can_be_found_again(client, session, world, app):
    login(client, "leader1")
    html = client.get("/report/phone").get_data(as_text=True)
    assert "录入居民来电" in html and 'name="phone"' in html and 'name="category"' in html
    fields = phone_form()
    response = client.post("/report/phone", data={"csrf_token": csrf_token(client, "/report/phone"), **fields})
    assert response.status_code == 303
    incident = session.scalar(select(Incident).where(Incident.client_uuid == uuid.UUID(fields["client_uuid"])))
    assert (incident.channel, incident.status, incident.reporter_id, incident.assignee_id) == (
        "phone", "reported", world.leader1.id, world.safety1.id)
    assert (incident.contact_phone, incident.contact_name) == ("139-0000-2222", "王阿姨")
    landed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert incident.code in landed and "请向来电人读出诉求编号" in landed
    assert incident.code in client.get("/incidents?queue=to_register").get_data(as_text=True)
    token = residents.recover(session, incident.code, "13900002222", secret=app.config["SECRET_KEY"])
    assert residents.by_token(session, token).id == incident.id


def test_a_phoned_in_report_with_a_bad_number_is_refused_and_nothing_is_stored(client, session, world):
    login(client, "safety1")
    fields = phone_form(phone="call me maybe")
    response = client.post("/report/phone", data={"csrf_token": csrf_token(client, "/report/phone"), **fields})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-code="phone_invalid"' in html and "小区门口井盖缺失" in html
    assert session.scalar(select(Incident).where(Incident.client_uuid == uuid.UUID(fields["client_uuid"]))) is None


def test_a_phoned_in_report_needs_no_phone_and_the_list_offers_the_page(client, session, world):
    login(client, "safety1")
    assert "/report/phone" in client.get("/incidents").get_data(as_text=True)
    fields = phone_form(phone="", name="")
    client.post("/report/phone", data={"csrf_token": csrf_token(client, "/report/phone"), **fields})
    incident = session.scalar(select(Incident).where(Incident.client_uuid == uuid.UUID(fields["client_uuid"])))
    assert (incident.channel, incident.contact_phone, incident.tracking_hash is not None) == ("phone", None, True)


def test_the_tracking_hash_is_the_residents_one():
    client_uuid = uuid.uuid4()
    assert privacy.tracking_hash(SECRET, client_uuid) == residents.token_hash(
        residents.tracking_token(SECRET, client_uuid))


def test_the_contact_check_is_the_residents_one():
    for phone, name in (("138 0000 1111", "王"), ("", None), (None, "")):
        assert privacy.check_contact(phone, name) == residents.check_contact(phone, name)


# --- the queues and a worker's public number ----------------------------------------------------

def test_the_to_register_queue_is_named_with_its_hint(client, world, waiting):
    login(client, "safety1")
    html = client.get("/incidents?queue=to_register").get_data(as_text=True)
    assert "待立案" in html and waiting.code in html and "居民（网页）" in html
    assert 'data-queue="to_register"' in client.get("/incidents").get_data(as_text=True)


def test_the_admin_publishes_a_workers_phone_with_their_agreement(client, session, world):
    login(client, "admin")
    url = "/admin/people/safety1/phone"
    landed = post(client, url, {"phone": "", "phone_public": "1"})
    assert flashed_error(landed) and world.safety1.phone_public is False
    post(client, url, {"phone": "023-6543 2100", "phone_public": "1"})
    session.refresh(world.safety1)
    assert (world.safety1.phone, world.safety1.phone_public) == ("023-6543 2100", True)
    html = client.get("/admin/people/safety1").get_data(as_text=True)
    assert 'name="phone_public" value="1" checked' in html
    post(client, url, {"phone": "023-6543 2100"})
    session.refresh(world.safety1)
    assert world.safety1.phone_public is False


def test_the_cli_sets_a_phone_and_its_publication(cli, session, world):
    result = cli.invoke(args=["users", "phone", "safety1", "13800002222", "--public"])
    assert result.exit_code == 0, result.output
    session.refresh(world.safety1)
    assert (world.safety1.phone, world.safety1.phone_public) == ("13800002222", True)
    result = cli.invoke(args=["users", "phone", "safety1", "--private"])
    session.refresh(world.safety1)
    assert (world.safety1.phone, world.safety1.phone_public) == ("13800002222", False)
    refused = cli.invoke(args=["users", "phone", "general1", "--public"])
    assert refused.exit_code == 1 and "error phone_missing" in refused.output
    created = cli.invoke(args=["users", "create", "--username", "w9", "--role", "grid_worker", "--phone",
                               "13800003333", "--phone-public"])
    assert created.exit_code == 0, created.output


def test_the_api_never_gives_a_residents_client_uuid(client, session, world):
    """The tracking link is derived from it: anyone holding it could read and rate the resident's report."""
    waiting = resident_report(session).incident
    staff = report(session, world.safety1)
    for user in (world.leader1, world.safety1, world.admin):
        headers = bearer(session, user)
        assert client.get(f"/api/v1/incidents/{waiting.id}", headers=headers).get_json()["client_uuid"] is None
        assert client.get(f"/api/v1/incidents/{staff.id}", headers=headers).get_json()["client_uuid"] == \
            str(staff.client_uuid)


def test_a_photo_the_resident_sent_is_never_made_public(session, world):
    from gridsys.errors import Conflict
    from gridsys.people.access import scope_for
    waiting = resident_report(session).incident
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(out, "JPEG")
    theirs = photos.add_photo(session, waiting, None, out.getvalue())
    session.commit()
    with pytest.raises(Conflict) as refused:
        photos.set_public(session, waiting, world.safety1, scope_for(session, world.safety1), theirs.id, True)
    assert refused.value.code == "photo_not_publishable" and theirs.public is False
