"""The one scope helper, directly and through every HTTP surface that uses it."""
import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from gridsys.errors import NotFound
from gridsys.people import access, services
from gridsys.people.access import NOBODY, Scope
from gridsys.zones.models import Area, Grid, Town
from tests.factories import cell, login, login_as, make_area, make_town, make_user


def codes(session, scope, model):
    return session.scalars(select(model.code).where(access.where(scope, model)).order_by(model.code)).all()


def visible(session, scope):
    return {m.__name__: codes(session, scope, m) for m in (Town, Area, Grid)}


def test_admin_sees_everything(session, world):
    scope = access.scope_for(session, world.admin)
    assert scope.everything
    assert visible(session, scope) == {"Town": [world.town.code], "Area": [a.code for a in world.areas],
                                       "Grid": [g.code for g in world.grids]}


def test_area_leader_sees_their_area_and_all_its_grids(session, world):
    scope = access.scope_for(session, world.leader)
    a1 = world.areas[0]
    assert visible(session, scope) == {"Town": [world.town.code], "Area": [a1.code],
                                       "Grid": [g.code for g in world.grids[:2]]}


def test_grid_worker_sees_only_their_grids(session, world):
    scope = access.scope_for(session, world.worker)
    assert visible(session, scope) == {"Town": [world.town.code], "Area": [world.areas[0].code],
                                       "Grid": [world.grids[0].code]}


def test_backup_assignment_is_in_scope_and_an_ended_one_is_not(session, world):
    w2 = make_user(session, "worker2", ["grid_worker"])
    services.assign_grid(session, w2, world.grids[3].code, "safety", backup=True)
    ended = services.assign_grid(session, w2, world.grids[2].code, "safety")
    services.end_assignment(session, "grid", ended.id)
    assert codes(session, access.scope_for(session, w2), Grid) == [world.grids[3].code]


def test_ended_leadership_leaves_the_scope(session, world):
    row = services.set_area_leader(session, world.leader, world.areas[0].code)
    services.end_assignment(session, "area", row.id)
    assert access.scope_for(session, world.leader).empty


def test_assignment_without_the_role_gives_no_scope(session, world):
    """Roles gate scope: a leader's row stops counting once the role is taken away."""
    services.set_roles(session, world.leader, ["grid_worker"])
    assert access.scope_for(session, world.leader).empty


def test_user_without_assignment_sees_nothing(session, world):
    nobody = make_user(session, "idle", ["grid_worker", "area_leader"])
    scope = access.scope_for(session, nobody)
    assert scope.empty
    assert visible(session, scope) == {"Town": [], "Area": [], "Grid": []}
    assert visible(session, access.scope_for(session, None)) == {"Town": [], "Area": [], "Grid": []}


def test_inactive_user_sees_nothing(session, world):
    services.set_active(session, world.leader, False)
    services.set_active(session, world.admin, False)
    assert access.scope_for(session, world.leader) is NOBODY
    assert access.scope_for(session, world.admin) is NOBODY


def test_town_scope_covers_the_towns_areas_and_grids(session, world):
    other = make_town(session, "500106902", cell(20, 0, 30, 10), name="别的镇")
    make_area(session, other, 1, cell(20, 0, 30, 10))
    scope = Scope(1, False, frozenset({world.town.id}), frozenset(), frozenset())
    assert visible(session, scope) == {"Town": [world.town.code], "Area": [a.code for a in world.areas],
                                       "Grid": [g.code for g in world.grids]}


def test_town_admin_row_is_recorded_and_an_admin_still_sees_every_town(session, world):
    other = make_town(session, "500106902", cell(20, 0, 30, 10), name="别的镇")
    services.add_town_admin(session, world.admin, world.town.code)
    scope = access.scope_for(session, world.admin)
    assert scope.everything
    assert codes(session, scope, Town) == [world.town.code, other.code]


def test_removing_the_admin_role_ends_the_town_scope(session, world):
    services.add_town_admin(session, world.admin, world.town.code)
    services.set_roles(session, world.admin, ["grid_worker"])
    scope = access.scope_for(session, world.admin)
    assert visible(session, scope) == {"Town": [], "Area": [], "Grid": []}


@pytest.mark.parametrize("who", ["worker", "leader"])
def test_require_out_of_scope_is_exactly_like_missing(session, world, who):
    scope = access.scope_for(session, getattr(world, who))
    assert access.require(session, scope, Grid, world.grids[0].code).code == world.grids[0].code
    with pytest.raises(NotFound) as hidden:
        access.require(session, scope, Grid, world.grids[2].code)
    with pytest.raises(NotFound) as missing:
        access.require(session, scope, Grid, "500106901009009")
    assert (hidden.value.code, hidden.value.status) == (missing.value.code, missing.value.status) == (
        "grid_not_found", 404)
    with pytest.raises(NotFound) as area:
        access.require(session, scope, Area, world.areas[1].code)
    assert area.value.code == "area_not_found"


@pytest.mark.parametrize("who", ["worker", "leader"])
def test_a_grid_scope_tests_only_the_zones_it_holds(session, world, who):
    """No subquery for the towns a leader or worker does not administer: an OR holding one is
    answered by reading every grid (issue 12: 55 ms for a leader's grids at 100 000 grids)."""
    scope = access.scope_for(session, getattr(world, who))
    assert not scope.town_ids
    sql = str(access.where(scope, Grid).compile(dialect=postgresql.dialect()))
    assert "SELECT" not in sql and "areas" not in sql, sql


# --- through HTTP ------------------------------------------------------------------------------

@pytest.mark.parametrize("who,inside,outside", [("worker", 0, 1), ("leader", 1, 2)])
def test_api_grid_in_and_out_of_scope(client, world, who, inside, outside):
    login_as(client, getattr(world, who))
    response = client.get(f"/api/v1/grids/{world.grids[inside].code}")
    assert response.status_code == 200 and response.get_json()["code"] == world.grids[inside].code
    hidden = client.get(f"/api/v1/grids/{world.grids[outside].code}")
    missing = client.get("/api/v1/grids/500106901009009")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "grid_not_found"
    assert world.grids[outside].name not in hidden.get_data(as_text=True)


def test_api_grid_lists_its_current_workers(client, world):
    login_as(client, world.leader)
    body = client.get(f"/api/v1/grids/{world.grids[0].code}").get_json()
    assert body["area"] == world.areas[0].code
    assert body["workers"] == [{"username": "worker1", "display_name": "网格员一", "duty": "general",
                                "backup": False}]
    assert body["geometry"]["type"] in ("Polygon", "MultiPolygon")


@pytest.mark.parametrize("who,expected", [("admin", [0, 1, 2, 3]), ("leader", [0, 1]), ("worker", [0])])
def test_zones_geojson_has_only_grids_in_scope(client, world, who, expected):
    login_as(client, getattr(world, who))
    response = client.get("/api/v1/zones.geojson?level=grid")
    assert response.status_code == 200
    assert [f["id"] for f in response.get_json()["features"]] == [world.grids[i].code for i in expected]


def test_zones_geojson_for_every_level_stays_in_scope(client, world):
    login_as(client, world.worker)
    features = client.get("/api/v1/zones.geojson").get_json()["features"]
    assert [f["id"] for f in features] == [world.town.code, world.areas[0].code, world.grids[0].code]


def test_zones_page_is_for_leaders_and_admins(client, app, world):
    login(client, "worker1")  # once through the real login form
    assert client.get("/zones").status_code == 403
    leader = login_as(app.test_client(), world.leader)
    response = leader.get("/zones")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert world.areas[0].code in html and world.areas[1].code not in html


@pytest.mark.parametrize("who", ["worker", "leader"])
def test_admin_pages_are_403_for_non_admins(client, world, who):
    login_as(client, getattr(world, who))
    for path in ("/admin/people", "/admin/gaps", "/admin/people/worker1"):
        assert client.get(path).status_code == 403, path


def test_admin_pages_redirect_anonymous_people_to_login(client, world):
    response = client.get("/admin/people")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/admin/people")


def test_admin_pages_open_for_an_admin(client, world):
    login_as(client, world.admin)
    assert client.get("/admin/people").status_code == 200
    assert client.get("/admin/gaps").status_code == 200
