"""JSON API for incidents under /api/v1/ (described by /api/v1/openapi.json, generated from schemas.py)."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from .. import db, geo, settings
from ..errors import Forbidden, GridsysError, NotFound
from ..i18n import locale as request_locale
from ..people import access, auth, services as people_services
from ..inputs import csv_cell, text_or_none, whole_number
from . import deadlines, lifecycle, notify, permissions, photos, privacy, queues, reporting_aids, scoping, services
from ..zones.models import Grid
from .geojson import incidents_feature_collection
from .models import Category, IncidentPhoto
from .routing import reason_text
from . import schemas
from ..apidoc import Document, FeatureCollection, document, operation

bp = Blueprint("incidents_api", __name__)


def _iso(value):
    return value.isoformat() if value else None


def viewer() -> tuple:
    """The caller and their scope: what of a resident's contact they read (privacy.contact_for)."""
    return auth.current_user(), auth.current_scope()


def incident_json(incident, *, events: bool = False, locale: str = "en", seen_by=None) -> dict:
    """``seen_by``: (user, scope) of the reader, or a function giving them (``viewer``: called only
    for an incident that holds a contact, so a staff report does not cost a scope); a resident's
    phone is in full only for its handler and the leaders in scope, masked for anyone else (and
    without ``seen_by``)."""
    point = geo.from_db(incident.geom)
    if not (incident.contact_phone or incident.contact_name):
        contact = privacy.Contact(None, None, False)
    elif seen_by is not None:
        contact = privacy.contact_for(*(seen_by() if callable(seen_by) else seen_by), incident)
    else:
        contact = privacy.Contact(privacy.mask_phone(incident.contact_phone), None, True)
    body = {
        "id": incident.id, "code": incident.code, "client_uuid": str(incident.client_uuid) if incident.channel == "staff" else None,
        "status": incident.status, "priority": incident.priority, "version": incident.version,
        "category": incident.category_code, "duty": incident.category.duty,
        "description": incident.description, "address": incident.address,
        "lon": point.x, "lat": point.y,
        "town": incident.town.code, "area": incident.area.code if incident.area else None,
        "grid": incident.grid.code if incident.grid else None,
        "reporter": incident.reporter.username if incident.reporter else None,
        "assignee": incident.assignee.username if incident.assignee else None,
        "assigned_as": incident.assigned_as,
        "routing_reason": reason_text(incident.routing, locale),
        "created_at": incident.created_at.isoformat(),
        "observed_at": (incident.observed_at or incident.created_at).isoformat(),
        "due_at": incident.due_at.isoformat() if incident.due_at else None,
        "overdue": bool(incident.is_open and incident.due_at and incident.due_at < services.now()),
        "escalation_level": incident.escalation_level,
        "escalation_trigger": incident.escalation_trigger if incident.escalation_level else None,
        "escalated_at": incident.escalated_at.isoformat() if incident.escalation_level and incident.escalated_at
        else None,
        "reopen_count": incident.reopen_count,
        "channel": incident.channel,
        "contact_phone": contact.phone, "contact_name": contact.name,
        "registered_at": _iso(incident.registered_at),
        "cancel_reason": incident.cancel_reason,
        "duplicate_of": incident.duplicate_of.code if incident.duplicate_of_id else None,
        "rating": incident.rating, "rating_comment": incident.rating_comment, "rated_at": _iso(incident.rated_at),
        "rated_via": incident.rated_via, "review": incident.review, "reviewed_at": _iso(incident.reviewed_at),
    }
    if events:
        body["escalation_holders"] = [u.username for u in deadlines.holders(db.session(), incident)] \
            if incident.escalation_level else []
        body["photos"] = [photo_json(incident, p) for p in incident.photos]
        body["events"] = [{"at": e.at.isoformat(), "action": e.action, "actor": e.actor.username if e.actor else None,
                           "from": e.from_status, "to": e.to_status, "note": e.note, "data": e.data,
                           "public": e.public}
                          for e in incident.events]
    return body


def photo_json(incident, photo) -> dict:
    return {"id": photo.id, "width": photo.width, "height": photo.height, "public": photo.public,
            "client_uuid": str(photo.client_uuid) if photo.client_uuid else None,
            "url": url_for("incidents_api.photo", incident_id=incident.id, photo_id=photo.id),
            "thumbnail_url": url_for("incidents_api.photo", incident_id=incident.id, photo_id=photo.id,
                                     size="thumb")}


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise GridsysError("body_not_json", "send a JSON object with Content-Type: application/json", status=400)
    return body


@bp.get("/api/v1/me")
@operation("getMe", "people", schemas.Me)
@auth.login_required
def me():
    """Who the caller is, and what a phone needs before it works offline: a CSRF token for this
    browser session (none for a bearer token), the caller's duties and most-used categories.
    (Here, not in people: it reads incidents, and people never imports incidents.)"""
    user, scope = auth.current_user(), auth.current_scope()
    session = db.session()
    grids = "all" if scope.everything else \
        session.scalars(select(Grid.code).where(access.where(scope, Grid)).order_by(Grid.code)).all()
    frequent = reporting_aids.frequent_categories(session, user)   # (read once: the favourites start with them)
    duties = people_services.current_duties(session, user)           # (and the favourites follow these)
    response = jsonify(username=user.username, display_name=user.display_name, roles=sorted(user.roles),
                       grids=grids,
                       csrf_token=None if g.get("via_token") else generate_csrf(),
                       duties=[{"grid": d.grid, "duty": d.duty, "backup": d.backup}
                               for d in duties],
                       frequent_categories=frequent,
                       favourite_categories=reporting_aids.favourite_categories(session, user, frequent, duties),
                       unread=notify.unread_count(session, user, scope), queues=queues.counts(session, user, scope))
    response.headers["Cache-Control"] = "no-store"   # a CSRF token and personal data: never kept
    return response


def notice_json(n) -> dict:
    return {"id": n.id, "kind": n.kind, "incident_id": n.incident_id, "at": n.created_at.isoformat(),
            "read": n.read_at is not None, "data": n.data or {}}


@bp.get("/api/v1/notifications")
@operation("listNotifications", "people", schemas.Notices, query=schemas.NoticesQuery,
           summary="The caller's notifications, newest first", errors={400: ("unread_invalid",)})
@auth.login_required
def notifications():
    unread_only = services.flag(request.args, "unread") or False
    session, user = db.session(), auth.current_user()
    scope = auth.current_scope()
    response = jsonify(items=[notice_json(n) for n in notify.inbox(session, user, unread_only=unread_only,
                                                                   unread_first=False, scope=scope)],
                       unread=notify.unread_count(session, user, scope))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/v1/notifications/read")
@operation("markNotificationsRead", "people", schemas.MarkedRead, json=schemas.MarkRead,
           summary="Mark the caller's notifications read: some ({ids}) or all ({all: true})",
           errors=schemas.MARK_READ_ERRORS)
@auth.login_required
def notifications_read():
    body = _json_body()
    ids, everything = body.get("ids"), body.get("all")
    if set(body) - {"ids", "all"} or (ids is None) == (everything is None) or \
            (everything is not None and everything is not True) or (ids is not None and not (
            isinstance(ids, list) and len(ids) <= 1000
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids))):
        raise GridsysError("notifications_invalid", 'send {"ids": [notification ids]} (at most 1000) or '
                                                    '{"all": true}', status=400)
    session, user = db.session(), auth.current_user()
    marked = notify.mark_read(session, user, ids if everything is None else None)
    session.commit()
    return jsonify(marked=marked, unread=notify.unread_count(session, user, auth.current_scope()))


@bp.post("/api/v1/incidents")
@operation("createIncident", "incidents", (schemas.Incident, "Stored and routed"), status=201,
           summary="Log an incident (routed at once); idempotent by client_uuid",
           json=schemas.NewIncident, also={200: (schemas.Incident, "Already stored (same client_uuid)")},
           errors=schemas.CREATE_ERRORS)
@auth.login_required
def create():
    body = _json_body()
    session = db.session()
    data = services.NewIncident(client_uuid=body.get("client_uuid"), lon=body.get("lon"), lat=body.get("lat"),
                                category=body.get("category"), description=body.get("description"),
                                priority=body.get("priority"), address=body.get("address"),
                                observed_at=body.get("observed_at"), coords=body.get("coords"))
    incident, created = services.create_incident(session, auth.current_user(), data)
    session.commit()
    return jsonify(incident_json(incident, seen_by=viewer)), 201 if created else 200


@bp.get("/api/v1/incidents")
@operation("listIncidents", "incidents", schemas.IncidentPage, query=schemas.IncidentListQuery,
           summary=f"Incidents in scope, open and overdue first; the total stops at {services.LIST_COUNT_CAP} "
                   "(total_capped)",
           errors=schemas.FILTER_ERRORS)
@auth.login_required
def index():
    filters = services.parse_filters(request.args, settings.of(db.session()))
    session = db.session()
    page = services.list_page(session, auth.current_scope(), filters, auth.current_user())
    seen_by = viewer()
    return jsonify(items=[incident_json(i, seen_by=seen_by) for i in page.items], total=page.total,
                   total_capped=page.total_capped, more=page.more, page=page.number, page_size=page.size)


@bp.get("/api/v1/incidents/<int:incident_id>")
@operation("getIncident", "incidents", schemas.Incident, errors=schemas.NOT_FOUND,
           summary="One incident with its events and photos")
@auth.login_required
def show(incident_id):
    incident = scoping.require_incident(db.session(), auth.current_scope(), incident_id)
    return jsonify(incident_json(incident, events=True, seen_by=viewer))


@bp.post("/api/v1/incidents/<int:incident_id>/transitions")
@operation("actOnIncident", "incidents", schemas.Incident, json=schemas.Transition,
           summary="Act on an incident (accept, resolve, close, reassign, extend, escalate, ...)",
           errors=schemas.TRANSITION_ERRORS)
@auth.login_required
def transitions(incident_id):
    body = _json_body()
    session = db.session()
    incident = scoping.require_incident(session, auth.current_scope(), incident_id)
    public = body.get("public")
    if public is not None and not isinstance(public, bool):
        raise GridsysError("public_invalid", "public is true or false", status=400)
    lifecycle.transition(session, incident, auth.current_user(), str(body.get("action") or ""),
                         note=body.get("note"),
                         expected_version=_version(body.get("version")), assignee=body.get("assignee"),
                         hours=body.get("hours"), scope=auth.current_scope(), public=public is True,
                         duplicate_of=text_or_none(body.get("duplicate_of"), "duplicate_of_invalid",
                                                   "duplicate_of (an incident code)"))
    session.commit()
    return jsonify(incident_json(incident, events=True, seen_by=viewer))


@bp.post("/api/v1/incidents/<int:incident_id>/rating")
@operation("recordCallback", "incidents", schemas.Incident, json=schemas.Callback,
           summary="Record a telephone 回访 of a closed resident's report (its handler or a leader in scope)",
           errors=schemas.CALLBACK_ERRORS)
@auth.login_required
def callback(incident_id):
    body = _json_body()
    session, user, scope = db.session(), auth.current_user(), auth.current_scope()
    incident = scoping.require_incident(session, scope, incident_id)
    permissions.require_callback(user, scope, incident)
    lifecycle.rate(session, incident, body.get("rating"), body.get("comment"), via="phone", actor=user)
    session.commit()
    return jsonify(incident_json(incident, events=True, seen_by=(user, scope)))


def _version(value):
    if value in (None, ""):
        return None
    return whole_number(value, "version_invalid", "version (the one read with the incident)")


@bp.post("/api/v1/incidents/<int:incident_id>/photos")
@operation("uploadIncidentPhoto", "incidents", (schemas.Photo, "Stored"), status=201,
           summary="Attach a photo (stored as JPEG, EXIF removed); idempotent by client_uuid",
           form=schemas.PhotoUpload, also={200: (schemas.Photo, "Already stored (same client_uuid)")},
           errors=schemas.PHOTO_ERRORS)
@auth.login_required
def upload_photo(incident_id):
    session = db.session()
    incident = scoping.require_incident(session, auth.current_scope(), incident_id, for_update=True)
    upload = request.files.get("photo") or request.files.get("file")
    if upload is None:
        raise GridsysError("photo_missing", "send the image as multipart/form-data field 'photo'", status=400)
    user = auth.current_user()
    if not (incident.assignee_id == user.id or incident.reporter_id == user.id
            or scoping.manages_incident(auth.current_scope(), incident)):
        raise Forbidden("actor_not_allowed", "only the handler, the reporter or a leader adds photos")
    client_uuid = photos.parse_photo_uuid(request.form.get("client_uuid"))
    photo, created = photos.upload_photo(session, incident, user, upload.read(), client_uuid)
    session.commit()
    return jsonify(photo_json(incident, photo)), 201 if created else 200


@bp.patch("/api/v1/incidents/<int:incident_id>/photos/<int:photo_id>")
@operation("setPhotoPublic", "incidents", schemas.Photo, json=schemas.PhotoFlags,
           summary="Show a photo to the resident and on the public results (an after photo), or stop showing it",
           errors=schemas.PHOTO_FLAG_ERRORS)
@auth.login_required
def photo_flags(incident_id, photo_id):
    body = _json_body()
    session, user, scope = db.session(), auth.current_user(), auth.current_scope()
    incident = scoping.require_incident(session, scope, incident_id)
    photo = photos.set_public(session, incident, user, scope, photo_id, body.get("public"))
    session.commit()
    return jsonify(photo_json(incident, photo))


@bp.get("/incidents/<int:incident_id>/photos/<int:photo_id>")
@bp.get("/incidents/<int:incident_id>/photos/<int:photo_id>/<size>")
@auth.login_required
def photo(incident_id, photo_id, size="full"):
    """Photos are served only to people who may see the incident, never from a static path."""
    session = db.session()
    incident = scoping.require_incident(session, auth.current_scope(), incident_id)
    column = IncidentPhoto.thumbnail if size == "thumb" else IncidentPhoto.data
    if size not in ("full", "thumb") or not 0 < photo_id < 2**31:
        raise NotFound("photo_not_found", "no such photo")
    blob = session.scalar(select(column).where(IncidentPhoto.id == photo_id,
                                               IncidentPhoto.incident_id == incident.id))
    if blob is None:
        raise NotFound("photo_not_found", f"no photo {photo_id} on this incident")
    return Response(blob, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600",
                                                          "X-Content-Type-Options": "nosniff"})


@bp.get("/api/v1/routing/preview")
@operation("previewRouting", "incidents", schemas.RoutingPreview, query=schemas.PreviewQuery,
           errors=schemas.PREVIEW_ERRORS)
@auth.login_required
def routing_preview():
    """Where a report at this point would go, and why (the same rule as logging it); writes nothing."""
    args = request.args
    preview = reporting_aids.preview_routing(db.session(), args.get("lon"), args.get("lat"), args.get("category"),
                                       coords=args.get("coords"), priority=args.get("priority"))
    where, decision = preview.where, preview.decision
    assignee = decision.assignee if decision else None
    return jsonify(
        grid=_zone_json(where.grid), area=_zone_json(where.area), town=_zone_json(where.town),
        assignee={"username": assignee.username, "display_name": assignee.display_name} if assignee else None,
        assigned_as=decision.assigned_as if decision else None,
        reason=reason_text(decision.data, request_locale()) if decision else None,
        priority=preview.priority, deadline_hours=preview.deadline_hours)


def _zone_json(zone):
    return {"code": zone.code, "name": zone.label(request_locale())} if zone is not None else None


@bp.get("/api/v1/categories")
@operation("listCategories", "incidents", schemas.CategoryList, summary="The current category catalogue")
@auth.login_required
def categories():
    rows = db.session().scalars(select(Category).where(Category.active).order_by(Category.code))
    return jsonify([{"code": c.code, "name": c.name_zh, "name_en": c.name_en, "duty": c.duty,
                     "deadline_hours": c.deadline_hours, "escalate_after_hours": c.escalate_after_hours,
                     "priority": c.priority} for c in rows])


def parse_bbox(value: str | None):
    if not value:
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4:
        raise GridsysError("bbox_invalid", "bbox is minlon,minlat,maxlon,maxlat", status=400)
    geo.check_lon_lat(parts[0], parts[1])
    geo.check_lon_lat(parts[2], parts[3])
    if parts[0] > parts[2] or parts[1] > parts[3]:
        raise GridsysError("bbox_invalid", "bbox is minlon,minlat,maxlon,maxlat with min <= max", status=400)
    return parts


@bp.get("/api/v1/incidents.geojson")
@operation("incidentsGeoJSON", "maps", FeatureCollection, query=schemas.IncidentMapQuery,
           media_type="application/geo+json", errors=schemas.MAP_FILTER_ERRORS)
@auth.login_required
def geojson():
    """Incidents in scope (and bbox) as an RFC 7946 FeatureCollection, built in the database."""
    filters = services.parse_filters(request.args, settings.of(db.session()))
    bbox = parse_bbox(request.args.get("bbox"))
    body = incidents_feature_collection(db.read_session(), auth.current_scope(), filters, bbox,
                                        auth.current_user())
    return Response(body, mimetype="application/geo+json")


@bp.get("/api/v1/openapi.json")
@operation("getOpenAPI", "meta", Document, public=True)
def openapi():
    """This document, generated from the schemas of each domain."""
    return jsonify(document())


CSV_COLUMNS = ("code", "status", "priority", "category", "category_name", "duty", "town", "area", "grid",
               "address", "description", "reporter", "assignee", "created_at", "due_at", "overdue",
               "escalation_level", "reopen_count", "lon", "lat")


@bp.get("/api/v1/incidents.csv")
@operation("incidentsCSV", "incidents", schemas.CsvText, query=schemas.IncidentFilters,
           media_type="text/csv", errors=schemas.FILTER_ERRORS)
@auth.login_required
def csv_export():
    """Incidents in scope (same filters as the list, all pages) as UTF-8 CSV for spreadsheets."""
    import csv
    import io
    filters = services.parse_filters(request.args, settings.of(db.session()))
    session = db.read_session()
    query = services.scoped_incidents(auth.current_scope(), filters, auth.current_user()) \
        .options(*services.LIST_OPTIONS).limit(services.CSV_LIMIT)
    out = io.StringIO()
    out.write("\ufeff")  # so spreadsheet programs read the Chinese text as UTF-8
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for incident in session.scalars(query).unique():
        row = incident_json(incident)
        row.update(category_name=incident.category.name_zh,
                   reporter=incident.reporter.display_name if incident.reporter else None,
                   assignee=incident.assignee.display_name if incident.assignee else None)
        writer.writerow([csv_cell(row.get(c)) for c in CSV_COLUMNS])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=incidents.csv"})
