"""Open311 GeoReport v2 under /open311/v2/ (wiki.open311.org/GeoReport_v2), in XML and JSON, so
existing clients work unchanged. Thin: parse, check, call residents.services / residents.public,
write the document (open311_format).

- jurisdiction_id is a town's 9-digit code. It may be left out (all towns are served, and a posted
  point finds its own town); when given, an unknown one is 404 and a posted point must lie in it.
- service_code is a category code; the services are the catalogue's resident categories minus the
  sensitive ones (those are reported through the resident's page or by phone, never through
  third-party clients, and never listed here).
- service_request_id is the incident's code. Every service is realtime: POST answers with the
  service_request_id, no token. The resident's private tracking link comes in service_notice (when
  the residents' pages serve one); tokens/<tracking token> gives the service_request_id back.
- Errors are the specification's list of {code, description}: ``code`` the HTTP status (400, 403 or
  404), ``description`` "<gridsys code>: <message in the request's language>".
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError

from .. import db, errors, settings
from ..errors import Forbidden, GridsysError, NotFound
from ..i18n import locale as request_locale
from ..incidents.models import Category
from ..incidents.services import NewIncident
from ..inputs import check_text, whole_number
from ..refusals import http_error_code, refusal_text
from ..zones.models import Town
from ..incidents.events import record
from . import keys, open311_format as doc, public, services as residents
from .public import Criteria, Zone

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(json, xml):fmt>"
MAX_IDS = 100                 # service_request_id values in one GET
MAX_LIST_TEXT = 2000          # a comma-delimited parameter
MAX_DATE_TEXT = 40
MAX_MEDIA_URL = 500
MAX_DESCRIPTION = 4000        # the specification's limit; the incident's own (2 000) is checked after
SERVICE_CODE = re.compile(r"[0-9]{4}")
REQUEST_ID = re.compile(r"[0-9A-Za-z-]{1,40}")
ATTRIBUTE = re.compile(r"attribute\[([^\[\]]{1,40})\](\[\])?")


def _answer(fmt_name: str, root: str, data, status: int = 200) -> Response:
    response = Response(doc.render(fmt_name, root, data), status=status, content_type=doc.MEDIA_TYPES[fmt_name])
    if request.method == "GET":
        response.headers["Access-Control-Allow-Origin"] = "*"   # public data, for web clients of other sites
    return response


def _format_of_path() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


@bp.errorhandler(GridsysError)
def refused(exc: GridsysError):
    return _error(exc.status, exc.code, refusal_text(exc))


@bp.errorhandler(HTTPException)
def http_refused(exc: HTTPException):
    return _error(exc.code or 400, http_error_code(exc), refusal_text(exc))


# Routing errors (an unknown path, a PUT) are raised before this blueprint's handlers: the same list.
bp.record_once(lambda state: errors.answer_errors_under(state.app, "/open311/", http_refused))


def _error(status: int, code: str, message: str) -> Response:
    """The specification's statuses: 404 for what does not exist, 403 for a missing or wrong
    api_key, 400 for anything else a client can fix; a server failure stays a 5xx."""
    db.session().rollback()
    status = status if status in (403, 404) or status >= 500 else 403 if status == 401 else 400
    return _answer(_format_of_path(), "errors", [doc.error(status, code, message)], status)


# --- discovery and services ---------------------------------------------------------------------

@bp.get(f"/discovery.{FMT}")
def discovery(fmt):
    url = url_for("open311.services", fmt="xml", _external=True).rsplit("/", 1)[0]
    return _answer(fmt, "discovery", doc.discovery(url, request_locale()))


def _jurisdiction() -> Town | None:
    """The town named by jurisdiction_id, or None when it is left out (every town is served)."""
    value = request.values.get("jurisdiction_id") or None
    if value is None:
        return None
    town = db.session().scalar(select(Town).where(Town.code == value[:9])) if len(value) == 9 else None
    if town is None:
        raise NotFound("jurisdiction_not_found", "jurisdiction_id is the 9-digit code of a town this server serves")
    return town


def _offered() -> list[Category]:
    """The services: the categories residents may choose, without the sensitive ones."""
    return [c for c in residents.resident_categories(db.session()) if not c.sensitive]


def _service(code) -> Category:
    if not code:
        raise GridsysError("service_code_missing", "service_code is required: one of GET services", status=400)
    found = next((c for c in _offered() if c.code == code), None)
    if found is None:
        raise NotFound("service_code_unknown", "no such service_code: see GET services", service_code=str(code)[:40])
    return found


@bp.get(f"/services.{FMT}")
def services(fmt):
    _jurisdiction()
    locale = request_locale()
    return _answer(fmt, "services", [doc.service(category, locale) for category in _offered()])


@bp.get(f"/services/<service_code>.{FMT}")
def service_definition(service_code, fmt):
    _jurisdiction()
    return _answer(fmt, "service_definition", doc.definition(_service(service_code), request_locale()))


# --- requests -----------------------------------------------------------------------------------

def _listed(name: str, code: str, pattern: re.Pattern, what: str, most: int) -> tuple[str, ...]:
    """A comma-delimited parameter (repeated ones joined): each item must match ``pattern``."""
    joined = ",".join(request.args.getlist(name))
    if not joined:
        return ()
    items = tuple(dict.fromkeys(item.strip() for item in joined.split(",") if item.strip()))
    if len(joined) > MAX_LIST_TEXT or len(items) > most or not all(pattern.fullmatch(i) for i in items):
        raise GridsysError(code, f"{name} is a comma-delimited list of at most {most} {what}", status=400)
    return items


def _date(name: str, zone) -> datetime | None:
    value = request.args.get(name) or None
    if value is None:
        return None
    try:
        if len(value) > MAX_DATE_TEXT:
            raise ValueError
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise GridsysError("date_invalid", f"{name} is a W3C date-time such as 2026-12-01T00:00:00+08:00", status=400,
                           parameter=name)
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def _window(zone) -> tuple[datetime, datetime]:
    """start_date and end_date: at most 90 days apart; either alone spans 90 days from it; neither,
    the last 90 days."""
    start, end = _date("start_date", zone), _date("end_date", zone)
    span = timedelta(days=public.WINDOW_DAYS)
    if start is None and end is None:
        return public.last_days()
    start, end = start or end - span, end or start + span
    if start > end:
        raise GridsysError("date_range_invalid", "start_date is after end_date", status=400)
    if end - start > span:
        raise GridsysError("date_range_too_long", f"start_date and end_date may not span more than "
                                                  f"{public.WINDOW_DAYS} days", status=400, days=public.WINDOW_DAYS)
    return start, end


def _criteria() -> Criteria:
    args = request.args
    town = _jurisdiction()
    zone = settings.of(db.session()).zone
    statuses = _listed("status", "status_unknown", re.compile("open|closed"), "statuses (open, closed)", 2)
    codes = _listed("service_request_id", "service_request_id_invalid", REQUEST_ID, "request codes", MAX_IDS)
    service_codes = _listed("service_code", "service_code_invalid", SERVICE_CODE, "4-digit service codes", 100)
    page = whole_number(args.get("page") or 1, "page_invalid", "page", 1, 1_000_000)
    size = whole_number(args.get("page_size") or public.MAX_PAGE_SIZE, "page_size_invalid", "page_size", 1,
                        public.MAX_PAGE_SIZE)
    since, until = (None, None) if codes else _window(zone)
    return Criteria(zone=Zone("town", town) if town else None, since=since, until=until, service_codes=service_codes,
                    statuses=statuses, codes=codes, page=page, page_size=size)


def _documents(items) -> list[dict]:
    locale, zone = request_locale(), settings.of(db.session()).zone
    return [doc.request(item, locale, zone, _photo_url(item)) for item in items]


def _photo_url(item: public.PublicRequest) -> str | None:
    if not item.photo_ids:
        return None
    return url_for("public.photo", photo_id=item.photo_ids[0], _external=True)


@bp.get(f"/requests.{FMT}")
def requests_index(fmt):
    page = public.requests(db.session(), _criteria())
    return _answer(fmt, "service_requests", _documents(page.items))


@bp.get(f"/requests/<service_request_id>.{FMT}")
def request_show(service_request_id, fmt):
    town = _jurisdiction()
    found = None
    if REQUEST_ID.fullmatch(service_request_id):
        criteria = Criteria(zone=Zone("town", town) if town else None, codes=(service_request_id,), page_size=1)
        found = public.requests(db.session(), criteria).items
    if not found:
        raise NotFound("request_not_found", "no published service request with that id",
                       service_request_id=service_request_id[:40])
    return _answer(fmt, "service_requests", _documents(found))


@bp.get(f"/tokens/<token>.{FMT}")
def token_show(token, fmt):
    _jurisdiction()
    incident = residents.by_token(db.session(), token)
    return _answer(fmt, "service_requests", [{"service_request_id": incident.code, "token": token}])


# --- posting a request --------------------------------------------------------------------------

def _form_text(name: str, most: int, code: str) -> str | None:
    value = request.form.get(name)
    if value is None or not value.strip():
        return None
    value = check_text(value, name).strip()
    if len(value) > most:
        raise GridsysError(code, f"{name} has at most {most} characters", status=400, max_length=most)
    return value


def _attributes() -> dict[str, str]:
    """attribute[code]=value pairs: only the attributes of the service definition (place_detail)."""
    found = {}
    for key in request.form:
        if not key.startswith("attribute"):
            continue
        match = ATTRIBUTE.fullmatch(key)
        if match is None or match.group(1) != doc.PLACE_DETAIL or match.group(2):
            raise GridsysError("attribute_unknown", "the only attribute is attribute[place_detail]: see GET "
                                                    "services/<service_code>", status=400)
        found[doc.PLACE_DETAIL] = _form_text(key, doc.MAX_PLACE_DETAIL, "attribute_invalid") or ""
    return {k: v for k, v in found.items() if v}


def _media_url() -> str | None:
    url = _form_text("media_url", MAX_MEDIA_URL, "media_url_invalid")
    if url is not None and not re.fullmatch(r"https?://[^\s<>\"]+", url):
        raise GridsysError("media_url_invalid", "media_url is an http:// or https:// address", status=400)
    return url


def _contact_name() -> str | None:
    first = _form_text("first_name", 60, "contact_name_invalid")
    last = _form_text("last_name", 60, "contact_name_invalid")
    parts = [p for p in (first, last) if p]
    if not parts:
        return None
    # A Chinese name is written family name first and without a space; a Latin one the other way.
    return (last or "") + (first or "") if not "".join(parts).isascii() else " ".join(parts)


@bp.post(f"/requests.{FMT}")
def request_create(fmt):
    """Create a request from a form-encoded body (api_key required). It follows the resident flow:
    routed to the grid's worker, it waits for 立案 like a report from the residents' page."""
    form = request.form
    session = db.session()
    if not form.get("api_key"):
        raise Forbidden("api_key_missing", "api_key is required to post a request: ask the town's administrators")
    key = keys.verify(session, form.get("api_key"))
    if key is None:
        raise Forbidden("api_key_invalid", "the api_key is unknown or revoked")
    town = _jurisdiction()
    category = _service(form.get("service_code"))
    lat, lon = form.get("lat") or None, form.get("long") or None
    address = _form_text("address_string", 200, "address_too_long")
    if lat is None and lon is None and (address or form.get("address_id")):
        raise GridsysError("location_not_geocoded", "send lat and long: this server cannot place an address_string "
                                                    "or address_id on the map", status=400)
    attributes = _attributes()
    detail = attributes.get(doc.PLACE_DETAIL)
    description = _form_text("description", MAX_DESCRIPTION, "description_too_long") or category.plain_name("zh")
    media_url = _media_url()
    report = NewIncident(client_uuid=uuid.uuid4(), lon=lon, lat=lat, category=category.code, description=description,
                         address="，".join(p for p in (detail, address) if p) or None)
    submitted = residents.submit(session, report, secret=current_app.config["SECRET_KEY"], channel="open311",
                                 phone=_form_text("phone", 40, "phone_invalid"), name=_contact_name())
    incident = submitted.incident
    if town is not None and incident.town_id != town.id:
        raise GridsysError("point_outside_jurisdiction", "the point lies outside the town of jurisdiction_id",
                           status=400, location=[float(lon), float(lat)])
    if media_url:   # kept as a link for the staff: never fetched by the server
        _media_note(session, incident, media_url, key.name)
    keys.mark_used(key)
    session.commit()
    document = doc.created(incident.code, request_locale(), category.response_hours, _tracking_url(submitted.token))
    return _answer(fmt, "service_requests", [document])


def _media_note(session, incident, media_url: str, client: str) -> None:
    record(session, incident, None, "comment", incident.status, incident.status,
           note=f"media_url: {media_url}", data={"media_url": media_url, "open311_client": client})


def _tracking_url(token: str) -> str | None:
    """The private tracking page of the residents' pages, when that blueprint serves one."""
    try:
        return url_for("residents.track", token=token, _external=True)
    except BuildError:
        return None


@bp.route("/<path:rest>", methods=["GET", "POST"])
def elsewhere(rest):
    """Anything else under /open311/v2/: the specification's 404, in its error format."""
    raise NotFound("not_found", "no such Open311 resource: see discovery.xml")
