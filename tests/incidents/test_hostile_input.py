"""Inputs found by review that used to end in 500s or leaks: each is now a stable 4xx code."""
import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from gridsys.incidents.models import IncidentEvent
from gridsys.people import services as people
from tests.incidents.helpers import bearer, csrf_token, error_code, login, new_report, report


def post_json(client, path, headers, raw: str):
    return client.post(path, data=raw, headers={**headers, "Content-Type": "application/json"})


def test_nul_in_a_login_name_is_refused_before_the_database(client, world):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "w1\x00", "password": "x", "csrf_token": token})
    assert response.status_code == 400


def test_nul_in_json_text_is_refused(client, session, world):
    body = json.dumps(vars(new_report(description="bad\x00text")), default=str)
    response = post_json(client, "/api/v1/incidents", bearer(session, world.safety1), body)
    assert (response.status_code, error_code(response)) == (400, "nul_byte")


@pytest.mark.parametrize("path", ["/api/v1/incidents/99999999999999999999",
                                  "/api/v1/incidents?page=999999999999999999",
                                  "/api/v1/incidents?category=%00"])
def test_out_of_range_and_nul_query_values_are_4xx(client, session, world, path):
    assert client.get(path, headers=bearer(session, world.admin)).status_code in (400, 404)


@pytest.mark.parametrize("body,code", [
    ('{"action": "extend", "hours": Infinity, "note": "x"}', "hours_invalid"),
    ('{"action": "extend", "hours": 1.9, "note": "x"}', "hours_invalid"),
    ('{"action": "extend", "hours": true, "note": "x"}', "hours_invalid"),
    ('{"action": "comment", "version": Infinity, "note": "x"}', "version_invalid"),
    ('{"action": "reassign", "assignee": 5}', "assignee_invalid"),
    ('{"action": "comment", "note": {"x": 1}}', "note_invalid"),
])
def test_wrongly_typed_transition_fields_are_refused(client, session, world, body, code):
    incident = report(session, world.safety1, "g11")
    response = post_json(client, f"/api/v1/incidents/{incident.id}/transitions", bearer(session, world.leader1), body)
    assert response.status_code in (400, 422) and error_code(response) == code


def test_a_huge_longitude_is_a_refusal_not_a_crash(client, session, world):
    body = json.dumps({**vars(new_report()), "lon": 10 ** 400}, default=str)
    response = post_json(client, "/api/v1/incidents", bearer(session, world.safety1), body)
    assert response.status_code in (400, 422)


def test_inbox_refuses_unicode_digits(client, session, world):
    login(client, world.leader1.username)
    response = client.post("/inbox/read", data={"id": "²", "csrf_token": csrf_token(client, "/inbox")})
    assert response.status_code == 400


def test_a_leader_whose_term_ended_no_longer_reads_about_the_area(client, session, world):
    from gridsys.people.models import AreaLeader
    from gridsys.incidents import notify
    incident = report(session, world.safety1, "g11", "0202")  # urgent: the leader is notified at once
    assert [n.incident_id for n in notify.inbox(session, world.leader1)] == [incident.id]
    term = session.scalar(select(AreaLeader).where(AreaLeader.user_id == world.leader1.id,
                                                   AreaLeader.valid_to.is_(None)))
    people.end_assignment(session, "area", term.id)
    session.commit()
    assert notify.inbox(session, world.leader1) == []
    assert notify.unread_count(session, world.leader1) == 0


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    return out.getvalue()


def test_photos_come_from_participants_and_are_in_the_audit_trail(client, session, world):
    incident = report(session, world.safety1, "g11")
    outsider = world.general1  # sees grid 1-1 as its worker, but neither handles nor reported this one
    refused = client.post(f"/api/v1/incidents/{incident.id}/photos", headers=bearer(session, outsider),
                          data={"photo": (io.BytesIO(_jpeg()), "a.jpg")}, content_type="multipart/form-data")
    assert (refused.status_code, error_code(refused)) == (403, "actor_not_allowed")
    ok = client.post(f"/api/v1/incidents/{incident.id}/photos", headers=bearer(session, world.safety1),
                     data={"photo": (io.BytesIO(_jpeg()), "a.jpg")}, content_type="multipart/form-data")
    assert ok.status_code == 201
    events = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                         IncidentEvent.action == "photo")).all()
    assert [e.data["photo_id"] for e in events] == [ok.json["id"]]
