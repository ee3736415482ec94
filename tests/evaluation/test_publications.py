"""Published evaluations (考核结果公开): a town's figures for a month frozen as published, shown on a
public page and as CSV; a correction is a new, dated publication beside the old one; every refusal
leaves the evaluations table as it was."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from gridsys.errors import GridsysError
from gridsys.evaluation import indicators, periods, publications, subjects
from gridsys.evaluation.models import Publication
from gridsys.people import access
from gridsys.settings import DEFAULTS
from tests.factories import login_as, post_form
from tests.evaluation.conftest import T0
from tests.incidents.helpers import act

OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def admin(app, world):
    return login_as(app.test_client(), world.admin)


@pytest.fixture
def public(app):
    return app.test_client()


def publish(client, town, note=None, **period):
    data = {"town": town, **(period or OCTOBER)}
    if note is not None:
        data["note"] = note
    return post_form(client, "/evaluation/publish", data)


def published_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Publication))


def flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as cookie:
        return list(cookie.get("_flashes", []))


def published_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    match = re.fullmatch(r".*/public/(\d+)/evaluations/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(2))


def csv_table(response) -> list[list[str]]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def late_closed(session, world, late):
    """The late incident closed after its deadline, still in October."""
    at = T0 + timedelta(days=10)
    act(session, late, world.worker21, "accept", at=at)
    act(session, late, world.worker21, "resolve", note="迟了", at=at + timedelta(hours=1))
    act(session, late, world.leader2, "close", at=at + timedelta(hours=2))


def test_publish_shows_the_figures_publicly_and_later_edits_do_not_change_them(session, world, history, admin,
                                                                               public):
    town = world.town.code
    pub_id = published_id(publish(admin, town))
    assert published_count(session) == 1
    assert any(kind == "ok" for kind, _ in flashes(admin))

    page = public.get(f"/public/{town}/evaluations/{pub_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    on_time = re.search(r'data-indicator="on_time_closure_rate">(.*?)</tr>', html, re.S).group(1)
    assert "50.0%" in on_time and "1 / 2" in on_time
    assert "按期结案率" in on_time and "延期" in on_time            # its definition beside it
    assert world.g11.name in html and world.g21.name in html and world.a2.name in html
    assert "2026-10-01" in html and "2026-10-31" in html
    assert re.search(r"<dt>发布者</dt><dd>(.*?)</dd>", html).group(1) == "管理员"   # the role, not the person
    assert "admin" not in html and world.admin.display_name not in re.sub(r'class="definition">[^<]*', "", html)

    table = csv_table(public.get(f"/public/{town}/evaluations/{pub_id}.csv"))
    header, rows = table[0], table[1:]
    assert header[:3] == ["level", "code", "name"]
    col = header.index("on_time_closure_rate")
    assert header[col + 1:col + 3] == ["on_time_closure_rate_numerator", "on_time_closure_rate_denominator"]
    assert [(r[0], r[1]) for r in rows] == [("town", town), ("area", world.a1.code), ("area", world.a2.code),
                                            ("grid", world.g11.code), ("grid", world.g12.code),
                                            ("grid", world.g21.code), ("grid", world.g22.code)]   # quiet ones too
    assert rows[0][col:col + 3] == ["0.5", "1", "2"]
    assert rows[5][2] == world.g21.name and rows[5][col:col + 3] == ["0.0", "0", "1"]
    before_page, before_csv = html, public.get(f"/public/{town}/evaluations/{pub_id}.csv").data

    late_closed(session, world, history[1])
    subject = subjects.resolve(session, access.scope_for(session, world.admin), "town", town)
    live = indicators.compute(session, subject, periods.between(date(2026, 10, 1), date(2026, 10, 31), DEFAULTS.zone))
    assert live["indicators"]["closed"]["value"] == 2            # the live figures moved …
    assert public.get(f"/public/{town}/evaluations/{pub_id}").get_data(as_text=True) == before_page
    assert public.get(f"/public/{town}/evaluations/{pub_id}.csv").data == before_csv   # … the published did not


def test_a_correction_is_a_new_dated_publication_beside_the_old_one(session, world, history, admin, public):
    town = world.town.code
    first = published_id(publish(admin, town, note="首次发布"))
    late_closed(session, world, history[1])

    refused = publish(admin, town)                               # no note: what does it correct?
    assert refused.status_code == 303 and "/evaluation?" in refused.headers["Location"]
    assert ("error", "本期考核结果已公开发布过：请在说明中写明本次发布更正了什么。") in flashes(admin)
    assert published_count(session) == 1

    second = published_id(publish(admin, town, note="补录一件迟办结的事件"))
    correction = session.get(Publication, second)
    assert correction.supersedes_id == first and correction.note == "补录一件迟办结的事件"

    listing = public.get(f"/public/{town}/evaluations").get_data(as_text=True)
    items = re.findall(r'<li class="card evaluation-publication([^"]*)" data-id="(\d+)">(.*?)</li>', listing, re.S)
    assert [int(i[1]) for i in items] == [second, first]          # newest first
    (new_class, _, new_item), (old_class, _, old_item) = items
    assert "更正" in new_item and "补录一件迟办结的事件" in new_item and "corrected" not in new_class
    assert "已更正" in old_item and "corrected" in old_class and f"/evaluations/{second}" in old_item
    assert all(re.search(r"发布于 2026-\d\d-\d\d \d\d:\d\d", item[2]) for item in items)   # each dated

    old_page = public.get(f"/public/{town}/evaluations/{first}").get_data(as_text=True)
    assert "这些数据已于" in old_page and f"/evaluations/{second}" in old_page
    old_closed = re.search(r'data-indicator="closed">.*?class="value">(\d+)', old_page, re.S).group(1)
    new_page = public.get(f"/public/{town}/evaluations/{second}").get_data(as_text=True)
    new_closed = re.search(r'data-indicator="closed">.*?class="value">(\d+)', new_page, re.S).group(1)
    assert (old_closed, new_closed) == ("1", "2")                # the old figures stay readable as they were
    assert "补录一件迟办结的事件" in new_page and f"/evaluations/{first}" in new_page


@pytest.mark.parametrize("who, data, status, code", [
    ("leader1", {}, 403, "role_required"),
    ("admin", {"town": "999999999"}, 404, "town_not_found"),
    ("admin", {"from": "2099-01-01", "to": "2099-01-31"}, 303, "本期尚未结束：2099-01-31 过后才能公开发布考核结果。"),
    ("admin", {"note": "长" * 501}, 303, "说明太长：最多 500 个字符。"),
    ("admin", {"from": "2026-10-31", "to": "2026-10-01"}, 303, None),
])
def test_refusals_leave_the_table_unchanged(session, app, world, history, who, data, status, code):
    client = login_as(app.test_client(), getattr(world, who))
    response = publish(client, data.pop("town", world.town.code), data.pop("note", None), **(data or OCTOBER))
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status == 303:
        assert [kind for kind, _ in flashes(client)] == ["error"]
        if code:
            assert ("error", code) in flashes(client), flashes(client)
    else:
        assert f'data-code="{code}"' in response.get_data(as_text=True)
    assert published_count(session) == 0


def test_csrf_is_required(session, world, history, admin):
    response = admin.post("/evaluation/publish", data={"town": world.town.code, **OCTOBER})
    assert response.status_code == 400 and 'data-code="csrf_invalid"' in response.get_data(as_text=True)
    assert published_count(session) == 0


def test_the_rule_refuses_what_it_must(session, world, history):
    october = periods.between(date(2026, 10, 1), date(2026, 10, 31), DEFAULTS.zone)
    for actor, town, period, note, at, code in (
            (world.leader1, world.town.code, october, "", None, "town_not_found"),       # not theirs to publish
            (world.admin, "500106999", october, "", None, "town_not_found"),
            (world.admin, world.town.code, october, "", datetime(2026, 10, 31, 15, 59, tzinfo=timezone.utc),
             "period_not_over"),                                                           # 23:59 local on the 31st
            (world.admin, world.town.code, october, "x" * 501, None, "note_too_long")):
        with pytest.raises(GridsysError) as refused:
            publications.publish(session, actor, town, period, note, at=at)
        assert refused.value.code == code
    assert published_count(session) == 0
    first = publications.publish(session, world.admin, world.town.code, october,
                                 at=datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc))   # local midnight: over
    assert first.supersedes_id is None and first.figures["publisher_role"] == "admin"
    on_time = next(i for i in first.figures["indicators"] if i["name"] == "on_time_closure_rate")
    assert on_time["label"] == {"zh": "按期结案率", "en": "On-time closure (按期结案率)"}
    assert "延期" in on_time["definition"]["zh"] and "extensions" in on_time["definition"]["en"]


def test_unknown_town_or_publication_is_404(session, world, history, admin, public):
    pub_id = published_id(publish(admin, world.town.code))
    for url in ("/public/999999999/evaluations", f"/public/{world.a1.code}/evaluations",
                f"/public/{world.town.code}/evaluations/{pub_id + 1}",
                f"/public/{world.town.code}/evaluations/{pub_id + 1}.csv",
                f"/public/999999999/evaluations/{pub_id}", f"/public/999999999/evaluations/{pub_id}.csv",
                f"/public/{world.town.code}/evaluations/2147483648"):
        assert public.get(url).status_code == 404, url


def test_hostile_zone_names_are_escaped_in_the_page_and_the_csv(session, world, history, admin, public):
    world.g11.name = SCRIPT
    world.g21.name = '=HYPERLINK("http://evil.example","点我")'
    session.commit()
    pub_id = published_id(publish(admin, world.town.code))
    html = public.get(f"/public/{world.town.code}/evaluations/{pub_id}").get_data(as_text=True)
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    rows = csv_table(public.get(f"/public/{world.town.code}/evaluations/{pub_id}.csv"))
    names = {r[1]: r[2] for r in rows[1:]}
    assert names[world.g21.code] == "'" + world.g21.name and names[world.g11.code] == SCRIPT


def test_the_page_in_english(session, world, history, admin, public):
    pub_id = published_id(publish(admin, world.town.code))
    html = public.get(f"/public/{world.town.code}/evaluations/{pub_id}",
                      headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "On-time closure (按期结案率)" in html and "Administrator" in html and "By grid" in html


def test_the_dashboard_partial_offers_to_publish_and_lists_what_was_published(app, session, world, history):
    subject = subjects.resolve(session, access.scope_for(session, world.admin), "town", world.town.code)
    october = periods.between(date(2026, 10, 1), date(2026, 10, 31), DEFAULTS.zone)
    page = '{% include "evaluation/_publish_form.html" ignore missing %}'

    def render(**context):
        with app.test_request_context("/evaluation"):
            return render_template_string(page, **{"subject": subject, "period": october, **context})

    first = render(publishable=True)
    assert "公开发布本期考核结果" in first and 'name="note"' in first and " required" not in first
    assert 'value="2026-10-01"' in first and 'value="2026-10-31"' in first
    assert render(publishable=False).strip() == ""
    pub = publications.publish(session, world.admin, world.town.code, october)
    session.commit()
    again = render(publishable=True)
    assert f"/public/{world.town.code}/evaluations/{pub.id}" in again and " required" in again
    today = datetime.now(timezone.utc).astimezone(DEFAULTS.zone).date()
    running = render(publishable=True, period=periods.between(today, today, DEFAULTS.zone))
    assert "公开发布本期考核结果" not in running and "本期尚未结束" in running


def test_the_town_page_links_to_its_published_evaluations(session, world, public):
    html = public.get(f"/public/{world.town.code}").get_data(as_text=True)
    assert f'href="/public/{world.town.code}/evaluations"' in html
    assert "/evaluations" not in public.get(f"/public/{world.a1.code}").get_data(as_text=True)
