"""The OpenAPI document describes the field-reporting additions as they are served: routing
preview, /me, photos with their client UUID, observed_at and coords."""
import io
import uuid

import pytest
from PIL import Image

from tests.incidents.helpers import bearer, login, lonlat, report


@pytest.fixture
def schemas(client):
    return client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]


def assert_matches(schema, body):
    assert set(schema["required"]) <= body.keys()
    assert body.keys() <= schema["properties"].keys(), body.keys() - schema["properties"].keys()


def test_routing_preview_response_is_as_documented(client, session, world, schemas):
    lon, lat = lonlat("g11")
    headers = bearer(session, world.general1)
    for query in (f"lon={lon}&lat={lat}&category=0201", f"lon={lon}&lat={lat}"):
        assert_matches(schemas["RoutingPreview"], client.get(f"/api/v1/routing/preview?{query}",
                                                             headers=headers).get_json())


def test_me_response_is_as_documented(client, session, world, schemas):
    login(client, "general1")
    assert_matches(schemas["Me"], client.get("/api/v1/me").get_json())


def test_photo_response_is_as_documented(client, session, world, schemas):
    incident = report(session, world.general1, "g11")
    out = io.BytesIO()
    Image.new("RGB", (40, 30)).save(out, "JPEG")
    response = client.post(f"/api/v1/incidents/{incident.id}/photos", headers=bearer(session, world.safety1),
                           data={"photo": (io.BytesIO(out.getvalue()), "p.jpg"), "client_uuid": str(uuid.uuid4())},
                           content_type="multipart/form-data")
    assert_matches(schemas["Photo"], response.get_json())
    shown = client.get(f"/api/v1/incidents/{incident.id}", headers=bearer(session, world.safety1)).get_json()
    assert_matches(schemas["Photo"], shown["photos"][0])


def test_new_inputs_are_documented(client, schemas):
    document = client.get("/api/v1/openapi.json").get_json()
    assert {"observed_at", "coords"} <= schemas["NewIncident"]["properties"].keys()
    assert schemas["NewIncident"]["properties"]["coords"]["enum"] == ["wgs84", "gcj02"]
    for path in ("/api/v1/locate", "/api/v1/routing/preview"):
        assert "coords" in {p["name"] for p in document["paths"][path]["get"]["parameters"]}
    upload = document["paths"]["/api/v1/incidents/{incident_id}/photos"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"photo", "client_uuid"} <= schemas[form]["properties"].keys()
    assert schemas[form]["required"] == ["photo"]
    assert {"200", "201", "409"} <= upload["responses"].keys()
