"""The 500s of issue 13's hostile-input run, each a clean 4xx (or CLI `error <code>`) that
changes nothing: JSON nested too deep (the whole body, or deep inside one value; the incident
API and the redraw API), lone surrogates and NUL characters in text (also when the body is sent
chunked, without a length), query strings that reached url_for, and the zones import."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from gridsys.incidents.models import Incident
from gridsys.zones.models import Grid
from tests.factories import make_user

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def admin(session, catalogue):
    user = make_user(session, "entrance-admin", ["admin"])
    session.commit()
    return user


@pytest.fixture
def api(client, session, admin):
    from gridsys.people import services as people
    _row, token = people.create_token(session, admin, "tests")
    session.commit()
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def code_of(response):
    return (response.get_json(silent=True) or {}).get("error", {}).get("code")


def nested(depth: int) -> str:
    return "[" * depth + '"x"' + "]" * depth


BODIES = {
    "deep body": DEEP,
    "deep value": '{"client_uuid": "7b1f9d9e-6a57-4e57-9a3c-2b7f5d1c0a11", "lon": 106.3, "lat": 29.6, '
                  '"category": "0101", "description": ' + nested(2000) + "}",
    "lone surrogate": '{"client_uuid": "7b1f9d9e-6a57-4e57-9a3c-2b7f5d1c0a11", "lon": 106.3, "lat": 29.6, '
                      '"category": "0101", "description": "bad\\udfff"}',
    "surrogate in a key": '{"bad\\ud800": 1}',
    "escaped NUL": '{"client_uuid": "7b1f9d9e-6a57-4e57-9a3c-2b7f5d1c0a11", "lon": 106.3, "lat": 29.6, '
                   '"category": "0101", "description": "a\\u0000b"}',
}
CODES = {"deep body": "json_too_deep", "deep value": "json_too_deep", "lone surrogate": "text_invalid",
         "surrogate in a key": "text_invalid", "escaped NUL": "nul_byte"}


@pytest.mark.parametrize("name", sorted(BODIES))
@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_hostile_json_is_a_400_and_stores_nothing(client, session, api, name, chunked):
    body = BODIES[name].encode()
    if chunked:   # no Content-Length: the body ends where the stream ends (as waitress hands it over)
        response = client.post("/api/v1/incidents", headers={**api, "Transfer-Encoding": "chunked"},
                               input_stream=io.BytesIO(body), environ_overrides={"wsgi.input_terminated": True})
    else:
        response = client.post("/api/v1/incidents", headers=api, data=body)
    assert (response.status_code, code_of(response)) == (400, CODES[name])
    assert session.scalar(select(func.count()).select_from(Incident)) == 0


@pytest.mark.parametrize("name", ["deep body", "deep value", "lone surrogate"])
def test_the_redraw_api_refuses_the_same(client, session, api, name):
    body = BODIES[name].replace('"description"', '"geometry"').encode()
    response = client.post("/api/v1/grids/500106110001001/redraw/preview", headers=api, data=body)
    assert response.status_code == 400 and code_of(response) in ("json_too_deep", "text_invalid")


@pytest.mark.parametrize("query", ["endpoint=x", "_method=POST", "_external=1", "_anchor=x", "_scheme=javascript",
                                   "page=2&endpoint=x", "status=open&_external=1&_scheme=ftp"])
def test_query_strings_never_reach_url_for(client, session, admin, query):
    from tests.factories import login_as
    login_as(client, admin)
    response = client.get(f"/incidents?{query}")
    assert response.status_code in (200, 400)
    html = response.get_data(as_text=True)
    # No absolute link built from the request's Host, no other scheme, no anchor smuggled in.
    assert 'href="http' not in html and "javascript:" not in html and "ftp:" not in html and "#x" not in html


@pytest.mark.parametrize("feature_props, code", [
    ({"name": "a\u0000b"}, "nul_byte"),
    ({"name": "bad\udfff"}, "text_invalid"),
])
def test_zones_import_refuses_bad_text_with_an_error_code(cli, session, tmp_path, feature_props, code):
    feature = {"type": "Feature", "properties": {"level": "town", "code": "500106901", "name": "x", **feature_props},
               "geometry": {"type": "Polygon", "coordinates": [[[106, 29], [106.1, 29], [106.1, 29.1], [106, 29]]]}}
    path = tmp_path / "zones.geojson"
    path.write_bytes(json.dumps({"type": "FeatureCollection", "features": [feature]}).encode())
    result = cli.invoke(args=["zones", "import", str(path)])
    assert result.exit_code != 0 and f"error {code}" in result.output, result.output
    assert "Traceback" not in result.output
    assert session.scalar(select(func.count()).select_from(Grid)) == 0


def test_zones_import_refuses_deep_nesting(cli, session, tmp_path):
    path = tmp_path / "deep.geojson"
    path.write_text('{"type": "FeatureCollection", "features": ' + DEEP + "}")
    result = cli.invoke(args=["zones", "import", str(path)])
    assert result.exit_code != 0 and "error json_too_deep" in result.output, result.output


# --- leniency (issue 13): what was accepted and should not be ---------------------------------

INVISIBLE = ["\u200b\u200c\u200d\ufeff", "\u3164", "\u3164\u3164 \u200b", "\u2800", " \t\n", "\u115f\u1160"]


@pytest.mark.parametrize("text", INVISIBLE)
def test_a_description_of_only_invisible_characters_is_missing(client, session, api, text):
    response = client.post("/api/v1/incidents", headers=api, json={
        "client_uuid": "7b1f9d9e-6a57-4e57-9a3c-2b7f5d1c0a11", "lon": 106.3, "lat": 29.6, "category": "0101",
        "description": text})
    assert code_of(response) in ("description_missing", "point_outside_towns")
    assert response.status_code == 422
    from gridsys.incidents import services
    with pytest.raises(Exception) as refused:
        services.check_new(session, services.NewIncident(
            client_uuid="7b1f9d9e-6a57-4e57-9a3c-2b7f5d1c0a11", lon=106.3, lat=29.6, category="0101",
            description=text))
    assert getattr(refused.value, "code", None) in ("description_missing", "category_unknown")


@pytest.mark.parametrize("value", [True, False, "1_06.3", "1e2", "NaN", "Infinity", " 106.3", "106,3", "0x6A",
                                   [106.3], {"v": 1}, ""])
def test_a_coordinate_is_a_number_not_anything_float_reads(session, catalogue, value):
    from gridsys.errors import GridsysError
    from gridsys.incidents import services
    with pytest.raises(GridsysError) as refused:
        services.parse_location(value, 29.6, None)
    assert refused.value.code in ("location_missing", "coordinates_invalid")
    assert services.parse_location("106.3185", "29.6295", None) == (106.3185, 29.6295), "form text still reads"


def test_a_geojson_naming_another_crs_is_refused(cli, session, tmp_path):
    feature = {"type": "Feature", "properties": {"level": "town", "code": "500106901", "name": "x"},
               "geometry": {"type": "Polygon", "coordinates": [[[106, 29], [106.1, 29], [106.1, 29.1], [106, 29]]]}}
    collection = {"type": "FeatureCollection", "features": [feature],
                  "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}}
    path = tmp_path / "mercator.geojson"
    path.write_text(json.dumps(collection))
    result = cli.invoke(args=["zones", "import", str(path)])
    assert "error crs_unsupported" in result.output, result.output
    collection["crs"]["properties"]["name"] = "urn:ogc:def:crs:OGC:1.3:CRS84"   # WGS 84 named: fine
    path.write_text(json.dumps(collection))
    assert cli.invoke(args=["zones", "import", str(path)]).exit_code == 0


def test_a_shape_with_too_many_vertices_is_refused_before_any_geometry_work():
    import math
    import time
    from gridsys import geo
    n = 300_000
    ring = [[106 + 0.01 * math.cos(2 * math.pi * i / n), 29 + 0.01 * math.sin(2 * math.pi * i / n)] for i in range(n)]
    ring.append(ring[0])
    started = time.perf_counter()
    with pytest.raises(geo.GeometryError) as refused:
        geo.parse_geometry({"type": "Polygon", "coordinates": [ring]}, "Polygon")
    assert refused.value.code == "geometry_too_complex" and time.perf_counter() - started < 1
