"""The OpenAPI 3.1 document served at /api/v1/openapi.json. A test checks that every
/api/v1 route of the app is described here and every path here exists."""
from __future__ import annotations

from . import __version__


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {str(code): {"$ref": f"#/components/responses/E{code}"} for code in (400, 401, 403, 404, 409, 413, 415, 422)}


def _errors(*codes):
    return {str(c): ERRORS[str(c)] for c in codes}


def _query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


ID = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer"}}
COORDS = {"type": "string", "enum": ["wgs84", "gcj02"], "default": "wgs84",
          "description": "the system lon/lat are given in: wgs84 (GPS) or gcj02 (Gaode/Tencent maps, some in-app "
                         "location APIs), converted to WGS 84 on the way in; anything else is 400 coords_unknown"}
LOCATION = [
    {"name": "lon", "in": "query", "required": True, "schema": {"type": "number"}},
    {"name": "lat", "in": "query", "required": True, "schema": {"type": "number"}},
    _query("coords", COORDS, "coordinate system of lon/lat"),
]
ZONE_REF = {"type": ["object", "null"], "required": ["code", "name"],
            "properties": {"code": {"type": "string"}, "name": {"type": "string"}}}
CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{15}$"}}
FILTERS = [
    _query("status", {"type": "string", "enum": ["open", "reported", "assigned", "in_progress", "resolved",
                                                  "closed", "reopened", "cancelled"]}, "status, or open"),
    _query("category", {"type": "string"}, "category code"),
    _query("grid", {"type": "string"}, "grid code"),
    _query("overdue", {"type": "boolean"}, "only (true) or no (false) overdue incidents"),
    _query("mine", {"type": "boolean"}, "only incidents assigned to the caller"),
]


GRID_EDITS = {
    "redraw": ("Reshape a grid; neighbours give up or take the difference",
               {"geometry": {"type": "object", "description": "GeoJSON Polygon"}}),
    "split": ("Split a grid by a line into two grids", {"line": {"type": "object", "description": "GeoJSON LineString"},
                                                         "name": {"type": "string"}}),
    "merge": ("Merge with an adjacent grid of the same area (the lower code survives)",
              {"other": {"type": "string"}}),
    "move": ("Move the grid to another area of the same town (renumbered)", {"area": {"type": "string"}}),
    "delete": ("Retire the grid; its ground goes to a neighbour or stays a gap", {}),
    "restore": ("Bring back the shape of a revision", {"revision": {"type": "integer"}}),
}
ZONE_EDITS = {
    ("areas", "grids"): ("Draw a new grid in the area", {"geometry": {"type": "object"}, "name": {"type": "string"}}),
    ("areas", "import"): ("Replace the area's grids with a FeatureCollection (batch redraw)",
                          {"type": {"const": "FeatureCollection"}, "features": {"type": "array"}}),
    ("areas", "redraw"): ("Reshape an area; its grids must stay inside", {"geometry": {"type": "object"}}),
    ("towns", "redraw"): ("Reshape a town; its areas must stay inside", {"geometry": {"type": "object"}}),
}
EDIT_COMMON = {"reason": {"type": "string", "description": "why (required to save; kept in the history)"},
               "gap_policy": {"type": "string", "enum": ["neighbour", "gap"]},
               "versions": {"type": "object", "description": "zone code -> version seen in the preview; "
                                                            "a mismatch is 409 stale_boundary"}}


def _edit_pair(path: str, summary: str, props: dict, level: str) -> dict:
    param = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": {**props, **EDIT_COMMON}}}}}
    effect = _json({"type": "object", "description": "checks, changes (m² per zone), moves (incidents with "
                                                     "from/to grid and handler)"})
    return {
        f"{path}/preview": {"post": {"summary": f"{summary} — preview, writes nothing", "parameters": [param],
                                     "requestBody": body, "responses": {"200": effect, **_errors(400, 401, 403, 404, 422)}}},
        path: {"post": {"summary": f"{summary} — save (one transaction)", "parameters": [param], "requestBody": body,
                        "responses": {"201": effect, **_errors(400, 401, 403, 404, 409, 422)}}},
    }


def redraw_paths() -> dict:
    paths = {}
    for name, (summary, props) in GRID_EDITS.items():
        paths.update(_edit_pair(f"/api/v1/grids/{{code}}/{name}", summary, props, "grid"))
    for (level, name), (summary, props) in ZONE_EDITS.items():
        paths.update(_edit_pair(f"/api/v1/{level}/{{code}}/{name}", summary, props, level))
    paths["/api/v1/grids/{code}/revisions"] = {"get": {
        "summary": "A grid's boundary history (who, when, why, before/after)", "parameters": [CODE],
        "responses": {"200": _json({"type": "array", "items": {"type": "object"}}), **_errors(401, 403, 404)}}}
    return paths


def document() -> dict:
    incident = {
        "type": "object",
        "required": ["id", "code", "status", "grid", "area", "assignee", "due_at", "routing_reason"],
        "properties": {
            "id": {"type": "integer"}, "code": {"type": "string"}, "client_uuid": {"type": "string", "format": "uuid"},
            "status": {"type": "string"}, "priority": {"type": "string", "enum": ["normal", "urgent"]},
            "version": {"type": "integer", "description": "send back as 'version' to detect stale updates"},
            "category": {"type": "string"}, "duty": {"type": "string"}, "description": {"type": "string"},
            "address": {"type": ["string", "null"]}, "lon": {"type": "number"}, "lat": {"type": "number"},
            "town": {"type": "string"}, "area": {"type": ["string", "null"]}, "grid": {"type": ["string", "null"]},
            "reporter": {"type": ["string", "null"]}, "assignee": {"type": ["string", "null"]},
            "assigned_as": {"type": ["string", "null"]}, "routing_reason": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time",
                           "description": "when the report arrived"},
            "observed_at": {"type": "string", "format": "date-time",
                            "description": "when the worker observed it (the phone's clock); the arrival time "
                                           "when the report did not say"},
            "due_at": {"type": ["string", "null"], "format": "date-time"}, "overdue": {"type": "boolean"},
            "escalation_level": {"type": "integer", "minimum": 0, "maximum": 2},
            "escalation_trigger": {"type": ["string", "null"], "enum": ["overdue", "urgent", "manual", "stale", None]},
            "escalated_at": {"type": ["string", "null"], "format": "date-time"},
            "escalation_holders": {"type": "array", "items": {"type": "string"},
                                   "description": "who holds an escalated incident (with its events)"},
            "reopen_count": {"type": "integer"},
            "photos": {"type": "array", "items": _ref("Photo"), "description": "with its events"},
            "events": {"type": "array", "items": _ref("Event")},
        },
    }
    schemas = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "location": {"type": "array", "items": {"type": "number"}}}}}},
        "Incident": incident,
        "Event": {"type": "object", "properties": {
            "at": {"type": "string", "format": "date-time"}, "action": {"type": "string"},
            "actor": {"type": ["string", "null"]}, "from": {"type": ["string", "null"]},
            "to": {"type": ["string", "null"]}, "note": {"type": "string"}, "data": {"type": "object"}}},
        "NewIncident": {"type": "object", "required": ["client_uuid", "lon", "lat", "category", "description"],
                        "properties": {
                            "client_uuid": {"type": "string", "format": "uuid",
                                            "description": "generated by the client; a resend returns the same incident"},
                            "lon": {"type": "number", "minimum": -180, "maximum": 180},
                            "lat": {"type": "number", "minimum": -90, "maximum": 90},
                            "category": {"type": "string", "pattern": "^[0-9]{4}$"},
                            "description": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "priority": {"type": "string", "enum": ["normal", "urgent"]},
                            "address": {"type": "string", "maxLength": 200},
                            "observed_at": {
                                "type": "string", "format": "date-time", "maxLength": 40,
                                "description": "when the worker observed it, ISO 8601 with offset (e.g. "
                                               "2026-12-01T09:30:00+08:00); default the arrival time. Refused: "
                                               "unreadable, no offset or not text (observed_at_invalid), over 10 "
                                               "minutes ahead of the server (observed_at_future), over 30 days "
                                               "old (observed_at_too_old)"},
                            "coords": COORDS}},
        "Photo": {"type": "object", "required": ["id", "url", "thumbnail_url", "client_uuid"], "properties": {
            "id": {"type": "integer"}, "width": {"type": "integer"}, "height": {"type": "integer"},
            "client_uuid": {"type": ["string", "null"], "format": "uuid"},
            "url": {"type": "string"}, "thumbnail_url": {"type": "string"}}},
        "RoutingPreview": {"type": "object", "required": ["grid", "area", "town", "assignee", "assigned_as", "reason",
                                                          "priority", "deadline_hours"], "properties": {
            "grid": ZONE_REF, "area": ZONE_REF, "town": ZONE_REF,
            "assignee": {"type": ["object", "null"], "properties": {
                "username": {"type": "string"}, "display_name": {"type": "string"}},
                "description": "who the report would go to (null without a category, or nobody to route to)"},
            "assigned_as": {"type": ["string", "null"], "description": "a duty, area_leader or town_admin"},
            "reason": {"type": ["string", "null"], "description": "the routing reason in the request's language"},
            "priority": {"type": ["string", "null"], "enum": ["normal", "urgent", None]},
            "deadline_hours": {"type": ["integer", "null"],
                               "description": "hours to handle it once dispatched (null when nobody would be)"}}},
        "Me": {"type": "object", "required": ["username", "display_name", "roles", "grids", "csrf_token", "duties",
                                              "frequent_categories", "favourite_categories"], "properties": {
            "username": {"type": "string"}, "display_name": {"type": "string"},
            "roles": {"type": "array", "items": {"type": "string"}},
            "grids": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"const": "all"}],
                      "description": "grid codes in the caller's scope, or 'all'"},
            "csrf_token": {"type": ["string", "null"],
                           "description": "a CSRF token for this browser session (send as X-CSRFToken); null for "
                                          "bearer tokens, which need none"},
            "duties": {"type": "array", "items": {"type": "object", "properties": {
                "grid": {"type": "string"}, "duty": {"type": "string"}, "backup": {"type": "boolean"}}},
                "description": "the caller's current duties per grid"},
            "frequent_categories": {"type": "array", "maxItems": 8, "items": {"type": "string"},
                                    "description": "category codes the caller reported most in the last 90 "
                                                   "days, most used first"},
            "favourite_categories": {"type": "array", "maxItems": 8, "items": {"type": "string"},
                                     "description": "what the report form offers first: the most used, then "
                                                    "the caller's own duties' categories"}}},
        "Transition": {"type": "object", "required": ["action"], "properties": {
            "action": {"type": "string", "enum": ["accept", "comment", "resolve", "close", "reopen", "cancel",
                                                  "reassign", "extend", "escalate", "take", "send_down"]},
            "note": {"type": "string", "maxLength": 2000},
            "version": {"type": "integer", "description": "the version read; a mismatch is 409 stale_update"},
            "assignee": {"type": "string", "description": "username (reassign)"},
            "hours": {"type": "integer", "minimum": 1, "description": "hours to add (extend)"}}},
        "Category": {"type": "object", "required": ["code", "name", "duty", "deadline_hours"], "properties": {
            "code": {"type": "string"}, "name": {"type": "string"}, "name_en": {"type": "string"},
            "duty": {"type": "string"}, "deadline_hours": {"type": "integer"},
            "escalate_after_hours": {"type": "integer"}, "priority": {"type": "string"}}},
        "FeatureCollection": {"type": "object", "required": ["type", "features"],
                              "properties": {"type": {"const": "FeatureCollection"},
                                             "features": {"type": "array", "items": {"type": "object"}}}},
    }
    responses = {f"E{code}": _json(_ref("Error"), description) for code, description in (
        (400, "Malformed request"), (401, "Not authenticated"), (403, "Not allowed"),
        (404, "Not found or out of the caller's scope"), (409, "Conflict (state, stale update, duplicate)"),
        (413, "Too large"), (415, "Unsupported media type"), (422, "Refused input"))}
    paths = {
        "/api/v1/me": {"get": {"summary": "Who the caller is, a CSRF token, their duties and most-used categories",
                               "responses": {"200": _json(_ref("Me")), **_errors(401)}}},
        "/api/v1/locate": {"get": {"summary": "The grid, area and town covering a point", "parameters": LOCATION,
            "responses": {"200": _json({"type": "object"}), **_errors(400, 401, 422)}}},
        "/api/v1/routing/preview": {"get": {
            "summary": "Where a report at this point would go and why (the rule of logging); writes nothing",
            "description": "Without category: grid, area and town only. Refusals as when logging: "
                           "location_missing, coords_unknown, point_outside_towns, category_unknown, "
                           "category_retired, priority_unknown.",
            "parameters": [*LOCATION, _query("category", {"type": "string"}, "category code"),
                           _query("priority", {"type": "string", "enum": ["normal", "urgent"]},
                                  "as the report would ask (default the category's)")],
            "responses": {"200": _json(_ref("RoutingPreview")), **_errors(400, 401, 422)}}},
        "/api/v1/zones.geojson": {"get": {"summary": "Zones in scope", "parameters": [
            _query("level", {"type": "string", "enum": ["town", "area", "grid"]}, "only this level")],
            "responses": {"200": _json(_ref("FeatureCollection")), **_errors(400, 401)}}},
        "/api/v1/grids/{code}": {"get": {"summary": "A grid in scope with its current workers",
                                         "parameters": [CODE],
                                         "responses": {"200": _json({"type": "object"}), **_errors(401, 404)}}},
        "/api/v1/categories": {"get": {"summary": "The category catalogue", "responses": {
            "200": _json({"type": "array", "items": _ref("Category")}), **_errors(401)}}},
        "/api/v1/incidents": {
            "get": {"summary": "Incidents in scope, open and overdue first",
                    "parameters": [*FILTERS, _query("page", {"type": "integer", "minimum": 1}, "page (50 per page)")],
                    "responses": {"200": _json({"type": "object", "properties": {
                        "items": {"type": "array", "items": _ref("Incident")}, "total": {"type": "integer"},
                        "page": {"type": "integer"}, "page_size": {"type": "integer"}}}), **_errors(400, 401)}},
            "post": {"summary": "Log an incident (routed at once); idempotent by client_uuid",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewIncident")}}},
                     "responses": {"201": _json(_ref("Incident"), "Created"),
                                   "200": _json(_ref("Incident"), "Already stored (same client_uuid)"),
                                   **_errors(400, 401, 409, 422)}}},
        "/api/v1/incidents.csv": {"get": {
            "summary": "Incidents in scope as UTF-8 CSV (same filters, all pages, at most 100 000)",
            "parameters": FILTERS,
            "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                          **_errors(400, 401)}}},
        "/api/v1/incidents/{incident_id}": {"get": {"summary": "One incident with its events", "parameters": [ID],
                                                    "responses": {"200": _json(_ref("Incident")), **_errors(401, 404)}}},
        "/api/v1/incidents/{incident_id}/transitions": {"post": {
            "summary": "Act on an incident", "parameters": [ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Transition")}}},
            "responses": {"200": _json(_ref("Incident")), **_errors(400, 401, 403, 404, 409, 422)}}},
        "/api/v1/incidents/{incident_id}/photos": {"post": {
            "summary": "Attach a photo (JPEG/PNG/WebP/HEIC, at most 10 MB; stored as JPEG, EXIF removed); "
                       "idempotent by client_uuid",
            "parameters": [ID],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["photo"], "properties": {
                    "photo": {"type": "string", "format": "binary"},
                    "client_uuid": {"type": "string", "format": "uuid",
                                    "description": "made on the phone, one per photo: a resend returns the stored "
                                                   "photo (200); used on another incident is 409 "
                                                   "photo_uuid_conflict; not a UUID is 400 client_uuid_invalid"}}}}}},
            "responses": {"201": _json(_ref("Photo"), "Stored"),
                          "200": _json(_ref("Photo"), "Already stored (same client_uuid)"),
                          **_errors(400, 401, 403, 404, 409, 413, 415, 422)}}},
        "/api/v1/incidents.geojson": {"get": {
            "summary": "Incidents in scope as GeoJSON for maps",
            "parameters": [*FILTERS, _query("bbox", {"type": "string"}, "minlon,minlat,maxlon,maxlat")],
            "responses": {"200": {"description": "RFC 7946", "content": {"application/geo+json": {
                "schema": _ref("FeatureCollection")}}}, **_errors(400, 401)}}},
        "/api/v1/map/grids.geojson": {"get": {
            "summary": "Grids in scope with open/overdue counts and duties lacking a worker",
            "responses": {"200": {"description": "RFC 7946", "content": {"application/geo+json": {
                "schema": _ref("FeatureCollection")}}}, **_errors(401)}}},
        "/api/v1/map/gaps.geojson": {"get": {
            "summary": "Ground not covered by areas (per town) or grids (per area); administrators",
            "responses": {"200": {"description": "RFC 7946", "content": {"application/geo+json": {
                "schema": _ref("FeatureCollection")}}}, **_errors(401, 403)}}},
        **redraw_paths(),
        "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                         "responses": {"200": _json({"type": "object"})}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "gridsys API", "version": __version__,
                 "description": "Grid-management incidents, zones and people. Errors are "
                                "{\"error\": {\"code\", \"message\"}} with a stable code."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a token from `flask --app gridsys tokens create USER`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "browser session; unsafe methods also need the X-CSRFToken header"}},
            "schemas": schemas, "responses": responses},
        "paths": paths,
    }
