"""The served OpenAPI document matches the app: every /api/v1 route is described, every described
path exists, and the documented contract holds for a real response."""
import re
import uuid

import pytest

from gridsys.incidents import lifecycle
from tests.incidents.helpers import bearer, lonlat

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")  # public: no credentials needed
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def app_api_routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - IGNORED_METHODS)
    return routes


def test_document_looks_like_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] and document["info"]["version"]
    assert document["paths"] and all(p.startswith("/api/v1/") for p in document["paths"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert method in {"get", "post", "put", "patch", "delete"}, (path, method)
            assert operation["responses"], (path, method)


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
    assert set(body) - {"events"} <= set(schema["properties"]), "undocumented fields in the response"
    json_types = {"integer": int, "string": str, "number": (int, float), "boolean": bool, "array": list,
                  "null": type(None), "object": dict}
    for name, value in body.items():
        declared = schema["properties"][name]["type"]
        allowed = tuple(json_types[t] for t in (declared if isinstance(declared, list) else [declared]))
        assert isinstance(value, allowed), (name, value)


def test_error_responses_have_the_documented_shape(client, session, world, document):
    response = client.post("/api/v1/incidents", headers=bearer(session, world.general1), json={"client_uuid": "x"})
    error = response.get_json()["error"]
    required = document["components"]["schemas"]["Error"]["properties"]["error"]["required"]
    assert response.status_code == 422 and set(required) <= error.keys()
    assert str(response.status_code) in document["paths"]["/api/v1/incidents"]["post"]["responses"]
