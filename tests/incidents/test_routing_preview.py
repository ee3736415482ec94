"""GET /api/v1/routing/preview: where a report would go and why, decided by the same rule as
logging it (so the preview and what a following report stores never disagree); writes nothing."""
import uuid

import pytest
from sqlalchemy import func, select

from gridsys import geo
from gridsys.incidents.models import Category, Incident, IncidentCounter, IncidentEvent
from gridsys.incidents.routing import reason_text
from gridsys.people import services as people
from gridsys.people.models import TownAdmin
from tests.incidents.helpers import bearer, error_code, lonlat

URL = "/api/v1/routing/preview"


@pytest.fixture
def worker(session, world):
    return bearer(session, world.general1)


def preview(client, headers, spot=None, category="0201", lang=None, **params):
    if spot is not None:
        params["lon"], params["lat"] = lonlat(spot) if isinstance(spot, str) else spot
    if category is not None:
        params["category"] = category
    if lang:
        client.set_cookie("lang", lang)
    return client.get(URL, query_string=params, headers=headers)


def create(client, headers, spot, category="0201", **extra):
    lon, lat = lonlat(spot) if isinstance(spot, str) else spot
    response = client.post("/api/v1/incidents", headers=headers, json={
        "client_uuid": str(uuid.uuid4()), "lon": lon, "lat": lat, "category": category,
        "description": "预览后上报", **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def nothing_written(session) -> bool:
    return all(session.scalar(select(func.count()).select_from(m)) == 0
               for m in (Incident, IncidentEvent, IncidentCounter))


def assert_preview_matches_the_stored_report(session, seen: dict, created: dict):
    stored = session.get(Incident, created["id"])
    assert seen["grid"] == ({"code": stored.grid.code, "name": stored.grid.name} if stored.grid else None)
    assert seen["area"] == ({"code": stored.area.code, "name": stored.area.name} if stored.area else None)
    assert seen["town"] == {"code": stored.town.code, "name": stored.town.name}
    assert seen["assignee"] == ({"username": stored.assignee.username, "display_name": stored.assignee.display_name}
                                if stored.assignee else None)
    assert (seen["assigned_as"], seen["priority"]) == (stored.assigned_as, stored.priority)
    assert seen["reason"] == reason_text(stored.routing, "zh")
    expected_hours = (stored.due_at - stored.created_at).total_seconds() / 3600 if stored.due_at else None
    assert seen["deadline_hours"] == expected_hours


@pytest.mark.parametrize("spot,category,assignee,assigned_as", [
    ("g11", "0201", "safety1", "safety"),        # the grid's worker for the category's duty
    ("g12", "0201", "worker12", "general"),      # no safety worker on the grid: its general worker
    ("g22", "0201", "leader2", "area_leader"),   # a grid nobody works: the area leader
    ("gap", "0101", "leader2", "area_leader"),   # in the area, in no grid (属地兜底)
    ("no_area", "0101", "admin", "town_admin"),  # in the town, in no area
    ("g11", "0202", "safety1", "safety"),        # an urgent category: shorter deadline
], ids=["duty-worker", "grid-fallback", "empty-grid", "gap", "no-area", "urgent"])
def test_preview_equals_what_the_following_report_stores(client, session, world, worker, spot, category,
                                                         assignee, assigned_as):
    response = preview(client, worker, spot, category)
    assert response.status_code == 200, response.get_json()
    seen = response.get_json()
    assert (seen["assignee"]["username"], seen["assigned_as"]) == (assignee, assigned_as)
    assert nothing_written(session)
    assert_preview_matches_the_stored_report(session, seen, create(client, worker, spot, category))


def test_preview_follows_a_change_of_people_as_logging_does(client, session, world, worker):
    people.set_active(session, world.safety1, False)  # the duty worker leaves: the general worker takes it
    session.commit()
    seen = preview(client, worker, "g11").get_json()
    assert seen["assignee"]["username"] == "general1"
    assert_preview_matches_the_stored_report(session, seen, create(client, worker, "g11"))


def test_nobody_to_route_to_is_said_plainly(client, session, world, worker):
    term = session.scalar(select(TownAdmin).where(TownAdmin.user_id == world.admin.id))
    people.end_assignment(session, "town", term.id)
    session.commit()
    seen = preview(client, worker, "no_area", "0101").get_json()
    assert (seen["assignee"], seen["assigned_as"], seen["deadline_hours"]) == (None, None, None)
    assert seen["reason"] and seen["priority"] == "normal"
    assert_preview_matches_the_stored_report(session, seen, create(client, worker, "no_area", "0101"))


def test_asking_for_urgent_shortens_the_deadline_as_the_report_would(client, session, world, worker):
    seen = preview(client, worker, "g11", "0201", priority="urgent").get_json()
    assert (seen["priority"], seen["deadline_hours"]) == ("urgent", 4)
    assert_preview_matches_the_stored_report(session, seen, create(client, worker, "g11", priority="urgent"))


def test_gcj02_preview_equals_a_gcj02_report(client, session, world, worker):
    gcj = geo.wgs84_to_gcj02(*lonlat("g12"))
    seen = preview(client, worker, gcj, coords="gcj02").get_json()
    assert seen["grid"]["code"] == world.g12.code
    assert_preview_matches_the_stored_report(session, seen, create(client, worker, gcj, coords="gcj02"))


def test_without_a_category_only_the_place(client, session, world, worker):
    seen = preview(client, worker, "gap", category=None).get_json()
    assert seen == {"grid": None, "area": {"code": world.a2.code, "name": world.a2.name},
                    "town": {"code": world.town.code, "name": world.town.name}, "assignee": None,
                    "assigned_as": None, "reason": None, "priority": None, "deadline_hours": None}
    assert preview(client, worker, "g11", category="").get_json()["grid"]["code"] == world.g11.code


def test_reason_is_in_the_requests_language(client, session, world, worker):
    assert "派给 safety1" in preview(client, worker, "g11").get_json()["reason"]
    english = preview(client, worker, "g11", lang="en").get_json()["reason"]
    assert english == f"routed to safety1 as Safety & order worker of grid {world.g11.code}"  # the duty's one name


@pytest.mark.parametrize("params,status,code", [
    ({"lat": 29.02}, 422, "location_missing"),
    ({"lon": "east", "lat": 29.02}, 422, "location_missing"),
    ({"lon": "", "lat": ""}, 422, "location_missing"),
    ({"lon": "106.02", "lat": "nan"}, 422, "coordinates_invalid"),
    ({"lon": "1e400", "lat": "29.02"}, 422, "coordinates_invalid"),
    ({"lon": "181", "lat": "29.02"}, 422, "coordinates_out_of_range"),
    ({"spot": "outside"}, 422, "point_outside_towns"),
    ({"spot": "g11", "category": "9999"}, 422, "category_unknown"),
    ({"spot": "g11", "category": "9" * 100_000}, 422, "category_unknown"),
    ({"spot": "g11", "coords": "bd09"}, 400, "coords_unknown"),
    ({"spot": "g11", "coords": "GCJ02"}, 400, "coords_unknown"),
    ({"spot": "g11", "priority": "high"}, 422, "priority_unknown"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_refusals_are_those_of_logging(client, session, world, worker, params, status, code):
    params = dict(params)
    spot = params.pop("spot", None)
    category = params.pop("category", "0201")
    response = preview(client, worker, spot, category, **params)
    assert (response.status_code, error_code(response)) == (status, code)
    assert 0 < len(response.get_json()["error"]["message"]) < 400
    assert nothing_written(session)


def test_retired_category_is_refused(client, session, world, worker):
    session.get(Category, "0201").active = False
    session.commit()
    response = preview(client, worker, "g11", "0201")
    assert (response.status_code, error_code(response)) == (422, "category_retired")


def test_nul_is_refused_at_the_door(client, world, worker):
    response = client.get(URL + "?lon=106.02&lat=29.02&category=02%0001", headers=worker)
    assert (response.status_code, error_code(response)) == (400, "nul_byte")


def test_login_required(client, session, world):
    response = preview(client, {}, "g11")
    assert (response.status_code, error_code(response)) == (401, "login_required")


def test_any_staff_may_preview_any_point(client, session, world):
    """A worker of grid 2-1 may ask about grid 1-1: it names only the person the report would reach."""
    seen = preview(client, bearer(session, world.worker21), "g11").get_json()
    assert seen["assignee"] == {"username": "safety1", "display_name": "平安员一"}
    assert set(seen["assignee"]) == {"username", "display_name"}  # no phone number or other details
