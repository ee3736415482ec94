"""The boundary-edit API over HTTP with bearer tokens (no CSRF): preview, save (only of the plan
previewed), refusals, access, optimistic concurrency and the revision history. Layout:
tests/zones/conftest.py."""
from __future__ import annotations

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import select

from gridsys import geo
from gridsys.incidents.models import Incident
from gridsys.people import services as people
from gridsys.zones.models import Area, BoundaryRevision, Town
from tests.factories import cell
from tests.incidents.helpers import bearer, error_code
from tests.zones.conftest import at, report, same_snapshot, snapshot, stored

REASON = "调整网格边界"


@pytest.fixture
def admin(session, staff):
    return bearer(session, staff.admin)


def grown(x1=6):
    """g1 grown east to x = x1 (into g2)."""
    return geo.to_geojson(cell(0, 0, x1, 6))


def redraw_url(code, preview=False):
    return f"/api/v1/grids/{code}/redraw" + ("/preview" if preview else "")


def save_previewed(client, url, body, headers, **extra):
    """Preview ``body``, then save it with the preview's token (and ``extra``, e.g. a reason)."""
    previewed = client.post(url + "/preview", json=body, headers=headers)
    assert previewed.status_code == 200, previewed.get_json()
    return client.post(url, json={**body, "preview_token": previewed.get_json()["preview_token"], **extra},
                       headers=headers)


def test_preview_returns_the_effect_without_writing(session, client, staff, admin):
    incident = report(session, staff.w1, 5, 3)  # in g2; g1 growing to x = 6 takes it
    before = snapshot(session)
    response = client.post(redraw_url(staff.g1.code, True), json={"geometry": grown(), "reason": REASON},
                           headers=admin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["checks"] == {"ok": True, "gap_opened_m2": 0.0, "gap_closed_m2": 0.0}
    assert {c["code"]: c["action"] for c in body["changes"]} == {staff.g1.code: "update", staff.g2.code: "update"}
    assert body["versions"] == {staff.g1.code: 1, staff.g2.code: 1}
    assert [(m["code"], m["from_grid"], m["to_grid"], m["from_handler"], m["to_handler"]) for m in body["moves"]] \
        == [(incident.code, staff.g2.code, staff.g1.code, "rd-w2", "rd-w1")]
    assert shape(body["geometries"][staff.g2.code]).equals(cell(6, 0, 10, 6))
    assert same_snapshot(before, snapshot(session))


def test_save_is_201_with_revisions_and_moves(session, client, staff, admin):
    incident = report(session, staff.w1, 5, 3)
    response = save_previewed(client, redraw_url(staff.g1.code), {"geometry": grown(), "reason": REASON}, admin)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    session.expire_all()
    revisions = session.scalars(select(BoundaryRevision).where(BoundaryRevision.id.in_(body["revisions"]))).all()
    assert sorted(r.zone_code for r in revisions) == [staff.g1.code, staff.g2.code]
    assert {(r.actor, r.reason) for r in revisions} == {("rd-admin", REASON)}
    assert [m["code"] for m in body["moves"]] == [incident.code]
    assert stored(session, staff.g1.code).equals(cell(0, 0, 6, 6))
    assert stored(session, staff.g2.code).equals(cell(6, 0, 10, 6))
    assert session.get(Incident, incident.id).assignee_id == staff.w1.id


@pytest.mark.parametrize("preview", [True, False])
def test_refusal_is_422_with_code_and_location(session, client, staff, admin, preview):
    spill = geo.to_geojson(cell(0, -1, 4, 6))  # below the area
    response = client.post(redraw_url(staff.g1.code, preview), json={"geometry": spill, "reason": REASON},
                           headers=admin)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "outside_parent" and error["message"]
    location = error["location"]
    assert len(location) == 2 and all(isinstance(v, float) for v in location)
    assert cell(0, -1, 4, 0).buffer(1e-7).covers(Point(location))
    assert stored(session, staff.g1.code).equals(cell(0, 0, 4, 6))


def test_invalid_polygon_is_422_at_the_crossing(client, staff, admin):
    bowtie = {"type": "Polygon", "coordinates": [[at(0, 0), at(4, 6), at(4, 0), at(0, 6), at(0, 0)]]}
    response = client.post(redraw_url(staff.g1.code, True), json={"geometry": bowtie}, headers=admin)
    assert (response.status_code, error_code(response)) == (422, "geometry_invalid")
    assert response.get_json()["error"]["location"] == pytest.approx(list(at(2, 3)))


@pytest.mark.parametrize("who", ["leader", "w1"])
@pytest.mark.parametrize("preview", [True, False])
def test_only_administrators_may_redraw(session, client, staff, who, preview):
    if who == "leader":
        people.set_area_leader(session, staff.leader, staff.a1.code)
    headers = bearer(session, getattr(staff, who))
    response = client.post(redraw_url(staff.g1.code, preview), json={"geometry": grown(), "reason": REASON},
                           headers=headers)
    assert (response.status_code, error_code(response)) == (403, "role_required")
    assert stored(session, staff.g1.code).equals(cell(0, 0, 4, 6))


def test_anonymous_redraw_is_401(client, staff):
    response = client.post(redraw_url(staff.g1.code), json={"geometry": grown(), "reason": REASON})
    assert (response.status_code, error_code(response)) == (401, "login_required")


@pytest.mark.parametrize("preview", [True, False])
def test_unknown_grid_is_404(client, staff, admin, preview):
    response = client.post(redraw_url(staff.a1.code + "099", preview), json={"geometry": grown(), "reason": REASON},
                           headers=admin)
    assert (response.status_code, error_code(response)) == (404, "grid_not_found")


@pytest.mark.parametrize("preview", [True, False])
def test_body_that_is_not_json_is_400(client, staff, admin, preview):
    response = client.post(redraw_url(staff.g1.code, preview), data="geometry=x", headers=admin,
                           content_type="text/plain")
    assert (response.status_code, error_code(response)) == (400, "body_not_json")


def test_save_without_a_reason_is_422_and_writes_nothing(session, client, staff, admin):
    before = snapshot(session)
    response = client.post(redraw_url(staff.g1.code), json={"geometry": grown()}, headers=admin)
    assert (response.status_code, error_code(response)) == (422, "reason_required")
    assert same_snapshot(before, snapshot(session))


def test_save_with_stale_versions_is_409(session, client, staff, admin):
    previewed = client.post(redraw_url(staff.g1.code, True), json={"geometry": grown()}, headers=admin).get_json()
    versions = previewed["versions"]
    first = save_previewed(client, redraw_url(staff.g1.code), {"geometry": grown(5)}, admin, reason=REASON,
                           versions=versions)
    assert first.status_code == 201, first.get_json()
    second = client.post(redraw_url(staff.g1.code), json={"geometry": grown(), "reason": REASON, "versions": versions,
                                                          "preview_token": previewed["preview_token"]}, headers=admin)
    assert (second.status_code, error_code(second)) == (409, "stale_boundary")
    assert stored(session, staff.g1.code).equals(cell(0, 0, 5, 6))


def test_versions_that_are_not_numbers_are_400(client, staff, admin):
    response = client.post(redraw_url(staff.g1.code), json={"geometry": grown(), "reason": REASON,
                                                            "versions": {staff.g1.code: "one"}}, headers=admin)
    assert (response.status_code, error_code(response)) == (400, "version_invalid")


def test_stale_version_of_a_neighbour_is_409_too(session, client, staff, admin):
    versions = client.post(redraw_url(staff.g1.code, True), json={"geometry": grown()}, headers=admin) \
        .get_json()["versions"]
    # Meanwhile someone grows g4 into g2 (g1 untouched): only the neighbour g2 is newer.
    moved = save_previewed(client, redraw_url(staff.g4.code), {"geometry": geo.to_geojson(cell(4, 5, 10, 10))},
                           admin, reason=REASON)
    assert moved.status_code == 201, moved.get_json()
    response = client.post(redraw_url(staff.g1.code), json={"geometry": grown(), "reason": REASON,
                                                            "versions": versions}, headers=admin)
    assert (response.status_code, error_code(response)) == (409, "stale_boundary")


def test_revisions_are_listed_newest_first(session, client, staff, admin):
    for x1 in (5, 6):
        response = save_previewed(client, redraw_url(staff.g1.code), {"geometry": grown(x1)}, admin,
                                  reason=f"到 {x1}")
        assert response.status_code == 201
    response = client.get(f"/api/v1/grids/{staff.g1.code}/revisions", headers=admin)
    assert response.status_code == 200
    rows = response.get_json()
    assert [r["reason"] for r in rows[:2]] == ["到 6", "到 5"]
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert rows[-1]["action"] == "create" and rows[-1]["old_geometry"] is None
    assert shape(rows[0]["old_geometry"]).equals(cell(0, 0, 5, 6))
    assert shape(rows[0]["new_geometry"]).equals(cell(0, 0, 6, 6))
    assert rows[0]["actor"] == "rd-admin"


def test_revisions_of_an_unknown_grid_are_404(client, staff, admin):
    response = client.get(f"/api/v1/grids/{staff.a1.code}099/revisions", headers=admin)
    assert (response.status_code, error_code(response)) == (404, "grid_not_found")


def test_revisions_need_an_administrator(session, client, staff):
    response = client.get(f"/api/v1/grids/{staff.g1.code}/revisions", headers=bearer(session, staff.w1))
    assert response.status_code == 403


# --- the other editors share the same preview/save machinery ------------------------------------

def fc(*features):
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"level": "grid", "code": code, "name": "网格"},
         "geometry": geo.to_geojson(geom)} for code, geom in features]}


EDITS = {
    "split": lambda w: (f"/api/v1/grids/{w.g2.code}/split",
                        {"line": {"type": "LineString", "coordinates": [at(8, -1), at(8, 7)]}}),
    "merge": lambda w: (f"/api/v1/grids/{w.g1.code}/merge", {"other": w.g2.code}),
    "move": lambda w: (f"/api/v1/grids/{w.g2.code}/move", {"area": w.a2.code}),
    "delete": lambda w: (f"/api/v1/grids/{w.g4.code}/delete", {}),
    "create": lambda w: (f"/api/v1/areas/{w.a1.code}/grids", {"geometry": geo.to_geojson(cell(3, 2, 9, 4)),
                                                               "name": "新网格"}),
    "batch": lambda w: (f"/api/v1/areas/{w.a1.code}/import",
                        fc((w.g1.code, cell(0, 0, 4, 10)), (w.g2.code, cell(4, 0, 10, 10)))),
}
CHANGED = {  # the last 3 digits of the grids whose shape each edit changes
    "split": {"002", "005"}, "merge": {"001", "002"}, "move": {"002"}, "delete": {"004", "002"},
    "create": {"005", "001", "002"}, "batch": {"001", "002", "003", "004"},
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_every_grid_editor_previews_then_saves(session, client, staff, admin, edit):
    people.set_area_leader(session, staff.leader, staff.a1.code)  # new grids have no workers yet
    session.commit()
    url, body = EDITS[edit](staff)
    response = client.post(url + "/preview", json=body, headers=admin)
    assert response.status_code == 200, response.get_json()
    effect = response.get_json()
    assert effect["kind"] == edit
    assert {c["code"][-3:] for c in effect["changes"] if c["level"] == "grid"} == CHANGED[edit]
    saved = client.post(url, json={**body, "reason": REASON, "versions": effect["versions"],
                                   "preview_token": effect["preview_token"]}, headers=admin)
    assert saved.status_code == 201, saved.get_json()
    assert saved.get_json()["kind"] == edit


def test_area_redraw_leaving_its_grids_outside_is_422(client, staff, admin):
    response = client.post(f"/api/v1/areas/{staff.a1.code}/redraw/preview",
                           json={"geometry": geo.to_geojson(cell(0, 0, 10, 8))}, headers=admin)
    assert (response.status_code, error_code(response)) == (422, "children_outside")
    assert cell(0, 8, 10, 10).buffer(1e-7).covers(Point(response.get_json()["error"]["location"]))


def test_town_redraw_growing_the_town_saves(session, client, staff, admin):
    body = {"geometry": geo.to_geojson(cell(0, 0, 20, 12)), "reason": REASON}
    assert save_previewed(client, f"/api/v1/towns/{staff.town.code}/redraw", body, admin).status_code == 201
    session.expire_all()
    assert stored(session, staff.town.code, Town).equals(cell(0, 0, 20, 12))
    assert stored(session, staff.a1.code, Area).equals(cell(0, 0, 10, 10))


def test_restore_through_the_api(session, client, staff, admin):
    created = session.scalars(select(BoundaryRevision.id).where(BoundaryRevision.zone_code == staff.g1.code)).one()
    assert save_previewed(client, redraw_url(staff.g1.code), {"geometry": grown(), "reason": REASON},
                          admin).status_code == 201
    body = {"revision": created, "reason": "恢复"}
    preview = client.post(f"/api/v1/grids/{staff.g1.code}/restore/preview", json=body, headers=admin)
    assert preview.status_code == 200 and preview.get_json()["kind"] == "restore"
    token = preview.get_json()["preview_token"]
    assert client.post(f"/api/v1/grids/{staff.g1.code}/restore", json={**body, "preview_token": token},
                       headers=admin).status_code == 201
    session.expire_all()
    assert stored(session, staff.g1.code).equals(cell(0, 0, 4, 6))
    assert stored(session, staff.g2.code).equals(cell(4, 0, 10, 6))


def test_restore_with_a_revision_that_is_not_a_number_is_400(client, staff, admin):
    response = client.post(f"/api/v1/grids/{staff.g1.code}/restore/preview", json={"revision": "x"}, headers=admin)
    assert (response.status_code, error_code(response)) == (400, "revision_invalid")


def test_gap_policy_from_the_body(client, staff, admin):
    body = {"geometry": geo.to_geojson(cell(0, 0, 2, 6)), "gap_policy": "gap"}
    effect = client.post(redraw_url(staff.g1.code, True), json=body, headers=admin).get_json()
    assert effect["checks"]["gap_opened_m2"] > 0 and effect["neighbours"] == []
