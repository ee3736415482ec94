"""Scoped queries: the incident list, one incident, the map layer (GeoJSON) and the catalogue."""
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from gridsys.incidents import services
from gridsys.incidents.models import Category, Incident
from gridsys.people import services as people
from tests.incidents.helpers import act, bearer, error_code, lonlat, report


@pytest.fixture
def cases(session, world):
    """One incident per place: who handles it follows the usual duties of ``world``."""
    return SimpleNamespace(
        g11=report(session, world.general1, "g11", "0201"),      # safety1 handles it
        g12=report(session, world.worker12, "g12", "0101"),      # worker12
        g21=report(session, world.worker21, "g21", "0201"),      # worker21
        gap=report(session, world.worker21, "gap", "0203"),      # leader2 (area 2, no grid)
        elsewhere=report(session, world.safety1, "g22", "0101"),  # leader2; safety1 only reported it
    )


def listed(client, session, user, query="") -> list[str]:
    response = client.get(f"/api/v1/incidents{query}", headers=bearer(session, user))
    assert response.status_code == 200, response.get_json()
    return [item["code"] for item in response.get_json()["items"]]


def codes(cases, *names) -> set[str]:
    return {getattr(cases, n).code for n in names}


def close(session, world, incident):
    act(session, incident, incident.assignee, "accept")
    act(session, incident, incident.assignee, "resolve", note="已处理")
    act(session, incident, world.admin, "close")


@pytest.mark.parametrize("username,visible", [
    ("safety1", ["g11", "elsewhere"]),       # their grid, and what they reported in another area
    ("general1", ["g11"]),
    ("worker12", ["g12"]),
    ("worker21", ["g21", "gap"]),            # their grid, and the gap incident they reported
    ("leader1", ["g11", "g12"]),             # their area
    ("leader2", ["g21", "gap", "elsewhere"]),
    ("admin", ["g11", "g12", "g21", "gap", "elsewhere"]),
])
def test_list_is_scoped(client, session, world, cases, username, visible):
    assert set(listed(client, session, getattr(world, username))) == codes(cases, *visible)


def test_person_without_zones_sees_only_their_own_reports(client, session, world, cases, password_hash):
    resident, _ = people.create_user(session, "resident", roles=[], password_hash=password_hash)
    own = report(session, resident, "g21", "0101")
    assert listed(client, session, resident) == [own.code]


def test_total_counts_the_scope(client, session, world, cases):
    body = client.get("/api/v1/incidents", headers=bearer(session, world.leader2)).get_json()
    assert (body["total"], body["page"], body["page_size"]) == (3, 1, services.PAGE_SIZE)


def test_filter_by_status(client, session, world, cases):
    close(session, world, cases.g11)
    assert set(listed(client, session, world.admin, "?status=open")) == codes(cases, "g12", "g21", "gap", "elsewhere")
    assert listed(client, session, world.admin, "?status=closed") == [cases.g11.code]
    assert listed(client, session, world.admin, "?status=resolved") == []


def test_filter_by_category_and_grid(client, session, world, cases):
    assert set(listed(client, session, world.admin, "?category=0101")) == codes(cases, "g12", "elsewhere")
    assert listed(client, session, world.admin, f"?grid={world.g21.code}") == [cases.g21.code]
    assert listed(client, session, world.leader1, f"?grid={world.g21.code}") == []  # a filter never widens scope


def test_filter_overdue(client, session, world, cases):
    cases.g12.due_at = services.now() - timedelta(hours=1)
    session.commit()
    assert listed(client, session, world.admin, "?overdue=true") == [cases.g12.code]
    assert set(listed(client, session, world.admin, "?overdue=false")) == codes(cases, "g11", "g21", "gap",
                                                                                  "elsewhere")
    item = client.get(f"/api/v1/incidents/{cases.g12.id}", headers=bearer(session, world.admin)).get_json()
    assert item["overdue"] is True


def test_closed_incident_past_its_deadline_is_not_overdue(client, session, world, cases):
    close(session, world, cases.g11)
    cases.g11.due_at = services.now() - timedelta(hours=1)
    session.commit()
    assert listed(client, session, world.admin, "?overdue=true") == []


def test_filter_mine_is_what_i_handle(client, session, world, cases):
    assert listed(client, session, world.safety1, "?mine=1") == [cases.g11.code]
    assert set(listed(client, session, world.leader2, "?mine=true")) == codes(cases, "gap", "elsewhere")


@pytest.mark.parametrize("query,code", [
    ("?status=lost", "status_unknown"),
    ("?overdue=maybe", "overdue_invalid"),
    ("?page=0", "page_invalid"),
    ("?page=-1", "page_invalid"),
    ("?page=two", "page_invalid"),
])
def test_bad_filter_values_are_400(client, session, world, query, code):
    response = client.get(f"/api/v1/incidents{query}", headers=bearer(session, world.admin))
    assert (response.status_code, error_code(response)) == (400, code)


def test_open_before_closed_and_overdue_first(client, session, world, cases):
    close(session, world, cases.g11)
    cases.g21.due_at = services.now() - timedelta(minutes=5)
    session.commit()
    # then open ones by deadline: g12 and elsewhere (24 h, elsewhere reported later), gap (48 h)
    assert listed(client, session, world.admin) == [cases.g21.code, cases.g12.code, cases.elsewhere.code,
                                                    cases.gap.code, cases.g11.code]


def test_second_page(client, session, world, cases, monkeypatch):
    monkeypatch.setattr(services, "PAGE_SIZE", 2)
    first, second, third = (listed(client, session, world.admin, f"?page={n}") for n in (1, 2, 3))
    assert (len(first), len(second), len(third)) == (2, 2, 1)
    assert set(first + second + third) == codes(cases, "g11", "g12", "g21", "gap", "elsewhere")
    assert listed(client, session, world.admin, "?page=4") == []


# --- one incident ---------------------------------------------------------------------------------

def test_one_incident_in_scope_has_its_events(client, session, world, cases):
    response = client.get(f"/api/v1/incidents/{cases.g11.id}", headers=bearer(session, world.leader1))
    assert response.status_code == 200
    assert [e["action"] for e in response.get_json()["events"]][:2] == ["report", "dispatch"]


def test_incident_out_of_scope_is_the_same_404_as_a_missing_one(client, session, world, cases):
    headers = bearer(session, world.worker12)
    hidden = client.get(f"/api/v1/incidents/{cases.g21.id}", headers=headers)
    missing_id = session.scalar(select(func.max(Incident.id))) + 1000
    missing = client.get(f"/api/v1/incidents/{missing_id}", headers=headers)
    assert (hidden.status_code, error_code(hidden)) == (missing.status_code, error_code(missing)) == (
        404, "incident_not_found")
    assert cases.g21.code not in hidden.get_data(as_text=True)


def test_transition_out_of_scope_is_404(client, session, world, cases):
    response = client.post(f"/api/v1/incidents/{cases.g21.id}/transitions", json={"action": "comment", "note": "x"},
                           headers=bearer(session, world.leader1))
    assert (response.status_code, error_code(response)) == (404, "incident_not_found")


# --- GeoJSON ---------------------------------------------------------------------------------------

def geojson(client, session, user, query=""):
    response = client.get(f"/api/v1/incidents.geojson{query}", headers=bearer(session, user))
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    return json.loads(response.get_data(as_text=True))


def bbox(x0, y0, x1, y1) -> str:
    return "?bbox=" + ",".join(str(v) for v in (*lonlat((x0, y0)), *lonlat((x1, y1))))


def test_geojson_has_only_features_inside_the_bbox(client, session, world, cases):
    collection = geojson(client, session, world.admin, bbox(0, 0, 4, 4))
    assert collection["type"] == "FeatureCollection"
    [feature] = collection["features"]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
    assert feature["geometry"]["coordinates"] == pytest.approx(list(lonlat("g11")))
    props = feature["properties"]
    assert (props["code"], props["status"], props["overdue"]) == (cases.g11.code, "assigned", False)


def test_geojson_is_scoped(client, session, world, cases):
    whole_town = bbox(0, 0, 10, 10)
    assert {f["properties"]["code"] for f in geojson(client, session, world.worker12, whole_town)["features"]} == \
        codes(cases, "g12")
    assert {f["properties"]["code"] for f in geojson(client, session, world.leader2)["features"]} == \
        codes(cases, "g21", "gap", "elsewhere")


def test_geojson_marks_overdue(client, session, world, cases):
    cases.g11.due_at = services.now() - timedelta(hours=2)
    session.commit()
    [feature] = geojson(client, session, world.admin, bbox(0, 0, 4, 4))["features"]
    assert feature["properties"]["overdue"] is True


def test_geojson_of_an_empty_bbox_is_an_empty_collection(client, session, world, cases):
    assert geojson(client, session, world.admin, bbox(0, 0, 1, 1)) == {"type": "FeatureCollection", "features": []}


@pytest.mark.parametrize("value", ["1,2,3", "a,b,c,d", "106.05,29.0,106.0,29.05", "106.0,29.05,106.05,29.0",
                                   "1,2,3,4,5"])
def test_bad_bbox_is_400(client, session, world, value):
    response = client.get(f"/api/v1/incidents.geojson?bbox={value}", headers=bearer(session, world.admin))
    assert (response.status_code, error_code(response)) == (400, "bbox_invalid")


# --- catalogue ---------------------------------------------------------------------------------------

def test_categories_lists_active_ones_only(client, session, world):
    session.get(Category, "0105").active = False
    session.commit()
    response = client.get("/api/v1/categories", headers=bearer(session, world.worker12))
    listed_codes = [c["code"] for c in response.get_json()]
    active = session.scalars(select(Category.code).where(Category.active).order_by(Category.code)).all()
    assert "0105" not in listed_codes and listed_codes == active and len(active) >= 20
    first = response.get_json()[0]
    assert {"code", "name", "name_en", "duty", "deadline_hours", "priority"} <= first.keys()
