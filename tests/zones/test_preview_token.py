"""Only the plan that was previewed is saved: a save carries the preview's token, and the API
refuses a save without one, of another shape or option, or after a neighbour changed, with the
database unchanged. Layout: tests/zones/conftest.py."""
from __future__ import annotations

import pytest
from shapely.geometry import shape
from sqlalchemy import select

from gridsys import boundaries, geo
from gridsys.apidoc import document
from gridsys.zones import redraw
from gridsys.zones.models import BoundaryRevision
from tests.factories import cell
from tests.incidents.helpers import bearer, error_code
from tests.zones.conftest import same_snapshot, snapshot, stored

REASON = "调整网格边界"


@pytest.fixture
def admin(session, staff):
    return bearer(session, staff.admin)


def url(code, preview=False):
    return f"/api/v1/grids/{code}/redraw" + ("/preview" if preview else "")


def grown(x1=6):
    return geo.to_geojson(cell(0, 0, x1, 6))


def preview(client, code, body, headers) -> dict:
    response = client.post(url(code, True), json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_save_without_a_preview_is_refused_and_writes_nothing(session, client, staff, admin):
    before = snapshot(session)
    response = client.post(url(staff.g1.code), json={"geometry": grown(), "reason": REASON}, headers=admin)
    assert (response.status_code, error_code(response)) == (422, "preview_required")
    assert response.get_json()["error"]["message"]
    assert same_snapshot(before, snapshot(session))


def test_save_of_another_shape_than_the_preview_is_refused(session, client, staff, admin):
    """The fault of issue 11: preview one outline, drag another vertex, save."""
    effect = preview(client, staff.g1.code, {"geometry": grown(6)}, admin)
    before = snapshot(session)
    response = client.post(url(staff.g1.code), json={"geometry": grown(5), "reason": REASON,
                                                     "versions": effect["versions"],
                                                     "preview_token": effect["preview_token"]}, headers=admin)
    assert (response.status_code, error_code(response)) == (409, "preview_stale")
    assert same_snapshot(before, snapshot(session))
    assert stored(session, staff.g1.code).equals(cell(0, 0, 4, 6))


def test_save_with_another_option_than_the_preview_is_refused(session, client, staff, admin):
    shrunk = geo.to_geojson(cell(0, 0, 2, 6))
    effect = preview(client, staff.g1.code, {"geometry": shrunk, "gap_policy": "neighbour"}, admin)
    before = snapshot(session)
    response = client.post(url(staff.g1.code), json={"geometry": shrunk, "gap_policy": "gap", "reason": REASON,
                                                     "preview_token": effect["preview_token"]}, headers=admin)
    assert (response.status_code, error_code(response)) == (409, "preview_stale")
    assert same_snapshot(before, snapshot(session))


def test_a_token_of_another_edit_is_refused(session, client, staff, admin):
    effect = preview(client, staff.g4.code, {"geometry": geo.to_geojson(cell(4, 5, 10, 10))}, admin)
    response = client.post(url(staff.g1.code), json={"geometry": grown(), "reason": REASON,
                                                     "preview_token": effect["preview_token"]}, headers=admin)
    assert (response.status_code, error_code(response)) == (409, "preview_stale")


def test_a_neighbour_changed_since_the_preview_is_refused_without_versions_too(session, client, staff, admin):
    effect = preview(client, staff.g1.code, {"geometry": grown()}, admin)
    other = preview(client, staff.g4.code, {"geometry": geo.to_geojson(cell(4, 5, 10, 10))}, admin)
    moved = client.post(url(staff.g4.code), json={"geometry": geo.to_geojson(cell(4, 5, 10, 10)), "reason": REASON,
                                                  "preview_token": other["preview_token"]}, headers=admin)
    assert moved.status_code == 201, moved.get_json()
    before = snapshot(session)
    response = client.post(url(staff.g1.code), json={"geometry": grown(), "reason": REASON,
                                                     "preview_token": effect["preview_token"]}, headers=admin)
    assert (response.status_code, error_code(response)) == (409, "preview_stale")
    assert same_snapshot(before, snapshot(session))


def test_save_with_the_preview_token_writes_exactly_the_previewed_change(session, client, staff, admin):
    effect = preview(client, staff.g1.code, {"geometry": grown()}, admin)
    response = client.post(url(staff.g1.code), json={"geometry": grown(), "reason": REASON,
                                                     "versions": effect["versions"],
                                                     "preview_token": effect["preview_token"]}, headers=admin)
    assert response.status_code == 201, response.get_json()
    session.expire_all()
    for code, shown in effect["geometries"].items():
        assert stored(session, code).normalize().equals_exact(shape(shown).normalize(), 1e-9)
    assert response.get_json()["changes"] == effect["changes"]
    assert len(session.scalars(select(BoundaryRevision).where(BoundaryRevision.reason == REASON)).all()) == 2


def test_the_token_names_the_plan_not_the_request(session, staff):
    """The same plan planned twice (as the save does, with its rows locked) has the same token;
    a plan of another outline has another."""
    first = boundaries.preview(session, redraw.plan_reshape(session, "grid", staff.g1.code, cell(0, 0, 6, 6)))
    again = boundaries.preview(session, redraw.plan_reshape(session, "grid", staff.g1.code, cell(0, 0, 6, 6),
                                                            lock=True))
    other = boundaries.preview(session, redraw.plan_reshape(session, "grid", staff.g1.code, cell(0, 0, 5, 6)))
    assert first["preview_token"] == again["preview_token"] != other["preview_token"]


@pytest.mark.parametrize("token", ["garbage", "0" * 63, "A" * 64, "0" * 64 + "\n", " " + "0" * 64,
                                   12345, 1.5, True, ["0" * 64], {"token": "0" * 64}])
def test_a_malformed_token_is_400(session, client, staff, admin, token):
    before = snapshot(session)
    response = client.post(url(staff.g1.code), json={"geometry": grown(), "reason": REASON,
                                                     "preview_token": token}, headers=admin)
    assert (response.status_code, error_code(response)) == (400, "preview_token_invalid")
    assert same_snapshot(before, snapshot(session))


@pytest.mark.parametrize("token", [None, ""])
def test_an_empty_token_is_a_missing_preview(client, staff, admin, token):
    response = client.post(url(staff.g1.code), json={"geometry": grown(), "reason": REASON,
                                                     "preview_token": token}, headers=admin)
    assert (response.status_code, error_code(response)) == (422, "preview_required")


def test_a_well_formed_token_of_no_preview_is_stale(session, client, staff, admin):
    before = snapshot(session)
    response = client.post(url(staff.g1.code), json={"geometry": grown(), "reason": REASON,
                                                     "preview_token": "0" * 64}, headers=admin)
    assert (response.status_code, error_code(response)) == (409, "preview_stale")
    assert same_snapshot(before, snapshot(session))


def test_the_api_document_describes_the_token(app):
    with app.app_context():
        doc = document()
    schemas = doc["components"]["schemas"]
    assert "preview_token" in schemas["EditPreview"]["required"]
    operation = doc["paths"]["/api/v1/grids/{code}/redraw"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "preview_token" in schemas[body]["required"]
    assert "preview_token" not in schemas[doc["paths"]["/api/v1/grids/{code}/redraw/preview"]["post"]
                                          ["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                                          .rsplit("/", 1)[-1]].get("required", [])
    assert "preview_required" in operation["responses"]["422"]["description"]
    assert "preview_stale" in operation["responses"]["409"]["description"]
    assert "preview_token_invalid" in operation["responses"]["400"]["description"]
