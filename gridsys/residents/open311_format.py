"""Open311 GeoReport v2 documents, built as plain data and written as JSON or XML (no Flask).

The JSON is the Spark convention's mapping of the XML (wiki.open311.org/JSON_and_XML_Conversion): a
list in JSON is an element of the plural name in XML holding one element per item, named by
``ITEM_NAMES`` (<services><service>…, <service_requests><request>…, <errors><error>…). XML is
written by xml.etree (every text escaped; characters XML 1.0 cannot hold are dropped), UTF-8 with
its declaration, schemaless and without a namespace, as the specification asks.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

from ..incidents.models import Category
from ..wording import DUTY_NAMES, N_, name, text
from .public import PublicRequest

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-02T00:00:00Z"   # when these documents (discovery, service definitions) last changed shape
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
ITEM_NAMES = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
              "values": "value", "endpoints": "endpoint", "formats": "format"}
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
PLACE_DETAIL = "place_detail"   # the one attribute a client may send: building, unit, door (stored with the address)
MAX_PLACE_DETAIL = 100

SERVICE_DESCRIPTION = N_("%(name)s. Registered or answered within %(hours)s hours, then handled by the grid's workers.")
PLACE_DETAIL_TEXT = N_("Building, unit or door number, if it helps to find the place (optional)")
PLACE_DETAIL_TYPE = N_("Text, at most 100 characters")
RESPONSE_TEXT = N_("Registered or answered within %(hours)s hours")
MERGED_NOTE = N_("A duplicate of an earlier report: merged with it.")
RECEIVED_NOTICE = N_("Received: it will be registered or answered within %(hours)s hours.")
TRACK_NOTICE = N_("Follow it, and rate the result, with this private link: %(url)s")


def w3c(value: datetime | None, zone: ZoneInfo) -> str | None:
    """A time as the W3C note's profile of ISO 8601, with the towns' offset (2026-12-02T09:30:00+08:00)."""
    return value.astimezone(zone).isoformat(timespec="seconds") if value is not None else None


# --- documents ---------------------------------------------------------------------------------

def discovery(url: str, locale: str) -> dict:
    return {"changeset": CHANGESET,
            "contact": text(locale, N_("Ask the town's grid-management office (网格化管理办公室).")),
            "key_service": text(locale, N_("API keys are issued by the town's administrators, one per client "
                                           "application.")),
            "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": CHANGESET, "type": "production",
                           "formats": ["text/xml", "application/json"]}]}


def service(category: Category, locale: str) -> dict:
    duty = name(locale, DUTY_NAMES, category.duty)
    return {"service_code": category.code, "service_name": category.plain_name(locale),
            "description": text(locale, SERVICE_DESCRIPTION, name=category.name(locale),
                                hours=category.response_hours),
            "metadata": True, "type": "realtime",
            "keywords": ", ".join(dict.fromkeys((category.name(locale), category.plain_name(locale), duty))),
            "group": duty}


def definition(category: Category, locale: str) -> dict:
    """The service's attributes: an optional place detail, and (variable false: information only)
    how soon it is answered."""
    return {"service_code": category.code, "attributes": [
        {"variable": True, "code": PLACE_DETAIL, "datatype": "string", "required": False,
         "datatype_description": text(locale, PLACE_DETAIL_TYPE), "order": 1,
         "description": text(locale, PLACE_DETAIL_TEXT)},
        {"variable": False, "code": "response_time", "datatype": "string", "required": False,
         "datatype_description": None, "order": 2,
         "description": text(locale, RESPONSE_TEXT, hours=category.response_hours)}]}


def request(item: PublicRequest, locale: str, zone: ZoneInfo, media_url: str | None) -> dict:
    """One published request (public.PublicRequest: already de-identified). ``description`` is
    never published: what the reporter wrote stays with the staff."""
    replies = [r.text for r in item.replies]
    notes = replies[-1] if replies else (text(locale, MERGED_NOTE) if item.cancel_reason == "duplicate" else None)
    return {"service_request_id": item.code, "status": item.open311_status, "status_notes": notes,
            "service_name": item.category(locale), "service_code": item.service_code, "description": None,
            "agency_responsible": item.place(locale, levels=2), "service_notice": None,
            "requested_datetime": w3c(item.requested_at, zone), "updated_datetime": w3c(item.updated_at, zone),
            "expected_datetime": w3c(item.expected_at, zone), "address": item.place(locale),
            "address_id": None, "zipcode": None, "lat": item.lat, "long": item.lon, "media_url": media_url}


def created(code: str, locale: str, hours: int, tracking_url: str | None) -> dict:
    """The answer to POST requests: a realtime service, so its service_request_id (and no token)."""
    notice = text(locale, RECEIVED_NOTICE, hours=hours)
    if tracking_url:
        notice += ("" if locale == "zh" else " ") + text(locale, TRACK_NOTICE, url=tracking_url)
    return {"service_request_id": code, "service_notice": notice, "account_id": None}


def error(status: int, code: str, message: str) -> dict:
    """One entry of the errors list: ``code`` the HTTP status (as the specification's examples),
    ``description`` the stable gridsys code and the message a person reads: "api_key_invalid: …"."""
    return {"code": status, "description": f"{code}: {message}"}


# --- writing ------------------------------------------------------------------------------------

def render(fmt: str, root: str, data) -> str:
    """``data`` (a dict, or a list of items of ``root``) as the JSON or XML text of the document."""
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    element = ET.Element(root)
    _fill(element, root, data)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")


def _fill(element: ET.Element, tag: str, value) -> None:
    if isinstance(value, list):
        item_name = ITEM_NAMES[tag]
        for item in value:
            _fill(ET.SubElement(element, item_name), item_name, item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _fill(ET.SubElement(element, key), key, inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = NOT_XML.sub("", str(value))
