"""A resident's browser, as the Flask test client: open a grid's page, solve its check (as
static/resident.js does) and send the form; follow the tracking link."""
from __future__ import annotations

import html
import re
import uuid

from sqlalchemy import func, select, text

from gridsys.residents import guard
from tests.incidents.helpers import lonlat

FIELD = re.compile(r'<input type="hidden" name="(\w+)"[^>]*?value="([^"]*)"')


def hidden_fields(page: str) -> dict:
    return {name: html.unescape(value) for name, value in FIELD.findall(page)}


def refusal(response) -> str | None:
    """The code a page's refusal carries (``<p class="flash error" … data-code>``)."""
    found = re.findall(r'<p class="flash error"[^>]*\sdata-code="([^"]*)"', response.get_data(as_text=True))
    return found[0] if found else None


def visible(response) -> str:
    """The text a person reads in <main> (tags, scripts and attributes left out)."""
    page = response.get_data(as_text=True)
    main = re.search(r"<main.*?</main>", page, re.S)
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", main.group(0) if main else page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def open_form(client, path: str, *, solve=True) -> dict:
    """The fields a page's form will send: its CSRF token, its check (solved) and client UUID."""
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    fields = hidden_fields(response.get_data(as_text=True))
    if solve:
        bits = int(re.search(r'data-bits="(\d+)"', response.get_data(as_text=True)).group(1))
        fields["counter"] = guard.solve(fields["challenge"], bits)
    if "client_uuid" in fields and not fields["client_uuid"]:
        fields["client_uuid"] = str(uuid.uuid4())   # resident.js makes it on the phone
    return fields


def report_fields(spot="g11", category="0201", description="小区门口路灯不亮", **changes) -> dict:
    lon, lat = lonlat(spot)
    fields = {"lon": f"{lon:.7f}", "lat": f"{lat:.7f}", "category": category, "description": description,
              "phone": "13800001111"}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def send_report(client, grid_code: str, *, fields: dict | None = None, data=None, **changes):
    """Open /r/<grid>, solve its check and send the report (``fields`` overrides the page's own)."""
    form = open_form(client, f"/r/{grid_code}")
    form.update(report_fields(**changes))
    form.update(fields or {})
    form = {k: v for k, v in form.items() if v is not None}
    return client.post(f"/r/{grid_code}", data={**form, **(data or {})}, content_type="multipart/form-data")


def token_of(response) -> str:
    assert response.status_code == 303, (response.status_code, visible(response)[:500])
    match = re.fullmatch(r"/t/([0-9a-f]{32})", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def rows(session, table: str) -> int:
    return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def counts(session) -> dict:
    """What a resident's request may write."""
    return {table: rows(session, table) for table in ("incidents", "incident_events", "incident_photos",
                                                      "notifications", "resident_attempts", "proofs_spent")}


def count_where(session, model, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions))
