"""Boundary edit API (administrators): every edit has a /preview twin that writes nothing.

The map editor uses these endpoints too. A save must carry the ``preview_token`` its preview
answered and is refused unless it is exactly that plan (422 preview_required, 409 preview_stale).
Refusals are 422 {"error": {"code", "message", "location"}}; a stale edit (someone saved first)
is 409 stale_boundary.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from . import boundaries, db, geo
from .apidoc import operation
from .errors import GridsysError
from .inputs import whole_number
from .people import auth
from .zones import redraw, schemas
from .zones.models import BoundaryRevision, Grid

bp = Blueprint("redraw_api", __name__)
admin_only = auth.login_required(roles=("admin",))


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise GridsysError("body_not_json", "send a JSON object with Content-Type: application/json", status=400)
    return body


def _run(make_plan, preview_only: bool):
    """Plan (rows locked when saving), then preview or save in this request's transaction."""
    body = _body()
    session = db.session()
    plan = make_plan(body, not preview_only)
    if preview_only:
        effect = boundaries.preview(session, plan)
        session.rollback()
        return jsonify(effect)
    result = boundaries.save(session, plan, actor=auth.current_user().username, reason=body.get("reason"),
                             expected_versions=body.get("versions") if isinstance(body.get("versions"), dict)
                             else None, preview_token=body.get("preview_token"), require_preview=True)
    session.commit()
    return jsonify(result), 201


def _edit_routes(rule: str, endpoint: str, make_plan, body, summary: str):
    def preview_view(**kwargs):
        return _run(lambda body, lock: make_plan(body, lock, **kwargs), True)

    def save_view(**kwargs):
        return _run(lambda body, lock: make_plan(body, lock, **kwargs), False)

    preview_view.__doc__ = f"{summary}: preview, writes nothing"
    save_view.__doc__ = f"{summary}: save, in one transaction"
    name = "".join(part.title() for part in endpoint.split("_"))
    preview = operation(f"preview{name}", "boundaries", schemas.EditPreview, json=body,
                        errors=schemas.EDIT_ERRORS)(admin_only(preview_view))
    save = operation(f"save{name}", "boundaries", (schemas.EditSaved, "Saved"), status=201,
                     json=schemas.saving(body),
                     errors=schemas.SAVE_ERRORS)(admin_only(save_view))
    bp.add_url_rule(rule + "/preview", endpoint + "_preview", preview, methods=["POST"])
    bp.add_url_rule(rule, endpoint, save, methods=["POST"])


def _gap_policy(body) -> str:
    return body.get("gap_policy") or "neighbour"


_edit_routes("/api/v1/grids/<code>/redraw", "grid_redraw", lambda body, lock, code: redraw.plan_reshape(
    db.session(), "grid", code, body.get("geometry"), gap_policy=_gap_policy(body), lock=lock),
    schemas.Reshape, "Reshape a grid; its neighbours give up or take the difference")
_edit_routes("/api/v1/grids/<code>/split", "grid_split", lambda body, lock, code: redraw.plan_split(
    db.session(), code, body.get("line") or {}, name=body.get("name"), lock=lock),
    schemas.Split, "Split a grid by a line into two grids")
_edit_routes("/api/v1/grids/<code>/merge", "grid_merge", lambda body, lock, code: redraw.plan_merge(
    db.session(), code, str(body.get("other") or ""), lock=lock),
    schemas.Merge, "Merge with an adjacent grid of the same area (the lower code survives)")
_edit_routes("/api/v1/grids/<code>/move", "grid_move", lambda body, lock, code: redraw.plan_move(
    db.session(), code, str(body.get("area") or ""), lock=lock),
    schemas.Move, "Move the grid to an adjacent area of the same town (renumbered)")
_edit_routes("/api/v1/grids/<code>/delete", "grid_delete", lambda body, lock, code: redraw.plan_delete(
    db.session(), code, gap_policy=_gap_policy(body), lock=lock),
    schemas.Delete, "Retire the grid; its ground goes to a neighbour or stays a gap")
_edit_routes("/api/v1/grids/<code>/restore", "grid_restore", lambda body, lock, code: redraw.plan_restore(
    db.session(), code, _int(body.get("revision")), gap_policy=_gap_policy(body), lock=lock),
    schemas.Restore, "Bring back the shape of a revision")
_edit_routes("/api/v1/areas/<code>/grids", "area_new_grid", lambda body, lock, code: redraw.plan_create(
    db.session(), code, body.get("geometry"), body.get("name"), lock=lock),
    schemas.NewGrid, "Draw a new grid in the area")
_edit_routes("/api/v1/areas/<code>/import", "area_import", lambda body, lock, code: redraw.plan_batch(
    db.session(), code, body.get("features_collection") or body, lock=lock),
    schemas.BatchImport, "Replace the area's grids with a FeatureCollection (batch redraw)")
_edit_routes("/api/v1/areas/<code>/redraw", "area_redraw", lambda body, lock, code: redraw.plan_reshape(
    db.session(), "area", code, body.get("geometry"), gap_policy=_gap_policy(body), lock=lock),
    schemas.Reshape, "Reshape an area; its grids must stay inside")
_edit_routes("/api/v1/towns/<code>/redraw", "town_redraw", lambda body, lock, code: redraw.plan_reshape(
    db.session(), "town", code, body.get("geometry"), gap_policy="gap", lock=lock),
    schemas.TownReshape, "Reshape a town; its areas must stay inside")


def _int(value) -> int:
    return whole_number(value, "revision_invalid", "revision (the id of a revision of this grid)", 1)


@bp.get("/api/v1/grids/<code>/revisions")
@operation("listGridRevisions", "boundaries", schemas.RevisionList, errors={404: ("grid_not_found",)})
@admin_only
def grid_revisions(code):
    """A grid's boundary history (who, when, why, before and after), newest first."""
    session = db.session()
    if session.scalar(select(Grid.id).where(Grid.code == code)) is None and \
            session.scalar(select(BoundaryRevision.id).where(BoundaryRevision.zone_code == code).limit(1)) is None:
        raise GridsysError("grid_not_found", f"no grid with code {code}", status=404)
    rows = session.scalars(select(BoundaryRevision).where(BoundaryRevision.level == "grid",
                                                          BoundaryRevision.zone_code == code)
                           .order_by(BoundaryRevision.id.desc())).all()
    return jsonify([{"id": r.id, "action": r.action, "actor": r.actor, "reason": r.reason,
                     "changed_at": r.changed_at.isoformat(),
                     "old_geometry": geo.to_geojson(geo.from_db(r.old_geom)) if r.old_geom is not None else None,
                     "new_geometry": geo.to_geojson(geo.from_db(r.new_geom)) if r.new_geom is not None else None}
                    for r in rows])
