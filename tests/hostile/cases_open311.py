"""Hostile cases of Open311 GeoReport v2, the public results and the Open311 keys (page and CLI).

Open311 answers every refusal as the specification's error list, 400, 403 or 404, whose description
opens with the stable code (test_corpus.open311_codes reads it). Its clients post without cookies
(``none``), with the corpus town's key "{open311_key}" where the case is about what follows the key.
"""
from __future__ import annotations

from tests.hostile.values import (DATA_LIMIT, G11, INT4_OVER, NUL, SCRIPT, SQLISH, SQL_OR, SURROGATE, TOWN, Case,
                                  cli, form, query)
from tests.incidents.helpers import lonlat

V2 = "/open311/v2"
POST = f"{V2}/requests.json"
KEY = "{open311_key}"
MARKUP = "<svg onload=alert(1)>"   # markup without a slash: it stays one path segment


def request_form(**changes) -> dict:
    lon, lat = lonlat("g11")
    fields = {"api_key": KEY, "service_code": "0101", "lat": f"{lat}", "long": f"{lon}",
              "description": "小区门口垃圾没人收"}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def post(id, url=POST, *, code, status=400, **kw) -> Case:
    """An Open311 client's POST: form-encoded, no cookie, no CSRF token."""
    return Case(id=id, path="form", url=url, who="none", code=code, status=status, **kw)


def get(id, url, *, code, status=400, **kw) -> Case:
    return query(id, url, who="none", code=code, status=status, **kw)


OPEN311 = [
    # --- POST requests: the key first (403), then what the request says (404 / 400)
    post("o311-post-no-key", form=request_form(api_key=None), status=403, code="api_key_missing"),
    post("o311-post-key-sql", form=request_form(api_key=SQL_OR), status=403, code="api_key_invalid"),
    post("o311-post-key-revoked", form=request_form(api_key="{open311_revoked_key}"), status=403,
         code="api_key_invalid"),
    post("o311-post-key-huge", form=request_form(api_key="o311_" + "x" * 10_000), status=403, code="api_key_invalid"),
    post("o311-post-key-xml", f"{V2}/requests.xml", form=request_form(api_key="nope"), status=403,
         code="api_key_invalid"),
    post("o311-post-json-body", json=request_form(), status=403, code="api_key_missing"),
    post("o311-post-nul-description", form=request_form(description="垃圾\x00"), code="nul_byte"),
    post("o311-post-too-large", form=request_form(description="x" * (DATA_LIMIT + 1)), code="payload_too_large"),
    post("o311-post-service-sql", form=request_form(service_code=SQLISH), status=404, code="service_code_unknown"),
    post("o311-post-service-script", form=request_form(service_code=SCRIPT), status=404,
         code="service_code_unknown"),
    post("o311-post-service-sensitive", form=request_form(service_code="0601"), status=404,
         code="service_code_unknown"),
    post("o311-post-service-staff-only", form=request_form(service_code="0602"), status=404,
         code="service_code_unknown"),
    post("o311-post-service-missing", form=request_form(service_code=None), code="service_code_missing"),
    post("o311-post-jurisdiction-unknown", form=request_form(jurisdiction_id=SQL_OR), status=404,
         code="jurisdiction_not_found"),
    post("o311-post-lat-nan", form=request_form(lat="NaN"), code="coordinates_invalid"),
    post("o311-post-lat-1e309", form=request_form(lat="1e309"), code="coordinates_invalid"),
    post("o311-post-lat-91", form=request_form(lat="91"), code="coordinates_out_of_range"),
    post("o311-post-long-only", form=request_form(lat=None), code="location_missing"),
    post("o311-post-address-only", form=request_form(lat=None, long=None, address_string="幸福路12号"),
         code="location_not_geocoded"),
    post("o311-post-address-id-only", form=request_form(lat=None, long=None, address_id="545483"),
         code="location_not_geocoded"),
    post("o311-post-outside-every-town", form=request_form(lat=f"{lonlat('outside')[1]}",
                                                           long=f"{lonlat('outside')[0]}"),
         code="point_outside_towns"),
    post("o311-post-attribute-script", form=request_form(**{f"attribute[{SCRIPT}]": "x"}), code="attribute_unknown"),
    post("o311-post-attribute-list", form=request_form(**{"attribute[place_detail][]": "3栋"}),
         code="attribute_unknown"),
    post("o311-post-attribute-unbracketed", form=request_form(attribute="3栋"), code="attribute_unknown"),
    post("o311-post-attribute-too-long", form=request_form(**{"attribute[place_detail]": "栋" * 101}),
         code="attribute_invalid"),
    post("o311-post-media-javascript", form=request_form(media_url="javascript:alert(1)"), code="media_url_invalid"),
    post("o311-post-media-too-long", form=request_form(media_url="https://" + "a" * 600), code="media_url_invalid"),
    post("o311-post-media-script", form=request_form(media_url=f"https://x.example/{SCRIPT}"),
         code="media_url_invalid"),
    post("o311-post-description-4001", form=request_form(description="坏" * 4001), code="description_too_long"),
    post("o311-post-description-2001", form=request_form(description="坏" * 2001), code="description_too_long"),
    post("o311-post-phone-sql", form=request_form(phone=SQLISH), code="phone_invalid"),
    post("o311-post-name-too-long", form=request_form(first_name="名" * 61), code="contact_name_invalid"),
    post("o311-post-address-too-long", form=request_form(address_string="路" * 201), code="address_too_long"),
    # --- anything else posted under /open311/v2/
    post("o311-post-to-services", f"{V2}/services.json", form=request_form(), status=404, code="not_found"),
    post("o311-post-to-discovery", f"{V2}/discovery.xml", form=request_form(), status=404, code="not_found"),
    post("o311-post-to-csv", f"{V2}/requests.csv", form=request_form(), status=404, code="not_found"),
    post("o311-post-to-a-request", f"{V2}/requests/{SQLISH}.json", form=request_form(), status=404,
         code="not_found"),
    post("o311-post-nul-path", f"{V2}/requests%00.json", form=request_form(), code="nul_byte"),
    # --- GET requests: the query string
    get("o311-get-date-garbage", f"{V2}/requests.json?start_date=yesterday", code="date_invalid"),
    get("o311-get-date-sql", f"{V2}/requests.xml?end_date={SQL_OR}", code="date_invalid"),
    get("o311-get-date-span", f"{V2}/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-12-01T00:00:00Z",
        code="date_range_too_long"),
    get("o311-get-date-reversed", f"{V2}/requests.json?start_date=2026-06-01&end_date=2026-05-01",
        code="date_range_invalid"),
    get("o311-get-page-size-zero", f"{V2}/requests.json?page_size=0", code="page_size_invalid"),
    get("o311-get-page-size-huge", f"{V2}/requests.json?page_size={INT4_OVER}", code="page_size_invalid"),
    get("o311-get-page-negative", f"{V2}/requests.json?page=-1", code="page_invalid"),
    get("o311-get-status-unknown", f"{V2}/requests.json?status=pending", code="status_unknown"),
    get("o311-get-service-sql", f"{V2}/requests.json?service_code={SQLISH}", code="service_code_invalid"),
    get("o311-get-ids-script", f"{V2}/requests.json?service_request_id={SCRIPT}", code="service_request_id_invalid"),
    get("o311-get-ids-too-many", f"{V2}/requests.json?service_request_id=" + ",".join(f"X{n}" for n in range(101)),
        code="service_request_id_invalid"),
    get("o311-get-jurisdiction-sql", f"{V2}/requests.json?jurisdiction_id={SQL_OR}", status=404,
        code="jurisdiction_not_found"),
    get("o311-get-nul", f"{V2}/requests.json?status=open%00", code="nul_byte"),
    get("o311-get-one-unknown", f"{V2}/requests/{TOWN}-20260101-001.json", status=404, code="request_not_found"),
    get("o311-get-one-sql", f"{V2}/requests/{SQL_OR}.xml", status=404, code="request_not_found"),
    get("o311-get-one-jurisdiction", f"{V2}/requests/x.json?jurisdiction_id=999999999", status=404,
        code="jurisdiction_not_found"),
    get("o311-get-one-nul", f"{V2}/requests/x.json?jurisdiction_id=%00", code="nul_byte"),
    get("o311-get-one-long", f"{V2}/requests/{'9' * 5000}.json", status=404, code="request_not_found"),
    get("o311-services-jurisdiction", f"{V2}/services.json?jurisdiction_id={SCRIPT}", status=404,
        code="jurisdiction_not_found"),
    get("o311-definition-unknown", f"{V2}/services/{SQLISH}.xml", status=404, code="service_code_unknown"),
    get("o311-definition-sensitive", f"{V2}/services/0203.json", status=404, code="service_code_unknown"),
    get("o311-token-unknown", f"{V2}/tokens/{'0' * 32}.json", status=404, code="tracking_not_found"),
    get("o311-token-markup", f"{V2}/tokens/{MARKUP}.xml", status=404, code="tracking_not_found"),
    get("o311-elsewhere", f"{V2}/requests.csv?x={SQL_OR}", status=404, code="not_found"),
    # --- the public results pages
    get("public-page-garbage", f"/public/{G11}?page=abc", code="page_invalid"),
    get("public-page-zero", f"/public/{G11}?page=0", code="page_invalid"),
    get("public-page-huge", f"/public/{G11}?page={INT4_OVER}", code="page_invalid"),
    get("public-page-nul", f"/public/{G11}?page=1%00", code="nul_byte"),
    get("public-zone-unknown", "/public/999999999", status=404, code="town_not_found"),
    get("public-zone-markup", f"/public/{MARKUP}", status=404, code="zone_not_found"),
    get("public-zone-sql", f"/public/{SQL_OR}", status=404, code="zone_not_found"),
    get("public-photo-unknown", f"/public/photos/{INT4_OVER}.jpg", status=404, code="photo_not_found"),
    get("public-photo-private", "/public/photos/{photo}.jpg", status=404, code="photo_not_found"),
    # --- the administrators' keys page
    form("keys-create-empty", "/admin/open311-keys", form={"name": "  "}, status=422, code="key_name_invalid"),
    form("keys-create-missing", "/admin/open311-keys", form={}, status=422, code="key_name_invalid"),
    form("keys-create-too-long", "/admin/open311-keys", form={"name": "名" * 81}, status=422, code="key_name_invalid"),
    form("keys-create-nul", "/admin/open311-keys", form={"name": NUL}, code="nul_byte"),
    form("keys-create-without-csrf", "/admin/open311-keys", csrf=False, form={"name": "x"}, code="csrf_invalid"),
    form("keys-create-forged-csrf", "/admin/open311-keys", csrf="forged", form={"name": "x"}, code="csrf_invalid"),
    form("keys-create-by-a-leader", "/admin/open311-keys", who="browser:leader1", form={"name": "x"}, status=403,
         code="role_required"),
    form("keys-create-stolen-cookie", "/admin/open311-keys", who="stolen", form={"name": "x"}, code="csrf_invalid"),
    form("keys-revoke-unknown", "/admin/open311-keys/999999/revoke", form={}, status=404, code="key_not_found"),
    form("keys-revoke-int4", f"/admin/open311-keys/{INT4_OVER}/revoke", form={}, status=404, code="key_not_found"),
    form("keys-revoke-zero", "/admin/open311-keys/0/revoke", form={}, status=404, code="key_not_found"),
    form("keys-revoke-without-csrf", "/admin/open311-keys/1/revoke", csrf=False, form={}, code="csrf_invalid"),
    form("keys-revoke-by-a-worker", "/admin/open311-keys/1/revoke", who="browser:safety1", form={}, status=403,
         code="role_required"),
    form("keys-revoke-nul", "/admin/open311-keys/1/revoke", form={"x": NUL}, code="nul_byte"),
    # --- the CLI
    cli("open311-keys-create-empty", "open311", "keys", "create", "", code="key_name_invalid"),
    cli("open311-keys-create-blank", "open311", "keys", "create", "\u200b \u3000", code="key_name_invalid"),
    cli("open311-keys-create-too-long", "open311", "keys", "create", "名" * 81, code="key_name_invalid"),
    cli("open311-keys-create-nul", "open311", "keys", "create", NUL, code="nul_byte"),
    cli("open311-keys-create-surrogate", "open311", "keys", "create", SURROGATE, code="text_invalid"),
    cli("open311-keys-revoke-unknown", "open311", "keys", "revoke", "999999", code="key_not_found"),
    cli("open311-keys-revoke-int4", "open311", "keys", "revoke", str(INT4_OVER), code="key_not_found"),
    cli("open311-keys-revoke-negative", "open311", "keys", "revoke", "--", "-1", code="key_not_found"),
    cli("open311-keys-revoke-zero", "open311", "keys", "revoke", "0", code="key_not_found"),
    cli("residents-purge-negative", "residents", "purge-contacts", "--days", "-1", code="days_invalid"),
    cli("residents-purge-word", "residents", "purge-contacts", "--days", "abc", code="days_invalid"),
    cli("residents-purge-exponent", "residents", "purge-contacts", "--days", "1e3", code="days_invalid"),
    cli("residents-purge-huge", "residents", "purge-contacts", "--days", str(INT4_OVER), code="days_invalid"),
    cli("residents-purge-sql", "residents", "purge-contacts", "--days", SQL_OR, code="days_invalid"),
]
