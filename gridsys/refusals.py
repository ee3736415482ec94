"""What a person reads when the app refuses something: one message per error code, in their language.

Domain errors (errors.GridsysError) carry a stable code, an English message for integrators and
details; HTML pages, flashes and the phone's outbox show ``refusal_text(exc)`` instead: the
catalogue's message for the code with the details filled in (``%(name)s``). Where a message needs
a value, the raise site passes it as a detail keyword (which the API's JSON error also carries).
A code without an entry reads as a generic sentence naming the code, never as the English text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import LazyString, lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .i18n import duty_label, role_label, zone_level_label

MB = 1024 * 1024
# The codes of HTTP errors (JSON errors and error pages); other statuses are "http_error".
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 429: "too_many_requests", 500: "internal_error"}


@dataclass(frozen=True)
class Refusal:
    """``text`` may name details as %(name)s; ``plain`` says the same without them, for a refusal
    raised without those details (and for the phone, which has no values to fill in)."""
    text: LazyString
    plain: LazyString | None = None


REFUSALS: dict[str, Refusal] = {
    # --- places and shapes
    "location_missing": Refusal(_l("The location is missing: tap the map or use your location.")),
    "point_outside_towns": Refusal(_l("The place (%(lon)s, %(lat)s) is outside every town: move the pin inside your town, or ask an administrator to add the town."),
                                   _l("This place is outside every town: move the pin inside your town.")),
    "coordinates_invalid": Refusal(_l("The coordinates are not valid numbers.")),
    "coordinates_out_of_range": Refusal(_l("The coordinates (%(lon)s, %(lat)s) are out of range: longitude within ±180, latitude within ±90, longitude first."),
                                        _l("The coordinates are out of range: longitude within ±180, latitude within ±90, longitude first.")),
    "coords_unknown": Refusal(_l("The position's coordinate system is unknown.")),
    "geometry_malformed": Refusal(_l("The shape could not be read: send a GeoJSON geometry.")),
    "geometry_not_2d": Refusal(_l("The shape has 3-D or measured coordinates: only longitude and latitude are accepted.")),
    "geometry_wrong_type": Refusal(_l("The shape is of the wrong kind for this.")),
    "geometry_empty": Refusal(_l("The shape is empty.")),
    "geometry_too_complex": Refusal(_l("The shape has too many points (at most %(max_positions)s): simplify it first."),
                                    _l("The shape has too many points: simplify it first.")),
    "crs_unsupported": Refusal(_l("The file uses another coordinate system: reproject it to WGS 84 "
                                  "longitude and latitude first.")),
    "geometry_invalid": Refusal(_l("The shape is not valid (near %(lon)s, %(lat)s): redraw it without crossing edges."),
                                _l("The shape is not valid: redraw it without crossing edges.")),
    "ring_too_short": Refusal(_l("A boundary needs at least 3 corners.")),
    "ring_not_closed": Refusal(_l("A boundary must end where it starts.")),
    # --- zones and boundary changes
    "code_invalid": Refusal(_l("The code is not valid: a town code has 9 digits, an area 12, a grid 15.")),
    "level_unknown": Refusal(_l("The level is town, area or grid.")),
    "town_not_found": Refusal(_l("There is no town with code %(zone_code)s."),
                              _l("This town does not exist.")),
    "area_not_found": Refusal(_l("There is no area with code %(zone_code)s."),
                              _l("This area does not exist.")),
    "grid_not_found": Refusal(_l("There is no grid with code %(zone_code)s."),
                              _l("This grid does not exist.")),
    "parent_not_found": Refusal(_l("The zone it belongs to does not exist: create or import it first.")),
    "name_invalid": Refusal(_l("A name is 1 to 100 characters.")),
    "outside_parent": Refusal(_l("%(zone_code)s would spill outside the zone it belongs to: keep it inside."),
                              _l("The zone would spill outside the zone it belongs to: keep it inside.")),
    "sibling_overlap": Refusal(_l("%(zone_code)s would overlap %(other_code)s: neighbours may not overlap."),
                               _l("The zone would overlap a neighbour: neighbours may not overlap.")),
    "children_outside": Refusal(_l("The new outline of %(zone_code)s would leave zones inside it outside: redraw them first."),
                                _l("The new outline would leave zones inside it outside: redraw them first.")),
    "neighbour_swallowed": Refusal(_l("The change would swallow %(other_code)s whole: merge or delete it instead."),
                                   _l("The change would swallow a neighbour whole: merge or delete it instead.")),
    "neighbour_split": Refusal(_l("The change would cut %(other_code)s in two: reshape so that it stays whole."),
                               _l("The change would cut a neighbour in two: reshape so that it stays whole.")),
    "split_line_invalid": Refusal(_l("The line must cross the grid from edge to edge once, cutting it in two.")),
    "merge_not_adjacent": Refusal(_l("The two grids do not share an edge, so they cannot be merged.")),
    "merge_across_areas": Refusal(_l("Only grids of the same area can be merged: move one first.")),
    "merge_same_grid": Refusal(_l("Choose two different grids to merge.")),
    "move_across_towns": Refusal(_l("A grid can only move to another area of the same town.")),
    "move_not_adjacent": Refusal(_l("The grid does not touch that area.")),
    "move_same_area": Refusal(_l("The grid already belongs to that area.")),
    "area_emptied": Refusal(_l("The grid is all of its area: an area cannot be emptied.")),
    "area_full": Refusal(_l("The area has no free grid codes left (at most 999).")),
    "grid_code_retired": Refusal(_l("This grid code was used before and retired: give the grid a new code.")),
    "batch_foreign_feature": Refusal(_l("A shape in the change is not a grid of this area.")),
    "gap_policy_unknown": Refusal(_l("The way to fill the gap is not valid.")),
    "revision_not_found": Refusal(_l("This revision does not exist.")),
    "revision_invalid": Refusal(_l("The revision number is not valid.")),
    "reason_required": Refusal(_l("Say why the boundary changes (it is kept in the history).")),
    "reason_invalid": Refusal(_l("The reason must be text.")),
    "preview_required": Refusal(_l("Preview the change first, then save it.")),
    "preview_token_invalid": Refusal(_l("The preview could not be identified: preview the change again.")),
    "preview_stale": Refusal(_l("This is not the change that was previewed: preview it again before saving.")),
    "notifications_invalid": Refusal(_l("The messages to mark as read are not valid.")),
    "unread_invalid": Refusal(_l("The filter value is not valid.")),
    "webhook_secret_invalid": Refusal(_l("The webhook's signing secret is not in the expected form.")),
    "webhook_secret_unsupported": Refusal(_l("This kind of webhook has no signing secret.")),
    "stale_boundary": Refusal(_l("Someone else changed this boundary meanwhile: reload and redo the change.")),
    "incidents_stranded": Refusal(_l("%(count)s open incidents would have nobody to handle them (e.g. %(example)s): give the area a leader first."),
                                  _l("Some open incidents would have nobody to handle them: give the area a leader first.")),
    "not_feature_collection": Refusal(_l("The file is not a GeoJSON FeatureCollection.")),
    "no_features": Refusal(_l("The file contains no shapes.")),
    "feature_malformed": Refusal(_l("A shape in the file is not a valid GeoJSON feature.")),
    "duplicate_code": Refusal(_l("A code appears twice.")),
    "file_not_json": Refusal(_l("The file is not JSON.")),
    "file_unreadable": Refusal(_l("The file cannot be read.")),
    # --- accounts, roles and duties
    "login_failed": Refusal(_l("Wrong username or password.")),
    "login_locked": Refusal(_l("Too many failed logins: wait 15 minutes and try again.")),
    "account_inactive": Refusal(_l("The account %(username)s is deactivated: ask an administrator."),
                                _l("This account is deactivated: ask an administrator.")),
    "login_required": Refusal(_l("Log in first.")),
    "token_invalid": Refusal(_l("The API token is missing, unknown or revoked.")),
    "token_not_found": Refusal(_l("There is no active token with that number.")),
    "password_change_required": Refusal(_l("Change your password first, then send again.")),
    "password_mismatch": Refusal(_l("The two new passwords differ.")),
    "password_wrong": Refusal(_l("The current password is not right.")),
    "password_unchanged": Refusal(_l("Choose a new password that differs from the current one.")),
    "password_too_short": Refusal(_l("A password needs at least %(min_length)s characters."),
                                  _l("The password is too short.")),
    "password_too_long": Refusal(_l("A password has at most 200 characters.")),
    "password_too_simple": Refusal(_l("Use a password with more different characters.")),
    "username_invalid": Refusal(_l("A username is 2 to 40 characters: lower-case letters, digits, dot, dash or underscore, starting with a letter or digit.")),
    "username_taken": Refusal(_l("The username %(username)s is already taken."),
                              _l("This username is already taken.")),
    "user_not_found": Refusal(_l("There is no account named %(username)s."),
                              _l("This account does not exist.")),
    "display_name_invalid": Refusal(_l("A display name is 1 to 60 characters.")),
    "phone_missing": Refusal(_l("Give the phone number first: only a number the person has can be shown on the public notice.")),
    "role_unknown": Refusal(_l("There is no role %(role)s."), _l("One of the roles does not exist.")),
    "role_missing": Refusal(_l("%(username)s does not hold the role %(role)s: add the role first."),
                            _l("The person does not hold the role this needs: add the role first.")),
    "role_required": Refusal(_l("Your account may not do this: ask an administrator.")),
    "cannot_deactivate_self": Refusal(_l("You cannot deactivate your own account.")),
    "already_assigned": Refusal(_l("%(username)s already serves grid %(grid_code)s as %(duty)s worker."),
                                _l("The person already serves this grid with this duty.")),
    "duty_taken": Refusal(_l("Grid %(grid_code)s already has %(holder)s as %(duty)s worker: assign as a backup, or replace."),
                          _l("The grid already has a worker for this duty: assign as a backup, or replace.")),
    "duty_unknown": Refusal(_l("The duty is not valid.")),
    "duty_missing": Refusal(_l("A grid assignment needs a duty.")),
    "assignment_not_found": Refusal(_l("There is no current assignment with that number.")),
    "assignment_target": Refusal(_l("Give exactly one of a grid (with a duty), an area or a town.")),
    "csv_header_invalid": Refusal(_l("The first line of the file is not the expected header.")),
    "csv_empty": Refusal(_l("The file has a header but no accounts.")),
    # --- incidents
    "incident_not_found": Refusal(_l("Incident %(incident_id)s does not exist or is outside your area of work."),
                                  _l("The incident is no longer in your area of work.")),
    "category_unknown": Refusal(_l("This category does not exist any more: choose another one.")),
    "category_retired": Refusal(_l("This category is no longer used: choose a current one.")),
    "description_missing": Refusal(_l("Describe what is wrong in a few words.")),
    "description_too_long": Refusal(_l("The description is too long: at most 2000 characters.")),
    "address_too_long": Refusal(_l("The address is too long: at most 200 characters.")),
    "priority_unknown": Refusal(_l("The priority is not valid.")),
    "client_uuid_invalid": Refusal(_l("The report could not be identified: delete it and log it again.")),
    "client_uuid_taken": Refusal(_l("Another person already sent a report under this identifier: delete it and log it again.")),
    "observed_at_invalid": Refusal(_l("The phone's clock gave an unreadable time: check the phone's date and time.")),
    "observed_at_future": Refusal(_l("The phone's clock is ahead: check the phone's date and time.")),
    "observed_at_too_old": Refusal(_l("This report was logged more than 30 days ago and can no longer be sent.")),
    "photo_not_image": Refusal(_l("The file is not a photo the server can read.")),
    "photo_too_large": Refusal(_l("The photo is too large (at most 10 MB).")),
    "photo_type_unsupported": Refusal(_l("This kind of picture is not accepted: use a JPEG, PNG, WebP or HEIC photo.")),
    "photo_empty": Refusal(_l("The photo file is empty.")),
    "photo_missing": Refusal(_l("No photo was sent.")),
    "photo_not_found": Refusal(_l("This photo does not exist.")),
    "too_many_photos": Refusal(_l("The incident already has the most photos allowed.")),
    "incident_final": Refusal(_l("The incident is closed: photos can no longer be added.")),
    "photo_uuid_conflict": Refusal(_l("This photo was already attached to another report.")),
    "actor_not_allowed": Refusal(_l("You may not do this to this incident.")),
    "transition_not_allowed": Refusal(_l("This cannot be done to the incident in its present state: reload the page to see what can be done now.")),
    "action_unknown": Refusal(_l("This action does not exist.")),
    "stale_update": Refusal(_l("Someone else changed this incident meanwhile: reload it and try again.")),
    "version_invalid": Refusal(_l("The version is not valid: reload the page and try again.")),
    "note_invalid": Refusal(_l("The note must be text.")),
    "note_required": Refusal(_l("Add a note saying why or what was done.")),
    "note_too_long": Refusal(_l("The note is too long: at most %(max_length)s characters."),
                             _l("The note is too long.")),
    "assignee_invalid": Refusal(_l("Choose the person to assign it to.")),
    "assignee_unknown": Refusal(_l("There is no active person named %(assignee)s."),
                                _l("This person does not exist or is deactivated.")),
    "assignee_out_of_scope": Refusal(_l("%(assignee)s does not serve this incident's grid or area: choose someone who does."),
                                     _l("This person does not serve this incident's grid or area: choose someone who does.")),
    "assignee_unchanged": Refusal(_l("%(assignee)s already handles this incident."),
                                  _l("This person already handles this incident.")),
    "hours_invalid": Refusal(_l("The hours are a whole number from %(min)s to %(max)s."),
                             _l("The number of hours is not valid.")),
    "not_escalated": Refusal(_l("Only an escalated incident can be sent back down.")),
    "photo_not_publishable": Refusal(_l("A photo the resident sent is never published: publish an \"after\" photo you took.")),
    "file_unwritable": Refusal(_l("The file cannot be written there: check the folder and its permissions.")),
    "database_unavailable": Refusal(_l("The server cannot reach its database just now: try again in a few seconds (nothing was saved).")),
    "already_at_top": Refusal(_l("This incident is already with the town administrators.")),
    # --- residents' reports: 立案, 回访
    "not_a_resident_report": Refusal(_l("Only a resident's report is registered, declined or merged: reassign or cancel this one.")),
    "assignee_required": Refusal(_l("No grid worker was found for this report: choose who handles it.")),
    "duplicate_of_invalid": Refusal(_l("Give the code of the incident this one repeats.")),
    "duplicate_of_unknown": Refusal(_l("There is no incident %(duplicate_of)s you can see to merge this one into."),
                                    _l("There is no such incident you can see to merge this one into.")),
    "review_not_open": Refusal(_l("Only a closure the resident was not satisfied with, and not yet decided on, can be reopened or confirmed.")),
    "rating_unknown": Refusal(_l("Choose satisfied, basically satisfied or not satisfied.")),
    "comment_invalid": Refusal(_l("The comment must be text.")),
    "comment_too_long": Refusal(_l("The comment is too long: at most %(max_length)s characters."),
                                _l("The comment is too long.")),
    "rating_not_open": Refusal(_l("This report cannot be rated: only a resident's report, once done, is rated.")),
    "already_rated": Refusal(_l("This report has been rated already. Thank you!")),
    "rating_closed": Refusal(_l("A report can be rated within %(days)s days of being done."),
                             _l("The time to rate this report has passed.")),
    "category_not_for_residents": Refusal(_l("Choose one of the listed kinds of problem.")),
    "phone_invalid": Refusal(_l("The phone number is not valid: 6 to 20 digits, spaces and dashes allowed.")),
    "contact_name_invalid": Refusal(_l("The name is too long: at most 60 characters.")),
    "tracking_not_found": Refusal(_l("This tracking link is not valid: check it, or recover it with the code and your phone number.")),
    "tracking_not_recovered": Refusal(_l("No report matches this code and phone number.")),
    "tracking_code_invalid": Refusal(_l("Enter the report's code, as shown when you sent it.")),
    "public_invalid": Refusal(_l("Say whether it is public: true or false.")),
    "notification_invalid": Refusal(_l("This message does not exist.")),
    "queue_unknown": Refusal(_l("This list does not exist.")),
    "status_unknown": Refusal(_l("The status is not valid.")),
    "page_invalid": Refusal(_l("The page number is not valid.")),
    "since_invalid": Refusal(_l("The date is not valid: use YYYY-MM-DD.")),
    "overdue_invalid": Refusal(_l("The filter value is not valid.")),
    "escalated_invalid": Refusal(_l("The filter value is not valid.")),
    "mine_invalid": Refusal(_l("The filter value is not valid.")),
    "bbox_invalid": Refusal(_l("The map area asked for is not valid.")),
    "category_code_invalid": Refusal(_l("A category code is 4 digits.")),
    "category_malformed": Refusal(_l("The category catalogue is not in the expected form.")),
    "webhook_kind_unknown": Refusal(_l("The kind of webhook is not valid.")),
    "webhook_url_invalid": Refusal(_l("The webhook address must start with http:// or https://.")),
    "webhook_not_found": Refusal(_l("This webhook does not exist.")),
    # --- the residents' pages: the page's check (proof of work), the limits, the report form
    "proof_missing": Refusal(_l("The page's check was not done: send the form from the page itself, with JavaScript on.")),
    "proof_invalid": Refusal(_l("The page's check is not valid: reload the page and send again.")),
    "proof_expired": Refusal(_l("The page was open too long: reload it and send again.")),
    "proof_reused": Refusal(_l("This page was already used to send: reload it to send again.")),
    "resident_reports_limited": Refusal(_l("Too many reports from this phone or network in the last hour: try again in %(minutes)s minutes, or call the grid worker."),
                                        _l("Too many reports from this phone or network in the last hour: try again later, or call the grid worker.")),
    "recoveries_limited": Refusal(_l("Too many tries from this phone or network in the last hour: try again in %(minutes)s minutes."),
                                  _l("Too many tries from this phone or network in the last hour: try again later.")),
    "resident_photos_too_many": Refusal(_l("At most %(max)s photos can be sent with a report."),
                                        _l("Too many photos: send fewer.")),
    "point_outside_grid_town": Refusal(_l("This place is outside %(town)s: move the pin into the town, or use the page of the grid where it is."),
                                       _l("This place is outside this grid's town: move the pin into the town.")),
    # --- public results and Open311 GeoReport v2 (its clients show the description to the person)
    "zone_not_found": Refusal(_l("There is no town, area or grid with this code.")),
    "jurisdiction_not_found": Refusal(_l("jurisdiction_id is the 9-digit code of a town served here.")),
    "api_key_missing": Refusal(_l("An api_key is required to post a request: ask the town's administrators for one.")),
    "api_key_invalid": Refusal(_l("This api_key is unknown or revoked.")),
    "service_code_missing": Refusal(_l("Choose a service: service_code is required.")),
    "service_code_unknown": Refusal(_l("There is no such service: see the list of services.")),
    "service_code_invalid": Refusal(_l("A service code is 4 digits; separate several with commas.")),
    "service_request_id_invalid": Refusal(_l("The request ids are not valid: at most 100 codes, separated by commas.")),
    "request_not_found": Refusal(_l("There is no published request with this id.")),
    "date_invalid": Refusal(_l("The date is not valid: use a W3C date-time such as 2026-12-01T00:00:00+08:00.")),
    "date_range_invalid": Refusal(_l("The start date is after the end date.")),
    "date_range_too_long": Refusal(_l("The dates may be at most %(days)s days apart."),
                                   _l("The dates are too far apart.")),
    "page_size_invalid": Refusal(_l("The page size is a whole number from 1 to 1000.")),
    "location_not_geocoded": Refusal(_l("Send the location as lat and long: an address alone cannot be placed on the map here.")),
    "attribute_unknown": Refusal(_l("The only attribute accepted is place_detail.")),
    "attribute_invalid": Refusal(_l("The place detail is too long: at most 100 characters.")),
    "media_url_invalid": Refusal(_l("media_url must be an http:// or https:// address of at most 500 characters.")),
    # --- tiles (the map's vector tiles) and the map's GeoJSON by bbox
    "tile_zoom_invalid": Refusal(_l("A map tile's zoom is a whole number from 0 to %(max_zoom)s."),
                                 _l("This map tile's zoom is not valid.")),
    "tile_out_of_range": Refusal(_l("There is no such map tile: at zoom %(z)s its x and y are whole numbers from 0 to %(max_xy)s."),
                                 _l("There is no such map tile.")),
    "grids_too_many": Refusal(_l("More than %(max)s grids in this view: zoom in."),
                              _l("Too many grids in this view: zoom in.")),
    # --- evaluation (考核)
    "months_invalid": Refusal(_l("The number of months is a whole number from 0 to 12.")),
    "scope_invalid": Refusal(_l("Choose what to evaluate: a town, an area, a grid or a person.")),
    "code_required": Refusal(_l("Name the town, area or grid by its code, or the person by their username.")),
    "day_invalid": Refusal(_l("The date is not valid: use a day such as 2026-11-30."),
                           _l("The date is not valid.")),
    "month_invalid": Refusal(_l("The month is not valid: use a month such as 2026-11.")),
    "period_invalid": Refusal(_l("Give both the first and the last day of the period (the first not after the last), or neither for last month.")),
    "period_too_long": Refusal(_l("A period is at most %(max_days)s days."), _l("The period is too long.")),
    "by_invalid": Refusal(_l("Rows are by grid, area, duty, category, person or month.")),
    "indicator_unknown": Refusal(_l("There is no such indicator: choose one from the dashboard.")),
    "part_invalid": Refusal(_l("Choose the numerator, the denominator or the rest of the figure.")),
    "key_invalid": Refusal(_l("The row to list is not valid.")),
    "person_not_found": Refusal(_l("There is no person %(username)s whose figures you may see."),
                                _l("There is no such person whose figures you may see.")),
    "period_not_over": Refusal(_l("The period is not over yet: its results can be published once its last day (%(to)s) has ended."),
                               _l("The period is not over yet: its results can be published once it has ended.")),
    "correction_note_required": Refusal(_l("The results of this period were published already: say in the note what this new publication corrects.")),
    "evaluation_not_found": Refusal(_l("The town has no published evaluation with this number.")),
    "point_outside_jurisdiction": Refusal(_l("The place is outside the town given as jurisdiction_id.")),
    "key_name_invalid": Refusal(_l("Name the client application in 1 to 80 characters.")),
    "key_not_found": Refusal(_l("There is no active Open311 key with this number.")),
    "days_invalid": Refusal(_l("The number of days is a whole number from 0 to 36500.")),
    # --- requests
    "body_not_json": Refusal(_l("The report could not be read by the server.")),
    "nul_byte": Refusal(_l("The text contains a character that cannot be stored: remove it.")),
    "text_invalid": Refusal(_l("The text contains a broken character that cannot be stored: type it again.")),
    "json_too_deep": Refusal(_l("The data is nested too deeply to be read (at most %(max_depth)s levels)."),
                             _l("The data is nested too deeply to be read.")),
    "payload_too_large": Refusal(_l("Too much to send at once: at most %(mb)d MB. Attach fewer or smaller photos."),
                                 _l("The upload is too large.")),
    "language_unknown": Refusal(_l("This language is not available.")),
    "asset_not_found": Refusal(_l("This file does not exist.")),
    # --- HTTP errors (HTTP_CODES), CSRF
    "bad_request": Refusal(_l("The request could not be understood.")),
    "unauthorized": Refusal(_l("Log in first.")),
    "forbidden": Refusal(_l("You may not open this page.")),
    "not_found": Refusal(_l("This page does not exist.")),
    "method_not_allowed": Refusal(_l("This page cannot be used this way.")),
    "conflict": Refusal(_l("Someone else changed this meanwhile: reload and try again.")),
    "unsupported_media_type": Refusal(_l("This kind of content is not accepted.")),
    "too_many_requests": Refusal(_l("Too many requests: wait a moment and try again.")),
    "internal_error": Refusal(_l("The server failed to do this. Try again later; if it keeps happening, tell an administrator.")),
    "http_error": Refusal(_l("The server refused the request.")),
    "csrf_invalid": Refusal(_l("The form has expired: reload the page and send it again.")),
}
UNKNOWN = _l("The server refused this (code %(code)s).")  # a code the catalogue does not have yet

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _values(details: dict) -> dict:
    """Details as a person reads them: a location as lon/lat, sizes in MB, duties, roles and levels as words."""
    values = dict(details)
    location = details.get("location")
    if isinstance(location, (list, tuple)) and len(location) == 2:
        values["lon"], values["lat"] = (f"{float(v):.6f}" for v in location)
    if isinstance(details.get("max_bytes"), int):
        values["mb"] = details["max_bytes"] // MB
    if "duty" in details:
        values["duty"] = duty_label(str(details["duty"]))
    if "role" in details:
        values["role"] = role_label(str(details["role"]))
    if "level" in details:
        values["level"] = zone_level_label(str(details["level"]))
    codes = details.get("incident_codes")
    if isinstance(codes, (list, tuple)) and codes:
        values["count"], values["example"] = len(codes), codes[0]
    return values


def _fill(text, values: dict) -> str | None:
    """The text with its placeholders filled, or None when a value is missing."""
    text = str(text)
    if "%(" not in text:
        return text
    if any(name not in values for name in PLACEHOLDER.findall(text)):
        return None
    return text % values


def http_error_code(exc: HTTPException) -> str:
    # A stale or missing CSRF token has its own code: a phone's queue fetches a fresh one and retries.
    return "csrf_invalid" if isinstance(exc, CSRFError) else HTTP_CODES.get(exc.code, "http_error")


def refusal_text(exc) -> str:
    """What to show a person for a refusal (an errors.GridsysError, an HTTP error, CSRF), in their
    language. Anything else is a bug, not a refusal: a generic sentence, no English internals."""
    if isinstance(exc, HTTPException):
        return message_for(http_error_code(exc))
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        return str(REFUSALS["internal_error"].text)
    return message_for(code, getattr(exc, "details", None))


def message_for(code: str, details: dict | None = None) -> str:
    """The catalogue's message for ``code`` with ``details`` filled in (see refusal_text)."""
    entry = REFUSALS.get(code)
    if entry is not None:
        text = _fill(entry.text, _values(details or {}))
        if text is not None:
            return text
        if entry.plain is not None:
            return str(entry.plain)
    return str(UNKNOWN) % {"code": code}


def refusal_texts() -> dict[str, str]:
    """Every code's message without values (placeholders as ``{name}``), for the phone's outbox:
    ``other`` is the text for a code it does not know."""
    texts = {code: str(entry.plain if entry.plain is not None else entry.text) for code, entry in REFUSALS.items()}
    texts["other"] = str(UNKNOWN)
    return {code: PLACEHOLDER.sub(r"{\1}", text) for code, text in texts.items()}

