"""GET /api/v1/indicators and its drill-down over HTTP: scoped like every read, refusals with codes."""
import pytest

from tests.incidents.helpers import bearer, error_code

OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}


def test_town_figures_by_grid(client, session, world, history):
    done, late = history
    response = client.get("/api/v1/indicators", query_string={"scope": "town", "code": world.town.code,
                                                              "by": "grid", **OCTOBER}, headers=bearer(session, world.admin))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["period"] == {"from": "2026-10-01", "to": "2026-10-31"}
    assert body["indicators"]["reported"] == {"value": 2, "numerator": 2, "denominator": None}
    on_time = body["indicators"]["on_time_closure_rate"]
    assert (on_time["numerator"], on_time["denominator"], on_time["value"]) == (1, 2, 0.5)
    assert {r["key"] for r in body["rows"]} == {world.g11.code, world.g21.code}
    assert set(body["definitions"]) >= set(body["indicators"])
    late_ones = client.get("/api/v1/indicators/incidents", headers=bearer(session, world.admin), query_string={
        "scope": "town", "code": world.town.code, "indicator": "on_time_closure_rate", "part": "rest",
        "by": "grid", "key": world.g21.code, **OCTOBER}).get_json()
    assert [i["code"] for i in late_ones["items"]] == [late.code] and late_ones["next_page"] is None


def test_leader_sees_own_area_not_the_town(client, session, world, history):
    headers = bearer(session, world.leader1)
    mine = client.get("/api/v1/indicators", headers=headers,
                      query_string={"scope": "area", "code": world.a1.code, **OCTOBER})
    assert mine.status_code == 200 and mine.get_json()["indicators"]["closed"]["value"] == 1
    for scope, code, expected in (("town", world.town.code, "town_not_found"), ("area", world.a2.code, "area_not_found"),
                                  ("grid", world.g21.code, "grid_not_found"), ("person", "worker21", "person_not_found")):
        refused = client.get("/api/v1/indicators", headers=headers, query_string={"scope": scope, "code": code})
        assert refused.status_code == 404 and error_code(refused) == expected


@pytest.mark.parametrize("query, code", [
    ({"scope": "city", "code": "x"}, "scope_invalid"),
    ({"scope": "town"}, "code_required"),
    ({"scope": "town", "code": "T", "from": "2026-10-01"}, "period_invalid"),
    ({"scope": "town", "code": "T", "from": "2026-10-31", "to": "2026-10-01"}, "period_invalid"),
    ({"scope": "town", "code": "T", "from": "2025-01-01", "to": "2026-10-01"}, "period_too_long"),
    ({"scope": "town", "code": "T", "from": "2026-13-01", "to": "2026-10-01"}, "day_invalid"),
    ({"scope": "town", "code": "T", "by": "street"}, "by_invalid"),
])
def test_refusals(client, session, world, query, code):
    query = {k: (world.town.code if v == "T" else v) for k, v in query.items()}
    response = client.get("/api/v1/indicators", query_string=query, headers=bearer(session, world.admin))
    assert response.status_code == 400 and error_code(response) == code


def test_drill_refusals(client, session, world):
    base = {"scope": "town", "code": world.town.code}
    for extra, code in (({"indicator": "happiness"}, "indicator_unknown"), ({}, "indicator_unknown"),
                        ({"indicator": "closed", "part": "half"}, "part_invalid"),
                        ({"indicator": "closed", "page": "0"}, "page_invalid")):
        response = client.get("/api/v1/indicators/incidents", query_string={**base, **extra},
                              headers=bearer(session, world.admin))
        assert response.status_code == 400 and error_code(response) == code, extra


def test_login_required(client, world):
    assert client.get("/api/v1/indicators", query_string={"scope": "town", "code": world.town.code}).status_code == 401
