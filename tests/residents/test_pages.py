"""The resident's own pages over HTTP, with no account: a grid's report page, the report, the
private tracking page (public replies and photos only, nobody's name or number), 回访, the
recovery of a lost link, and the pages a wrong link or grid leads to."""
from __future__ import annotations

import io
import uuid
from datetime import timedelta

from PIL import Image
from sqlalchemy import select, update

from gridsys.incidents.models import Incident, IncidentPhoto
from gridsys.people.models import User
from gridsys.zones.models import Grid
from tests.factories import cell, make_area, make_grid, make_town
from tests.incidents.helpers import act
from tests.residents.http import (count_where, counts, open_form, refusal, send_report, token_of, visible)


def jpeg(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def csrf(client) -> str:
    return open_form(client, "/t/recover", solve=False)["csrf_token"]


def incident_of(session, token) -> Incident:
    from gridsys.residents import services
    return services.by_token(session, token)


# --- the report page ------------------------------------------------------------------------------

def test_a_grids_page_shows_its_name_notice_map_and_the_residents_kinds_of_problem(client, session, world):
    world.safety1.phone, world.safety1.phone_public = "13911112222", True
    world.general1.phone = "13933334444"   # not published
    session.commit()
    response = client.get(f"/r/{world.g11.code}")
    assert response.status_code == 200
    page, text = response.get_data(as_text=True), visible(response)
    assert "测试网格1" in text and "网格公示" in text
    assert "平安员一" in text and "平安综治" in text and "综合员一" in text
    assert "13911112222" in page and "13933334444" not in page, "a phone number only where its owner agreed"
    assert "垃圾没人清运" in text and "心理困扰，想找人聊聊" in text   # plain names of resident categories
    assert 'value="0602"' not in page, "a staff-only category is not offered"
    assert "leaflet" in page and 'id="resident-map"' in page
    assert 'name="challenge"' in page and 'name="client_uuid"' in page and 'name="csrf_token"' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert "gridsys_device=" in response.headers.get("Set-Cookie", "")
    assert "Log in" not in text and "登录" not in text, "no staff menu on a resident's page"


def test_an_unknown_or_retired_grid_is_a_not_found_page(client, session, world):
    session.execute(update(Grid).where(Grid.id == world.g22.id).values(retired_at=world.town.updated_at))
    session.commit()
    for code in ("500106901001999", world.g22.code, "abc", world.a1.code, "5001069010010011"):
        response = client.get(f"/r/{code}")
        assert response.status_code == 404, code
        assert refusal(response) == "grid_not_found"
        assert "找回查询链接" in visible(response)


def test_the_page_is_in_english_on_request(client, world):
    text = visible(client.get(f"/r/{world.g11.code}?lang=en"))
    assert "Report a problem in" in text and "Rubbish not collected" in text


# --- reporting, following, rating -------------------------------------------------------------------

def test_report_then_track_then_rate_over_http(client, session, world):
    response = send_report(client, world.g11.code, category="0201", description="小区后门有人撬锁")
    token = token_of(response)
    incident = incident_of(session, token)
    assert (incident.channel, incident.status, incident.reporter_id, incident.contact_phone) == \
        ("resident", "reported", None, "13800001111")
    assert incident.assignee_id == world.safety1.id, "routed like any report: to the grid's safety worker"

    page = client.get(f"/t/{token}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = visible(page)
    assert incident.code in text and "已收到，等待立案" in text and "治安隐患" in text
    assert "已提交：诉求编号" in text, "the flash of the report carries its code"
    assert "暂无回复" in text and "您对办理结果满意吗" not in text

    act(session, incident, world.safety1, "register")
    act(session, incident, world.safety1, "comment", note="内部备注：找物业王经理 13700009999")   # staff only
    act(session, incident, world.safety1, "accept")
    text = visible(client.get(f"/t/{token}"))
    assert "正在办理" in text and "内部备注" not in text and "王经理" not in text

    act(session, incident, world.safety1, "resolve", note="已更换门锁，如有问题请拨 023-6543 2100", public=True)
    act(session, incident, world.leader1, "close")
    page = client.get(f"/t/{token}")
    text, html = visible(page), page.get_data(as_text=True)
    assert "已办结" in text and "已更换门锁" in text
    assert "023****2100" in text and "6543" not in html, "numbers in a reply are masked"
    for person in session.scalars(select(User)):
        assert person.display_name not in html and person.username not in html, "no staff names"
    assert "13800001111" not in html, "not even the resident's own number"
    assert "您对办理结果满意吗" in text

    rated = client.post(f"/t/{token}/rate", data={"rating": "unsatisfied", "comment": "门锁还是坏的",
                                                 "csrf_token": csrf(client)})
    assert rated.status_code == 303 and rated.headers["Location"] == f"/t/{token}"
    session.refresh(incident)
    assert (incident.rating, incident.rating_comment, incident.rated_via) == ("unsatisfied", "门锁还是坏的", "web")
    text = visible(client.get(f"/t/{token}"))
    assert "不满意" in text and "门锁还是坏的" in text and "感谢您的评价" in text
    assert "您对办理结果满意吗" not in text, "rated once: the form is gone"

    again = client.post(f"/t/{token}/rate", data={"rating": "satisfied", "csrf_token": csrf(client)})
    assert again.status_code == 409 and refusal(again) == "already_rated"

    act(session, incident, world.leader1, "reopen", note="重新维修")
    assert "重新办理中" in visible(client.get(f"/t/{token}"))


def test_a_resend_of_the_same_report_is_the_same_report(client, session, world):
    same = str(uuid.uuid4())
    first = token_of(send_report(client, world.g11.code, fields={"client_uuid": same}))
    before = counts(session)
    second = token_of(send_report(client, world.g11.code, fields={"client_uuid": same}))
    assert first == second and counts(session) == before, "nothing new: no report, no attempt, no proof spent"


def test_a_refusal_keeps_what_was_typed_and_writes_nothing(client, session, world):
    before = counts(session)
    cases = {"description_missing": {"description": "  "},
             "point_outside_towns": {"spot": "outside"},
             "location_missing": {"lon": "", "lat": ""},
             "category_not_for_residents": {"category": "0602"},
             "phone_invalid": {"phone": "call me"},
             "client_uuid_invalid": {"client_uuid": "not-a-uuid"}}
    for code, change in cases.items():
        fields = {"client_uuid": change.pop("client_uuid")} if "client_uuid" in change else None
        response = send_report(client, world.g11.code, fields=fields, **change)
        assert 400 <= response.status_code < 500 and refusal(response) == code, (code, response.status_code,
                                                                                 refusal(response))
        page = response.get_data(as_text=True)
        assert 'name="challenge"' in page and "13800001111" in page or code == "phone_invalid"
        assert counts(session) == before, code
    response = send_report(client, world.g11.code, description="路灯坏了三天", phone="call me")
    assert "路灯坏了三天" in response.get_data(as_text=True) and "call me" in response.get_data(as_text=True)


def test_a_place_in_another_town_is_refused_on_this_grids_page(client, session, world):
    other = make_town(session, "500106902", geom=cell(20, 0, 30, 10), name="邻镇")
    make_grid(session, make_area(session, other, 1, cell(20, 0, 30, 10)), 1, cell(20, 0, 30, 10))
    session.commit()
    before = counts(session)
    response = send_report(client, world.g11.code, spot=(25, 5))
    assert response.status_code == 422 and refusal(response) == "point_outside_grid_town"
    assert "测试镇" in visible(response) and counts(session) == before


def test_a_place_in_another_grid_of_the_town_goes_where_routing_sends_it(client, session, world):
    incident = incident_of(session, token_of(send_report(client, world.g11.code, spot="g21")))
    assert incident.grid_id == world.g21.id and incident.assignee_id == world.worker21.id


def test_photos_are_stored_without_an_uploader_and_shown_only_once_public(client, session, world):
    photos = [(io.BytesIO(jpeg()), f"p{i}.jpg", "image/jpeg") for i in range(2)]
    token = token_of(send_report(client, world.g11.code, data={"photos": photos}))
    incident = incident_of(session, token)
    stored = session.scalars(select(IncidentPhoto).where(IncidentPhoto.incident_id == incident.id)).all()
    assert len(stored) == 2 and {p.uploaded_by for p in stored} == {None} and not any(p.public for p in stored)
    assert 'id="public-photos"' not in client.get(f"/t/{token}").get_data(as_text=True), \
        "the resident's own photos are not replayed on the link"
    for p in stored:
        assert client.get(f"/t/{token}/photos/{p.id}").status_code == 404

    stored[1].public = True
    session.commit()
    page = client.get(f"/t/{token}").get_data(as_text=True)
    assert f"/t/{token}/photos/{stored[1].id}/thumb" in page and f"/photos/{stored[0].id}" not in page
    shown = client.get(f"/t/{token}/photos/{stored[1].id}")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg" and shown.data[:2] == b"\xff\xd8"
    assert client.get(f"/t/{token}/photos/{stored[1].id}/thumb").status_code == 200
    assert client.get(f"/t/{token}/photos/{stored[1].id}/huge").status_code == 404
    other = token_of(send_report(client, world.g11.code))
    assert client.get(f"/t/{other}/photos/{stored[1].id}").status_code == 404, "only through its own link"
    assert client.get(f"/t/{'0' * 32}/photos/{stored[1].id}").status_code == 404


def test_more_than_three_photos_or_a_non_image_are_refused_whole(client, session, world):
    before = counts(session)
    four = [(io.BytesIO(jpeg()), f"p{i}.jpg", "image/jpeg") for i in range(4)]
    response = send_report(client, world.g11.code, data={"photos": four})
    assert response.status_code == 422 and refusal(response) == "resident_photos_too_many"
    assert "请重新选择照片" in visible(response)
    fake = [(io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "p.jpg", "image/jpeg")]
    response = send_report(client, world.g11.code, data={"photos": fake})
    assert response.status_code == 415 and refusal(response) == "photo_not_image"
    assert counts(session) == before


def test_a_cancelled_report_shows_the_decline_reply(client, session, world):
    token = token_of(send_report(client, world.g11.code))
    act(session, incident_of(session, token), world.safety1, "decline", note="属于供电公司职责，请拨打95598")
    text = visible(client.get(f"/t/{token}"))
    assert "不予受理" in text and "属于供电公司职责" in text and "不予受理的原因" in text


def test_the_rating_form_closes_after_the_rating_days(client, session, world):
    token = token_of(send_report(client, world.g11.code))
    incident = incident_of(session, token)
    act(session, incident, world.safety1, "register")
    act(session, incident, world.safety1, "resolve", note="已修好", public=True)
    act(session, incident, world.leader1, "close")
    incident.closed_at -= timedelta(days=8)
    session.commit()
    assert "您对办理结果满意吗" not in visible(client.get(f"/t/{token}"))
    late = client.post(f"/t/{token}/rate", data={"rating": "satisfied", "csrf_token": csrf(client)})
    assert late.status_code == 409 and refusal(late) == "rating_closed"
    assert incident.rating is None


# --- a lost link, a wrong link ----------------------------------------------------------------------

def test_a_lost_link_is_recovered_with_the_code_and_phone(client, session, world):
    token = token_of(send_report(client, world.g11.code, phone="138-0000-1111"))
    code = incident_of(session, token).code
    assert client.get("/t/recover").status_code == 200
    form = open_form(client, "/t/recover")
    found = client.post("/t/recover", data={**form, "code": code, "phone": "13800001111"})
    assert found.status_code == 303 and found.headers["Location"] == f"/t/{token}"

    form = open_form(client, "/t/recover")
    wrong = client.post("/t/recover", data={**form, "code": code, "phone": "13900000000"})
    assert wrong.status_code == 404 and refusal(wrong) == "tracking_not_recovered"
    assert code in wrong.get_data(as_text=True), "what was typed stays"
    assert count_where(session, Incident) >= 1


def test_a_wrong_tracking_link_is_a_not_found_page(client, world):
    for token in ("0" * 32, "nope", "<script>", "A" * 32):
        response = client.get(f"/t/{token}")
        assert response.status_code == 404 and refusal(response) == "tracking_not_found"
        assert "找回查询链接" in visible(response)
    response = client.post(f"/t/{'0' * 32}/rate", data={"rating": "satisfied",
                                                       "csrf_token": csrf(client)})
    assert response.status_code == 404 and refusal(response) == "tracking_not_found"


def test_the_report_page_says_what_will_be_published(client, world):
    page = client.get(f"/r/{world.g11.code}").get_data(as_text=True)
    assert "本镇会在公示页公开您诉求的以下内容" in page and "不会公开您的描述、照片、姓名和电话" in page
