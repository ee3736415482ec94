"""Logging an incident: POST /api/v1/incidents (idempotent by client_uuid, refusals with codes)
and the phone form POST /report."""
import io
import re
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from gridsys.incidents.models import Category, Incident
from tests.incidents.helpers import bearer, count_incidents, error_code, login, lonlat

URL = "/api/v1/incidents"


def body(spot="g11", **overrides):
    lon, lat = lonlat(spot)
    return {"client_uuid": str(uuid.uuid4()), "lon": lon, "lat": lat, "category": "0201",
            "description": "路口井盖缺失，有人绊倒", **overrides}


@pytest.fixture
def reporter(session, world):
    return bearer(session, world.general1)


def test_post_creates_and_routes_with_the_contract_fields(client, world, reporter):
    response = client.post(URL, json=body(address="幸福路 12 号"), headers=reporter)
    assert response.status_code == 201, response.get_json()
    got = response.get_json()
    assert {"id", "code", "status", "grid", "area", "assignee", "due_at", "routing_reason"} <= got.keys()
    assert re.fullmatch(rf"{world.g11.code}-\d{{8}}-001", got["code"])
    assert (got["status"], got["grid"], got["area"], got["assignee"]) == (
        "assigned", world.g11.code, world.a1.code, "safety1")
    assert got["due_at"] and "safety1" in got["routing_reason"] and world.g11.code in got["routing_reason"]
    assert (got["reporter"], got["address"], got["category"]) == ("general1", "幸福路 12 号", "0201")


def test_same_client_uuid_again_returns_the_stored_incident(client, session, world, reporter):
    sent = body()
    first = client.post(URL, json=sent, headers=reporter)
    again = client.post(URL, json={**sent, "description": "重发"}, headers=reporter)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["description"] == sent["description"]
    assert count_incidents(session, client_uuid=uuid.UUID(sent["client_uuid"])) == 1


def test_client_uuid_of_another_persons_report_is_refused(client, session, world, reporter):
    sent = body()
    assert client.post(URL, json=sent, headers=reporter).status_code == 201
    response = client.post(URL, json=sent, headers=bearer(session, world.worker12))
    assert (response.status_code, error_code(response)) == (409, "client_uuid_taken")
    assert count_incidents(session) == 1


@pytest.mark.parametrize("change,status,code", [
    ({"lon": lonlat("outside")[0], "lat": lonlat("outside")[1]}, 422, "point_outside_towns"),
    ({"lon": 181.0}, 422, "coordinates_out_of_range"),
    ({"lon": None}, 422, "location_missing"),
    ({"lat": "north"}, 422, "location_missing"),
    ({"category": "9999"}, 422, "category_unknown"),
    ({"category": None}, 422, "category_unknown"),
    ({"description": None}, 422, "description_missing"),
    ({"description": "  \n "}, 422, "description_missing"),
    ({"description": "坑" * 2001}, 422, "description_too_long"),
    ({"priority": "high"}, 422, "priority_unknown"),
    ({"client_uuid": "not-a-uuid"}, 422, "client_uuid_invalid"),
    ({"client_uuid": None}, 422, "client_uuid_invalid"),
    ({"address": "路" * 201}, 422, "address_too_long"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_is_refused_with_its_code_and_nothing_is_stored(client, session, world, reporter, change,
                                                                   status, code):
    response = client.post(URL, json={**body(), **change}, headers=reporter)
    assert (response.status_code, error_code(response)) == (status, code)
    assert response.get_json()["error"]["message"]
    assert count_incidents(session) == 0


def test_missing_longitude_key_is_location_missing(client, session, world, reporter):
    sent = body()
    del sent["lon"]
    response = client.post(URL, json=sent, headers=reporter)
    assert (response.status_code, error_code(response)) == (422, "location_missing")
    assert count_incidents(session) == 0


def test_description_of_exactly_2000_characters_is_accepted(client, session, world, reporter):
    response = client.post(URL, json=body(description="坑" * 2000), headers=reporter)
    assert response.status_code == 201 and len(response.get_json()["description"]) == 2000


def test_retired_category_is_refused(client, session, world, reporter):
    session.get(Category, "0201").active = False
    session.commit()
    response = client.post(URL, json=body(), headers=reporter)
    assert (response.status_code, error_code(response)) == (422, "category_retired")
    assert count_incidents(session) == 0


@pytest.mark.parametrize("kwargs", [
    {"data": {"lon": "106.02"}},                                   # a form, not JSON
    {"data": "{not json", "content_type": "application/json"},
    {"json": ["a", "list"]},
], ids=["form", "broken-json", "json-list"])
def test_body_that_is_not_a_json_object_is_400(client, session, world, reporter, kwargs):
    response = client.post(URL, headers=reporter, **kwargs)
    assert (response.status_code, error_code(response)) == (400, "body_not_json")
    assert count_incidents(session) == 0


def test_anonymous_get_is_401(client, world):
    response = client.get(URL)
    assert (response.status_code, error_code(response)) == (401, "login_required")


def test_anonymous_post_is_401(client, session, world):
    response = client.post(URL, json=body())
    assert (response.status_code, error_code(response)) == (401, "login_required")
    assert count_incidents(session) == 0


# --- the phone form -------------------------------------------------------------------------------

def report_form(client, spot="g11", **extra):
    """What the report page's form sends, with the page's CSRF token and client_uuid."""
    html = client.get("/report").get_data(as_text=True)
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)
    csrf_token = re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)
    lon, lat = lonlat(spot)
    return {"csrf_token": csrf_token, "client_uuid": client_uuid, "lon": str(lon), "lat": str(lat),
            "category": "0201", "description": "路灯不亮", "address": "", **extra}


@pytest.fixture
def phone(client, world):
    return login(client, "general1")


def test_form_report_creates_and_redirects_to_the_incident(phone, session, world):
    form = report_form(phone)
    response = phone.post("/report", data=form, content_type="multipart/form-data")
    assert response.status_code == 303
    [incident_id] = re.fullmatch(r"/incidents/(\d+)", response.headers["Location"]).groups()
    stored = session.get_one(Incident, int(incident_id))
    assert (str(stored.client_uuid), stored.reporter.username, stored.assignee.username) == (
        form["client_uuid"], "general1", "safety1")


def test_form_double_tap_stores_one_incident(phone, session, world):
    form = report_form(phone)
    first = phone.post("/report", data=dict(form), content_type="multipart/form-data")
    second = phone.post("/report", data=dict(form), content_type="multipart/form-data")
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["Location"] == second.headers["Location"]
    assert count_incidents(session, client_uuid=uuid.UUID(form["client_uuid"])) == 1


def test_form_double_tap_with_a_photo_stores_the_photo_once(phone, session, world):
    form = report_form(phone)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(out, "JPEG")
    for _ in range(2):
        response = phone.post("/report", data={**form, "photos": (io.BytesIO(out.getvalue()), "p.jpg")},
                              content_type="multipart/form-data")
        assert response.status_code == 303
    incident = session.scalar(select(Incident).where(Incident.client_uuid == uuid.UUID(form["client_uuid"])))
    assert [(p.width, p.height) for p in incident.photos] == [(64, 48)]


def test_form_with_a_bad_photo_refuses_the_whole_report(phone, session, world):
    form = report_form(phone, photos=(io.BytesIO(b"just some text, not a picture"), "photo.jpg"))
    response = phone.post("/report", data=form, content_type="multipart/form-data")
    assert response.status_code == 415
    assert 'data-code="photo_not_image"' in response.get_data(as_text=True)
    assert count_incidents(session, client_uuid=uuid.UUID(form["client_uuid"])) == 0
    assert count_incidents(session) == 0


def test_form_refusal_keeps_what_was_typed(phone, session, world):
    form = report_form(phone, "outside", description="桥下有人")
    response = phone.post("/report", data=form, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-code="point_outside_towns"' in html
    assert "桥下有人" in html and f'value="{form["client_uuid"]}"' in html
    assert count_incidents(session) == 0
