"""Hostile cases of the staff side of the residents' channel: a resident's call entered by staff, a
photo's public flag and the telephone 回访 (page forms and API), the new fields of an action
(public, duplicate_of, 立案 / 合并 / 维持结案 where they do not apply), a worker's public number
(person page and CLI). The town has no resident's report: the cases are refused before one matters."""
from __future__ import annotations

from tests.hostile.cases_pages import report_form
from tests.hostile.values import INT4_OVER, NUL, SQL_OR, SQLISH, Case, api, cli, form
from tests.incidents.helpers import lonlat
from tests.test_hostile_entrance import DEEP

PHONE = "/report/phone"
W = "browser:safety1"


def phone_form(**changes) -> dict:
    return report_form(**{"client_uuid": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "phone": "13800138000",
                          "name": "王阿姨", **changes})


CALL = [
    form("phone-report-phone-sql", PHONE, who=W, form=phone_form(phone="13800138000; DROP"), status=422,
         code="phone_invalid"),
    form("phone-report-phone-words", PHONE, who=W, form=phone_form(phone="call me maybe"), status=422,
         code="phone_invalid"),
    form("phone-report-name-too-long", PHONE, who=W, form=phone_form(name="名" * 61), status=422,
         code="contact_name_invalid"),
    form("phone-report-phone-nul", PHONE, who=W, form=phone_form(phone="138\x0000138000"), code="nul_byte"),
    form("phone-report-description-invisible", PHONE, who=W, form=phone_form(description="\u200b\u3164"),
         status=422, code="description_missing"),
    form("phone-report-location-missing", PHONE, who=W, form=phone_form(lon=""), status=422,
         code="location_missing"),
    form("phone-report-outside-every-town", PHONE, who=W,
         form=phone_form(lon=str(lonlat("outside")[0]), lat=str(lonlat("outside")[1])), status=422,
         code="point_outside_towns"),
    form("phone-report-category-sql", PHONE, who=W, form=phone_form(category=SQLISH), status=422,
         code="category_unknown"),
    form("phone-report-uuid-garbage", PHONE, who=W, form=phone_form(client_uuid=SQL_OR), status=422,
         code="client_uuid_invalid"),
    form("phone-report-uuid-of-a-staff-report", PHONE, who=W, form=phone_form(client_uuid="{inc21_uuid}"),
         status=409, code="client_uuid_taken"),
    form("phone-report-without-csrf", PHONE, who=W, csrf=False, form=phone_form(), code="csrf_invalid"),
    form("phone-report-forged-csrf", PHONE, who=W, csrf="forged.token", form=phone_form(), code="csrf_invalid"),
]

PUBLIC = "/incidents/{inc}/photos/{photo}/public"
L = "browser:leader1"
PHOTO_PAGE = [
    form("photo-public-without-csrf", PUBLIC, who=L, csrf=False, form={"public": "1"}, code="csrf_invalid"),
    form("photo-public-forged-csrf", PUBLIC, who=L, csrf="forged", form={"public": "1"}, code="csrf_invalid"),
    form("photo-public-nul", PUBLIC, who=L, form={"public": NUL}, code="nul_byte"),
    form("photo-public-of-another-incident", "/incidents/{closed}/photos/{photo}/public", who=L,
         form={"public": "1"}, status=303, code="photo_not_found"),
    form("photo-public-id-int4", f"/incidents/{{inc}}/photos/{INT4_OVER}/public", who=L, form={"public": "1"},
         status=303, code="photo_not_found"),
    form("photo-public-other-area", PUBLIC, who="browser:worker21", form={"public": "1"}, status=404,
         code="incident_not_found"),
    form("photo-public-no-grid", PUBLIC, who="browser:pw", form={"public": "1"}, status=404,
         code="incident_not_found"),
]

RATING = "/incidents/{closed}/rating"
CALLBACK_PAGE = [
    form("callback-page-rating-unknown", RATING, who=L, form={"rating": "great"}, status=303, code="rating_unknown"),
    form("callback-page-rating-sql", RATING, who=L, form={"rating": SQL_OR}, status=303, code="rating_unknown"),
    form("callback-page-comment-too-long", RATING, who=L, form={"rating": "satisfied", "comment": "评" * 501},
         status=303, code="comment_too_long"),
    form("callback-page-staff-report", RATING, who=L, form={"rating": "satisfied"}, status=303,
         code="rating_not_open"),
    form("callback-page-open-incident", "/incidents/{inc}/rating", who="browser:safety1",
         form={"rating": "satisfied"}, status=303, code="rating_not_open"),
    form("callback-page-other-area", RATING, who="browser:worker21", form={"rating": "satisfied"}, status=404,
         code="incident_not_found"),
    form("callback-page-without-csrf", RATING, who=L, csrf=False, form={"rating": "satisfied"},
         code="csrf_invalid"),
]

API_RATING = "/api/v1/incidents/{closed}/rating"
T = "token:leader1"
CALLBACK_API = [
    api("callback-rating-unknown", API_RATING, who=T, json={"rating": "great"}, status=422, code="rating_unknown"),
    api("callback-rating-number", API_RATING, who=T, json={"rating": 5}, status=422, code="rating_unknown"),
    api("callback-rating-list", API_RATING, who=T, json={"rating": ["satisfied"]}, status=422,
        code="rating_unknown"),
    api("callback-comment-object", API_RATING, who=T, json={"rating": "satisfied", "comment": {"x": 1}},
        code="comment_invalid"),
    api("callback-comment-too-long", API_RATING, who=T, json={"rating": "satisfied", "comment": "评" * 501},
        status=422, code="comment_too_long"),
    api("callback-staff-report", API_RATING, who=T, json={"rating": "satisfied"}, status=409,
        code="rating_not_open"),
    api("callback-not-handler", API_RATING, who="token:general1", json={"rating": "satisfied"}, status=403,
        code="actor_not_allowed"),
    api("callback-other-area", API_RATING, who="token:worker21", json={"rating": "satisfied"}, status=404,
        code="incident_not_found"),
    api("callback-anonymous", API_RATING, who="none", json={"rating": "satisfied"}, status=401,
        code="login_required"),
    api("callback-body-array", API_RATING, who=T, json=["satisfied"], code="body_not_json"),
    api("callback-deep", API_RATING, who=T, body=DEEP, content_type="application/json", code="json_too_deep"),
]

FLAG = "/api/v1/incidents/{inc}/photos/{photo}"
PHOTO_API = [
    api("photo-flag-text", FLAG, method="PATCH", who=T, json={"public": "yes"}, code="public_invalid"),
    api("photo-flag-number", FLAG, method="PATCH", who=T, json={"public": 1}, code="public_invalid"),
    api("photo-flag-missing", FLAG, method="PATCH", who=T, json={}, code="public_invalid"),
    api("photo-flag-null", FLAG, method="PATCH", who=T, json={"public": None}, code="public_invalid"),
    api("photo-flag-not-handler", FLAG, method="PATCH", who="token:general1", json={"public": True}, status=403,
        code="actor_not_allowed"),
    api("photo-flag-other-area", FLAG, method="PATCH", who="token:worker21", json={"public": True}, status=404,
        code="incident_not_found"),
    api("photo-flag-of-another-incident", "/api/v1/incidents/{closed}/photos/{photo}", method="PATCH", who=T,
        json={"public": True}, status=404, code="photo_not_found"),
    api("photo-flag-id-int4", f"/api/v1/incidents/{{inc}}/photos/{INT4_OVER}", method="PATCH", who=T,
        json={"public": True}, status=404, code="photo_not_found"),
    api("photo-flag-body-array", FLAG, method="PATCH", who=T, json=[True], code="body_not_json"),
    api("photo-flag-browser-without-csrf", FLAG, method="PATCH", who="browser:leader1", csrf=False,
        json={"public": True}, code="csrf_invalid"),
]

TRANSITIONS = "/api/v1/incidents/{inc}/transitions"
CLOSED = "/api/v1/incidents/{closed}/transitions"
NEW_FIELDS = [
    api("act-public-text", TRANSITIONS, who=T, json={"action": "comment", "note": "x", "public": "yes"},
        code="public_invalid"),
    api("act-public-number", TRANSITIONS, who=T, json={"action": "comment", "note": "x", "public": 1},
        code="public_invalid"),
    api("act-duplicate-of-number", TRANSITIONS, who=T, json={"action": "merge", "duplicate_of": 5},
        code="duplicate_of_invalid"),
    api("act-duplicate-of-list", TRANSITIONS, who=T, json={"action": "merge", "duplicate_of": ["{inc21}"]},
        code="duplicate_of_invalid"),
    api("act-merge-a-dispatched-report", TRANSITIONS, who=T, json={"action": "merge", "duplicate_of": SQL_OR},
        status=409, code="transition_not_allowed"),
    api("act-register-a-dispatched-report", TRANSITIONS, who=T, json={"action": "register", "assignee": "general1"},
        status=409, code="transition_not_allowed"),
    api("act-decline-a-dispatched-report", TRANSITIONS, who=T, json={"action": "decline", "note": "x"}, status=409,
        code="transition_not_allowed"),
    api("act-reopen-a-closure-nobody-rated", CLOSED, who=T, json={"action": "reopen", "note": "再来"}, status=409,
        code="review_not_open"),
    api("act-confirm-a-closure-nobody-rated", CLOSED, who=T, json={"action": "confirm", "note": "维持"},
        status=409, code="review_not_open"),
    api("act-confirm-without-a-reply", CLOSED, who=T, json={"action": "confirm", "note": "\u200b"}, status=422,
        code="note_required"),
    api("act-confirm-by-the-handler", CLOSED, who="token:safety1", json={"action": "confirm", "note": "x"},
        status=403, code="actor_not_allowed"),
    form("page-act-merge-a-dispatched-report", "/incidents/{inc}/act", who=L,
         form={"action": "merge", "duplicate_of": "nope", "public": "1"}, status=303,
         code="transition_not_allowed"),
]

PERSON = "/admin/people/safety1/phone"
PUBLIC_NUMBER = [
    form("person-phone-public-without-a-number", PERSON, form={"phone": "", "phone_public": "1"}, status=303,
         code="phone_missing"),
    form("person-phone-sql", PERSON, form={"phone": "13800138000; DROP", "phone_public": "1"}, status=303,
         code="phone_invalid"),
    form("person-phone-nul", PERSON, form={"phone": "138\x00", "phone_public": "1"}, code="nul_byte"),
    form("person-phone-by-a-leader", PERSON, who=L, form={"phone": "13800138000"}, status=403,
         code="role_required"),
    cli("users-phone-unknown-user", "users", "phone", "nobody", "13800138000", code="user_not_found"),
    cli("users-phone-sql", "users", "phone", "safety1", SQLISH, "--public", code="phone_invalid"),
    cli("users-phone-public-without-a-number", "users", "phone", "safety1", "--public", code="phone_missing"),
    cli("users-create-phone-public-without-a-number", "users", "create", "--username", "newbie", "--role",
        "grid_worker", "--phone-public", code="phone_missing"),
]

STAFF_RESIDENTS: list[Case] = [*CALL, *PHOTO_PAGE, *CALLBACK_PAGE, *CALLBACK_API, *PHOTO_API, *NEW_FIELDS,
                               *PUBLIC_NUMBER]
