"""Open311 GeoReport v2 as a standard client sees it (wiki.open311.org/GeoReport_v2): both formats
with the specification's element names, a POST read back by GET, api_key refusals, the 90-day
window and the 1 000-request limit, and nothing of a sensitive category."""
from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from gridsys.clock import now
from gridsys.incidents.models import Incident, IncidentEvent
from gridsys.residents import keys, services as residents
from tests.incidents.helpers import act, lonlat, report
from tests.residents.helpers import SECRET, resident_report

V2 = "/open311/v2"
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description"}
W3C = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)\Z")
SENSITIVE = ("0203", "0204", "0301", "0302", "0303", "0304", "0601")


@pytest.fixture
def api_key(session, world):
    _row, key = keys.create(session, "测试客户端")
    session.commit()
    return key


def xml_of(response) -> ET.Element:
    assert response.content_type == "text/xml; charset=utf-8"
    body = response.get_data()
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(body)


def json_of(response):
    assert response.content_type == "application/json; charset=utf-8"
    return response.get_json()


def as_dict(element: ET.Element) -> dict:
    return {child.tag: child.text for child in element}


def errors_of(response) -> list[tuple[int, str]]:
    """(code, the gridsys code opening the description) of each error, in either format."""
    if response.content_type.startswith("text/xml"):
        items = [as_dict(e) for e in xml_of(response).findall("error")]
        return [(int(e["code"]), e["description"].split(":")[0]) for e in items]
    return [(e["code"], e["description"].split(":")[0]) for e in json_of(response)]


def post_form(spot="g11", service_code="0101", **changes) -> dict:
    lon, lat = lonlat(spot)
    form = {"service_code": service_code, "lat": f"{lat}", "long": f"{lon}", "description": "小区门口垃圾三天没人收"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


# --- discovery and services ---------------------------------------------------------------------

def test_discovery_in_both_formats(client, world):
    body = json_of(client.get(f"{V2}/discovery.json"))
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml_of(client.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery" and root.find("endpoints/endpoint/specification").text == endpoint["specification"]
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == endpoint["formats"]


def test_services_are_the_residents_catalogue_without_sensitive_ones(client, world):
    services = json_of(client.get(f"{V2}/services.json"))
    codes = [s["service_code"] for s in services]
    assert "0101" in codes and "0201" in codes
    assert not set(SENSITIVE) & set(codes), "sensitive categories are never offered through Open311"
    assert "0205" not in codes and "0602" not in codes   # staff-only categories
    for service in services:
        assert set(service) == SERVICE_FIELDS
        assert service["type"] == "realtime" and service["metadata"] is True
    rubbish = next(s for s in services if s["service_code"] == "0101")
    assert rubbish["service_name"] == "垃圾没人清运" and rubbish["group"] == "创文工作"
    assert "12" in rubbish["description"] and "生活垃圾堆积" in rubbish["keywords"]
    english = json_of(client.get(f"{V2}/services.json?lang=en"))
    assert next(s for s in english if s["service_code"] == "0101")["service_name"] == "Rubbish not collected"
    root = xml_of(client.get(f"{V2}/services.xml"))
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    first = as_dict(root.find("service"))
    assert set(first) == SERVICE_FIELDS and first["metadata"] == "true" and first["type"] == "realtime"


def test_a_service_definition_and_unknown_or_sensitive_codes(client, world):
    body = json_of(client.get(f"{V2}/services/0101.json"))
    assert body["service_code"] == "0101"
    assert [a["code"] for a in body["attributes"]] == ["place_detail", "response_time"]
    for attribute in body["attributes"]:
        assert set(attribute) == ATTRIBUTE_FIELDS and attribute["required"] is False
    assert body["attributes"][0]["variable"] is True and body["attributes"][1]["variable"] is False
    root = xml_of(client.get(f"{V2}/services/0101.xml"))
    assert root.tag == "service_definition" and root.find("service_code").text == "0101"
    assert [a.find("code").text for a in root.findall("attributes/attribute")] == ["place_detail", "response_time"]
    for code in ("9999", "0601", "0205", "abc"):
        for fmt in ("json", "xml"):
            response = client.get(f"{V2}/services/{code}.{fmt}")
            assert response.status_code == 404
            assert errors_of(response) == [(404, "service_code_unknown")]


def test_an_unknown_jurisdiction_is_404_and_the_towns_code_is_accepted(client, world):
    assert client.get(f"{V2}/services.json?jurisdiction_id={world.town.code}").status_code == 200
    response = client.get(f"{V2}/services.xml?jurisdiction_id=sfgov.org")
    assert response.status_code == 404 and errors_of(response) == [(404, "jurisdiction_not_found")]


def test_anything_else_under_v2_is_an_open311_404(client, world):
    for path in ("/nothing.json", "/services.csv", "/requests/x/y.xml"):
        response = client.get(V2 + path)
        assert response.status_code == 404
        assert errors_of(response)[0] == (404, "not_found")


# --- posting and reading back -------------------------------------------------------------------

def test_post_then_get_round_trip_in_json(app, client, session, world, api_key):
    response = client.post(f"{V2}/requests.json", data=post_form(
        api_key=api_key, email="wang@example.com", first_name="小明", last_name="王", phone="138-0000-2222",
        media_url="https://example.com/p/1.jpg", **{"attribute[place_detail]": "3栋2单元"},
        address_string="幸福路12号", device_id="abc", account_id="42", jurisdiction_id=world.town.code))
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = json_of(response)
    assert len(answer) == 1 and set(answer[0]) == {"service_request_id", "service_notice", "account_id"}
    code = answer[0]["service_request_id"]
    assert "token" not in answer[0], "a realtime service answers with its id, not a token"
    assert "12" in answer[0]["service_notice"]

    incident = session.scalar(select(Incident).where(Incident.code == code))
    assert (incident.channel, incident.status, incident.assignee_id) == ("open311", "reported", world.general1.id)
    assert (incident.contact_phone, incident.contact_name) == ("138-0000-2222", "王小明")
    assert incident.address == "3栋2单元，幸福路12号" and incident.description == "小区门口垃圾三天没人收"
    note = session.scalar(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                      IncidentEvent.action == "comment"))
    assert note.data["media_url"] == "https://example.com/p/1.jpg" and not note.public
    token = residents.tracking_token(SECRET, incident.client_uuid)
    assert json_of(client.get(f"{V2}/tokens/{token}.json")) == [{"service_request_id": code, "token": token}]
    if "residents.track" in app.view_functions:   # the resident's private page, when the residents' pages serve it
        assert f"/t/{token}" in answer[0]["service_notice"]

    listed = json_of(client.get(f"{V2}/requests/{code}.json"))
    assert len(listed) == 1 and set(listed[0]) == REQUEST_FIELDS
    item = listed[0]
    assert (item["service_request_id"], item["status"], item["service_code"]) == (code, "open", "0101")
    assert item["service_name"] == "垃圾没人清运" and item["description"] is None
    assert W3C.match(item["requested_datetime"]) and item["requested_datetime"].endswith("+08:00")
    assert item["expected_datetime"] == (incident.due_at + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    assert item["agency_responsible"] == "测试网格1 · 测试片区1"
    lon, lat = lonlat("g11")
    assert (item["lat"], item["long"]) == (round(lat, 3), round(lon, 3))
    whole = client.get(f"{V2}/requests/{code}.json").get_data(as_text=True)
    for private in ("13800002222", "138-0000-2222", "王小明", "小明", "幸福路", "3栋2单元", "wang@example.com",
                    "三天没人收", "example.com/p/1.jpg"):
        assert private not in whole
    assert code in [r["service_request_id"] for r in json_of(client.get(f"{V2}/requests.json"))]


def test_post_then_get_in_xml(client, session, world, api_key):
    response = client.post(f"{V2}/requests.xml", data=post_form("g21", "0201", api_key=api_key))
    root = xml_of(response)
    assert root.tag == "service_requests"
    created = as_dict(root.find("request"))
    assert set(created) == {"service_request_id", "service_notice", "account_id"} and created["account_id"] is None
    code = created["service_request_id"]
    root = xml_of(client.get(f"{V2}/requests/{code}.xml"))
    requests = root.findall("request")
    assert len(requests) == 1 and set(as_dict(requests[0])) == REQUEST_FIELDS
    item = as_dict(requests[0])
    assert (item["service_request_id"], item["status"], item["service_code"]) == (code, "open", "0201")
    assert W3C.match(item["requested_datetime"]) and float(item["lat"]) == round(lonlat("g21")[1], 3)


def test_tokens_give_the_request_id_for_a_tracking_token(client, session, world):
    submitted = resident_report(session, "g11")
    for fmt in ("json", "xml"):
        response = client.get(f"{V2}/tokens/{submitted.token}.{fmt}")
        assert response.status_code == 200
        found = json_of(response)[0] if fmt == "json" else as_dict(xml_of(response).find("request"))
        assert found == {"service_request_id": submitted.incident.code, "token": submitted.token}
    response = client.get(f"{V2}/tokens/{'0' * 32}.json")
    assert response.status_code == 404 and errors_of(response) == [(404, "tracking_not_found")]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_missing_bad_or_revoked_api_key_is_403(client, session, world, api_key, fmt):
    response = client.post(f"{V2}/requests.{fmt}", data=post_form())
    assert response.status_code == 403 and errors_of(response) == [(403, "api_key_missing")]
    response = client.post(f"{V2}/requests.{fmt}", data=post_form(api_key="o311_not-a-key"))
    assert response.status_code == 403 and errors_of(response) == [(403, "api_key_invalid")]
    row = keys.verify(session, api_key)
    keys.revoke(session, row.id)
    session.commit()
    response = client.post(f"{V2}/requests.{fmt}", data=post_form(api_key=api_key))
    assert response.status_code == 403 and errors_of(response) == [(403, "api_key_invalid")]
    assert session.scalar(select(Incident.id).where(Incident.channel == "open311")) is None


def test_a_posted_request_is_refused_with_the_specifications_statuses(client, session, world, api_key):
    cases = [
        (post_form(service_code="9999"), 404, "service_code_unknown"),
        (post_form(service_code="0601"), 404, "service_code_unknown"),   # sensitive: not offered
        (post_form(service_code=None), 400, "service_code_missing"),
        (post_form(lat=None, long=None, address_string="幸福路12号"), 400, "location_not_geocoded"),
        (post_form(lat=None, long=None), 400, "location_missing"),
        (post_form("outside"), 400, "point_outside_towns"),
        (post_form(jurisdiction_id="500106999"), 404, "jurisdiction_not_found"),
        (post_form(**{"attribute[colour]": "red"}), 400, "attribute_unknown"),
        (post_form(media_url="javascript:alert(1)"), 400, "media_url_invalid"),
        (post_form(phone="call me"), 400, "phone_invalid"),
        (post_form(description="坏" * 2001), 400, "description_too_long"),
    ]
    for form, status, code in cases:
        response = client.post(f"{V2}/requests.json", data={**form, "api_key": api_key})
        assert (response.status_code, errors_of(response)) == (status, [(status, code)]), form
    assert session.scalar(select(Incident.id).where(Incident.channel == "open311")) is None


def test_a_request_without_description_gets_the_services_name(client, session, world, api_key):
    code = json_of(client.post(f"{V2}/requests.json", data=post_form(api_key=api_key, description=None)))[0][
        "service_request_id"]
    assert session.scalar(select(Incident.description).where(Incident.code == code)) == "垃圾没人清运"


# --- listing ------------------------------------------------------------------------------------

def test_the_default_window_is_the_last_90_days_and_dates_narrow_it(client, session, world):
    old = residents.submit(session, _report("g11"), secret=SECRET, at=now() - timedelta(days=100)).incident
    recent = resident_report(session, "g12").incident
    session.commit()
    listed = [r["service_request_id"] for r in json_of(client.get(f"{V2}/requests.json"))]
    assert recent.code in listed and old.code not in listed
    start = (now() - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now() - timedelta(days=95)).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = [r["service_request_id"] for r in json_of(client.get(f"{V2}/requests.json?start_date={start}"
                                                                  f"&end_date={end}"))]
    assert listed == [old.code]
    only_start = [r["service_request_id"] for r in json_of(client.get(f"{V2}/requests.json?start_date={start}"))]
    assert old.code in only_start and recent.code not in only_start   # start_date alone: 90 days from it
    too_long = client.get(f"{V2}/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z")
    assert too_long.status_code == 400 and errors_of(too_long) == [(400, "date_range_too_long")]
    reversed_ = client.get(f"{V2}/requests.xml?start_date=2026-06-01T00:00:00Z&end_date=2026-05-01T00:00:00Z")
    assert errors_of(reversed_) == [(400, "date_range_invalid")]
    assert errors_of(client.get(f"{V2}/requests.json?start_date=yesterday")) == [(400, "date_invalid")]
    # a service_request_id overrides the window
    assert [r["service_request_id"] for r in json_of(client.get(f"{V2}/requests.json?service_request_id="
                                                                f"{old.code},{recent.code}"))] == [recent.code,
                                                                                                  old.code]


def _report(spot):
    from tests.incidents.helpers import new_report
    return new_report(spot, "0101")


def test_the_default_limit_is_1000_with_page_and_page_size(client, session, world):
    seed = resident_report(session, "g11", "0101").incident
    session.execute(text("""
        INSERT INTO incidents (code, client_uuid, geom, category_code, description, priority, status, town_id,
                               area_id, grid_id, created_at, updated_at, routing, channel, due_at)
        SELECT :prefix || n, gen_random_uuid(), geom, category_code, description, priority, status, town_id,
               area_id, grid_id, created_at - n * interval '1 second', updated_at, routing, channel, due_at
        FROM incidents, generate_series(1, 1004) AS n WHERE id = :id"""), {"prefix": "BULK-", "id": seed.id})
    session.commit()
    assert len(json_of(client.get(f"{V2}/requests.json"))) == 1000
    assert len(json_of(client.get(f"{V2}/requests.json?page=2"))) == 5
    page = json_of(client.get(f"{V2}/requests.json?page_size=10&page=3"))
    assert [r["service_request_id"] for r in page] == [f"BULK-{n}" for n in range(20, 30)]
    assert errors_of(client.get(f"{V2}/requests.json?page_size=1001")) == [(400, "page_size_invalid")]
    assert len(xml_of(client.get(f"{V2}/requests.xml")).findall("request")) == 1000


def test_filters_by_service_code_and_status(client, session, world):
    rubbish = resident_report(session, "g11", "0101").incident
    safety = resident_report(session, "g11", "0201").incident
    act(session, safety, world.safety1, "decline", note="不属于本网格，请拨打12345")
    by_code = json_of(client.get(f"{V2}/requests.json?service_code=0101"))
    assert [r["service_request_id"] for r in by_code] == [rubbish.code]
    closed = json_of(client.get(f"{V2}/requests.json?status=closed"))
    assert [(r["service_request_id"], r["status"], r["status_notes"]) for r in closed] == [
        (safety.code, "closed", "不属于本网格，请拨打12345")]
    assert {r["service_request_id"] for r in json_of(client.get(f"{V2}/requests.json?status=open,closed"))} == {
        rubbish.code, safety.code}
    assert errors_of(client.get(f"{V2}/requests.json?status=pending")) == [(400, "status_unknown")]
    assert errors_of(client.get(f"{V2}/requests.json?service_code=1")) == [(400, "service_code_invalid")]


def test_sensitive_categories_and_staff_cancellations_never_appear(client, session, world):
    dispute = resident_report(session, "g11", "0203").incident          # 邻里纠纷: sensitive
    distress = resident_report(session, "g12", "0601").incident         # 心理困扰: sensitive
    act(session, distress, world.worker12, "register")
    act(session, distress, world.worker12, "resolve", note="已上门谈心", public=True)
    cancelled = report(session, world.safety1, "g11", "0101")
    act(session, cancelled, world.safety1, "cancel", note="误报")
    shown = resident_report(session, "g11", "0101").incident
    for fmt in ("json", "xml"):
        body = client.get(f"{V2}/requests.{fmt}").get_data(as_text=True)
        assert shown.code in body
        for hidden in (dispute.code, distress.code, cancelled.code, "邻里纠纷", "心理", "已上门谈心"):
            assert hidden not in body
        assert client.get(f"{V2}/requests/{dispute.code}.{fmt}").status_code == 404
    assert json_of(client.get(f"{V2}/requests.json?service_code=0203,0601")) == []
    both = json_of(client.get(f"{V2}/requests.json?service_request_id={dispute.code},{shown.code}"))
    assert [r["service_request_id"] for r in both] == [shown.code]


def test_a_merged_duplicate_is_closed_and_replies_are_masked_and_escaped(client, session, world):
    original = resident_report(session, "g11", "0101").incident
    duplicate = resident_report(session, "g11", "0101").incident
    act(session, duplicate, world.leader1, "merge", duplicate_of=original.code)
    act(session, original, world.general1, "register")
    act(session, original, world.general1, "resolve", note='已清理 <b>&"垃圾"</b>，有事打13812345678', public=True)
    body = json_of(client.get(f"{V2}/requests.json"))
    merged = next(r for r in body if r["service_request_id"] == duplicate.code)
    assert merged["status"] == "closed" and "合并" in merged["status_notes"]
    handled = next(r for r in body if r["service_request_id"] == original.code)
    assert handled["status"] == "closed" and handled["expected_datetime"] is None
    assert handled["status_notes"] == '已清理 <b>&"垃圾"</b>，有事打138****5678'
    root = xml_of(client.get(f"{V2}/requests/{original.code}.xml"))
    assert root.find("request/status_notes").text == handled["status_notes"]
    assert b"<b>" not in client.get(f"{V2}/requests/{original.code}.xml").get_data()


def test_get_answers_allow_web_clients_of_other_sites(client, world):
    response = client.get(f"{V2}/services.json")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_uuid_of_a_post_is_new_each_time(client, session, world, api_key):
    first = json_of(client.post(f"{V2}/requests.json", data=post_form(api_key=api_key)))[0]["service_request_id"]
    second = json_of(client.post(f"{V2}/requests.json", data=post_form(api_key=api_key)))[0]["service_request_id"]
    assert first != second
    uuids = session.scalars(select(Incident.client_uuid).where(Incident.code.in_((first, second)))).all()
    assert len(set(uuids)) == 2 and all(isinstance(u, uuid.UUID) for u in uuids)
    assert keys.verify(session, api_key).last_used_at is not None
    assert isinstance(keys.verify(session, api_key).last_used_at, datetime)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_method_the_spec_does_not_have_gets_the_specs_error_list(client, fmt):
    """Routing errors are raised before the blueprint's handlers: they must still be Open311's list."""
    answer = client.put(f"/open311/v2/requests.{fmt}")
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    if fmt == "json":
        assert answer.get_json()[0]["code"] == 400 and "method_not_allowed" in answer.get_json()[0]["description"]
    else:
        assert body.startswith("<?xml") and "<errors><error><code>400</code>" in body
