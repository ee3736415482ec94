"""The served OpenAPI document (generated from the schemas of each domain) matches the app: every
/api/v1 route is described, every described path exists, every operation has an operationId, tags and
its refusals, and the documented contract holds for real responses."""
import re
import uuid

import jsonschema_rs
import pytest

from gridsys.incidents import lifecycle
from tests.incidents.helpers import bearer, lonlat, report

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")  # public: no credentials needed
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def app_api_routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") or rule.rule == "/healthz":
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - IGNORED_METHODS)
    return routes


def test_document_looks_like_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] and document["info"]["version"]
    assert document["paths"] and all(p.startswith("/api/v1/") or p == "/healthz" for p in document["paths"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert method in {"get", "post", "put", "patch", "delete"}, (path, method)
            assert operation["responses"], (path, method)


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def conforms(document, name, body) -> list[str]:
    """Errors of ``body`` against the component schema ``name`` of the served document."""
    validator = jsonschema_rs.Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                                    "components": document["components"]})
    return [str(e) for e in validator.iter_errors(body)]


def test_every_operation_has_a_unique_operation_id_and_tags(document):
    ids = [op["operationId"] for _path, _method, op in operations(document)]
    assert len(ids) == len(set(ids)) and all(ids)
    for path, method, op in operations(document):
        assert op["tags"] and op["summary"], (path, method)
        assert not re.search(r"<(GET|POST)>", op["summary"]), (path, method, "summary from a docstring, not a name")


def test_every_refusal_is_documented_with_the_error_body_and_its_codes(document):
    for path, method, op in operations(document):
        public = op.get("security") == []
        assert public or {"401", "403"} <= op["responses"].keys(), (path, method)
        for status, response in op["responses"].items():
            if "400" <= status < "500":
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                assert "`error.code` is one of: " in response["description"], (path, method, status)


def test_incident_filters_are_all_documented(document):
    for path in ("/api/v1/incidents", "/api/v1/incidents.geojson", "/api/v1/incidents.csv"):
        names = {p["name"] for p in document["paths"][path]["get"]["parameters"]}
        assert {"status", "category", "duty", "grid", "overdue", "escalated", "since", "mine"} <= names, path


def test_geometry_refusals_may_carry_a_null_location(document):
    error = {"error": {"code": "split_line_invalid", "message": "…", "location": None}}
    assert conforms(document, "Error", error) == []
    assert conforms(document, "Error", {"error": {"code": "x", "message": "y", "location": [104.5, 29.5]}}) == []


def test_every_api_route_is_documented_with_its_methods(app, document):
    documented = {path: set(ops) for path, ops in document["paths"].items()}
    routes = app_api_routes(app)
    assert routes  # the app has API routes to compare
    for path, methods in routes.items():
        assert path in documented, f"{path} is served but not in the OpenAPI document"
        assert methods == documented[path], path


def test_every_documented_path_exists(app, document):
    routes = app_api_routes(app)
    for path, operations in document["paths"].items():
        assert path in routes, f"{path} is documented but not served"
        assert set(operations) <= routes[path], path


def test_path_parameters_are_declared(document):
    for path, operations in document["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, method)


def test_references_resolve(document):
    text = repr(document)
    for ref in set(re.findall(r"#/components/(\w+)/(\w+)", text)):
        assert ref[1] in document["components"][ref[0]], ref


def test_documented_transition_actions_are_the_real_ones(document):
    documented = document["components"]["schemas"]["Transition"]["properties"]["action"]["enum"]
    assert set(documented) == set(lifecycle.ACTIONS)


def test_created_incident_has_the_documented_required_fields(client, session, world, document):
    lon, lat = lonlat("g11")
    response = client.post("/api/v1/incidents", headers=bearer(session, world.general1), json={
        "client_uuid": str(uuid.uuid4()), "lon": lon, "lat": lat, "category": "0201", "description": "井盖缺失"})
    assert response.status_code == 201
    schema = document["components"]["schemas"]["Incident"]
    body = response.get_json()
    assert set(schema["required"]) <= body.keys()
    assert set(body) <= set(schema["properties"]), "undocumented fields in the response"
    assert conforms(document, "Incident", body) == []
    shown = client.get(f"/api/v1/incidents/{body['id']}", headers=bearer(session, world.general1)).get_json()
    assert conforms(document, "Incident", shown) == [] and shown["events"]
    assert shown["assignee"] == world.safety1.username  # the username, as documented


def test_error_responses_have_the_documented_shape(client, session, world, document):
    response = client.post("/api/v1/incidents", headers=bearer(session, world.general1), json={"client_uuid": "x"})
    required = document["components"]["schemas"]["ErrorDetail"]["required"]
    assert response.status_code == 422 and set(required) <= response.get_json()["error"].keys()
    assert conforms(document, "Error", response.get_json()) == []
    assert str(response.status_code) in document["paths"]["/api/v1/incidents"]["post"]["responses"]


def test_a_whole_number_sent_as_a_float_is_taken_as_the_document_says(client, session, world):
    """JSON Schema's integer includes 3.0 (JSON does not tell them apart): what the document allows,
    the code takes; a fraction stays refused."""
    incident = report(session, world.general1, "g11")
    headers = bearer(session, world.safety1)
    late = client.post(f"/api/v1/incidents/{incident.id}/transitions", headers=headers,
                       json={"action": "comment", "note": "到场", "version": incident.version + 0.5})
    assert late.status_code == 400 and late.get_json()["error"]["code"] == "version_invalid"
    response = client.post(f"/api/v1/incidents/{incident.id}/transitions", headers=headers,
                           json={"action": "comment", "note": "到场", "version": float(incident.version)})
    assert response.status_code == 200, response.get_json()
