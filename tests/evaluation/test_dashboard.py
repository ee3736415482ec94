"""The evaluation dashboard (/evaluation) and its drill pages (/evaluation/incidents) over HTTP: what
each role sees, the ranking tables' drill links leading to exactly the incidents behind a figure,
refusals in Chinese with their status, and names with markup escaped."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from gridsys import settings
from gridsys.evaluation import periods
from tests.incidents.helpers import act, login, report

T0 = datetime(2026, 10, 5, 1, 0, tzinfo=timezone.utc)   # 09:00 local on 5 October
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}


@pytest.fixture
def history(session, world):
    """October 2026, category deadlines 24 h: in grid 1-1 one incident closed on time (6 h); in
    grid 1-2 one closed late (31 h); in grid 2-1 one never closed (late). On-time closure of the
    town: 1 / 3; of area 1: 1 / 2."""
    done = report(session, world.safety1, "g11", "0201", at=T0)
    act(session, done, world.safety1, "accept", at=T0 + timedelta(hours=2))
    act(session, done, world.safety1, "resolve", note="修好了", at=T0 + timedelta(hours=5))
    act(session, done, world.leader1, "close", at=T0 + timedelta(hours=6))
    slow = report(session, world.worker12, "g12", "0101", at=T0)
    act(session, slow, world.worker12, "accept", at=T0 + timedelta(hours=3))
    act(session, slow, world.worker12, "resolve", note="清运了", at=T0 + timedelta(hours=30))
    act(session, slow, world.leader1, "close", at=T0 + timedelta(hours=31))
    late = report(session, world.worker21, "g21", "0201", at=T0)
    return {"done": done, "slow": slow, "late": late}


def page(client, path="/evaluation", **query):
    response = client.get(path, query_string=query or None)
    return response, response.get_data(as_text=True)


def rows_of(body: str, by: str) -> dict[str, str]:
    """The rows of a ranking/breakdown table, by data-key."""
    table = re.search(rf'<table class="evaluation-rows" data-by="{by}">(.*?)</table>', body, re.S)
    assert table, f"no table by {by}"
    return dict(re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', table.group(1), re.S))


def link(row_html: str, css_class: str) -> str:
    return html.unescape(re.search(rf'<a href="([^"]+)" class="{css_class}">', row_html).group(1))


def drilled_codes(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return re.findall(r'class="code">([^<]+)</a>', response.get_data(as_text=True))


def charts(body: str) -> dict:
    block = re.search(r'<script type="application/json" id="evaluation-charts">(.*?)</script>', body, re.S)
    return json.loads(block.group(1))["charts"]


def test_admin_sees_the_town_ranks_grids_and_drills_into_the_late_ones(client, world, history):
    login(client, "admin")
    response, body = page(client, scope="town", code=world.town.code, **OCTOBER)
    assert response.status_code == 200, body[:2000]
    card = re.search(r'<li class="figure kind-rate" id="figure-on_time_closure_rate".*?</li>', body, re.S).group(0)
    assert "33.3%" in card and "1 / 3" in card and "<details>" in card
    assert "逾期未结 2" in card
    grids = rows_of(body, "grid")
    assert list(grids)[2:] == [world.g11.code, world.g22.code]   # worst first: the two late grids, 1-1 at 100%, then 2-2 with nothing due
    assert set(list(grids)[:2]) == {world.g12.code, world.g21.code}
    assert drilled_codes(client, link(grids[world.g21.code], "late")) == [history["late"].code]
    assert drilled_codes(client, link(grids[world.g12.code], "late")) == [history["slow"].code]
    assert drilled_codes(client, link(grids[world.g11.code], "late")) == []
    assert set(rows_of(body, "area")) == {world.a1.code, world.a2.code}
    assert "safety1" in rows_of(body, "person")
    # The card's "rest" link: every incident not closed on time in the town.
    rest = html.unescape(re.search(r'<a class="rest" href="([^"]+)"', card).group(1))
    assert sorted(drilled_codes(client, rest)) == sorted([history["slow"].code, history["late"].code])
    # The charts' data: the same figures, each bar with the drill link of its row.
    drawn = charts(body)
    assert drawn["grid"]["series"][0]["values"][-1] == 100.0
    assert drawn["grid"]["series"][0]["urls"][0].startswith("/evaluation/incidents?")
    assert len(drawn["month"]["labels"]) == 6 and drawn["month"]["labels"][-1] == "2026-10"
    assert drawn["month"]["series"][0]["values"][-1] == 3      # reported in October
    assert set(drawn) == {"month", "area", "grid", "person", "category", "duty"}


def test_drill_page_lists_exactly_the_numerator_and_pages(client, session, world, history):
    login(client, "admin")
    query = {"scope": "town", "code": world.town.code, **OCTOBER, "indicator": "on_time_closure_rate"}
    _response, body = page(client, "/evaluation/incidents", **query)
    assert re.findall(r'class="code">([^<]+)</a>', body) == [history["done"].code]
    assert "按期结案率" in body and "首次派遣" in body     # its title and definition, in Chinese
    assert f'href="/incidents/{history["done"].id}"' in body
    for n in range(50):   # 51 reported in October in grid 1-1: two pages
        report(session, world.safety1, "g11", "0201", at=T0 + timedelta(minutes=n + 1), commit=False)
    session.commit()
    first, body = page(client, "/evaluation/incidents", **{**query, "indicator": "reported", "part": "denominator",
                                                            "by": "grid", "key": world.g11.code})
    assert first.status_code == 200 and len(re.findall(r'<tr data-incident=', body)) == 50
    following = html.unescape(re.search(r'<a class="button secondary" rel="next" href="([^"]+)"', body).group(1))
    assert "page=2" in following and f"key={world.g11.code}" in following
    _second, body = page(client, following)
    assert len(re.findall(r'<tr data-incident=', body)) == 1 and 'rel="prev"' in body and 'rel="next"' not in body


def test_admin_default_is_last_month_of_the_town(client, session, world):
    zone = settings.of(session).zone
    last = periods.last_month(zone)
    when = last.start + timedelta(days=2, hours=3)
    report(session, world.safety1, "g11", "0201", at=when)
    login(client, "admin")
    response, body = page(client)
    assert response.status_code == 200
    assert f'value="{last.first.strftime("%Y-%m")}"' in body     # the month picker
    assert f'<option value="town:{world.town.code}" selected>' in body
    assert re.search(r'id="figure-reported".*?<strong class="figure-value">1</strong>', body, re.S)


def test_leader_sees_their_area_and_not_the_town(client, world, history):
    login(client, "leader1")
    response, body = page(client, **OCTOBER)
    assert response.status_code == 200
    assert f'<option value="area:{world.a1.code}" selected>' in body
    assert f"town:{world.town.code}" not in body and f"area:{world.a2.code}" not in body
    assert set(rows_of(body, "grid")) == {world.g11.code, world.g12.code}
    assert 'data-by="area"' not in body
    refused, body = page(client, scope="town", code=world.town.code, **OCTOBER)
    assert refused.status_code == 404
    assert 'data-code="town_not_found"' in body and f"没有编码为 {world.town.code} 的镇" in body
    assert refused.status_code == page(client, "/evaluation/incidents", scope="grid", code=world.g21.code,
                                       indicator="reported", **OCTOBER)[0].status_code


def test_worker_sees_their_own_figures(client, world, history):
    login(client, "safety1")
    response, body = page(client, **OCTOBER)
    assert response.status_code == 200
    assert '<option value="person:safety1" selected>' in body and f'value="grid:{world.g11.code}"' in body
    assert re.search(r'id="figure-closed".*?<strong class="figure-value">1</strong>', body, re.S)
    assert 'data-by="grid"' not in body and 'data-by="person"' not in body and 'data-by="category"' in body
    assert page(client, scope="grid", code=world.g11.code, **OCTOBER)[0].status_code == 200
    _response, english = page(client, lang="en", **OCTOBER)
    assert "Evaluation" in english and "Not closed on time" in english and ">2.0 h<" in english
    assert page(client, scope="grid", code=world.g21.code, **OCTOBER)[0].status_code == 404
    assert page(client, scope="person", code="worker21", **OCTOBER)[0].status_code == 404


def test_the_form_reads_subject_and_month(client, world, history):
    login(client, "admin")
    _response, body = page(client, subject=f"area:{world.a2.code}", month="2026-10")
    assert f'<option value="area:{world.a2.code}" selected>' in body
    assert re.search(r'id="figure-reported".*?<strong class="figure-value">1</strong>', body, re.S)
    assert f'value="grid:{world.g21.code}"' in body      # the grids of the area in view
    _response, body = page(client, subject=f"area:{world.a2.code}", month="2026-09", days="1", **OCTOBER)
    assert 'value="2026-10"' in body                     # the days' button: from/to win over the month


@pytest.mark.parametrize("query, code, status, chinese", [
    ({"month": "2026-13"}, "month_invalid", 400, "月份无效"),
    ({"from": "2026-10-31", "to": "2026-10-01"}, "period_invalid", 400, None),
    ({"from": "2025-01-01", "to": "2026-10-01"}, "period_too_long", 400, None),
    ({"scope": "city", "code": "1"}, "scope_invalid", 400, None),
    ({"subject": "grid:999"}, "grid_not_found", 404, "999"),
])
def test_bad_queries_are_refused_on_the_page(client, world, query, code, status, chinese):
    login(client, "admin")
    response, body = page(client, **query)
    assert response.status_code == status
    message = re.search(rf'<p class="flash error" role="alert" data-code="{code}">(.*?)</p>', body, re.S).group(1)
    assert re.search(r"[\u4e00-\u9fff]", message) and (chinese is None or chinese in message)
    assert 'name="subject"' in body                      # the form stays, to ask again


def test_drill_refusals(app, client, world):
    login(client, "admin")
    base = {"scope": "town", "code": world.town.code}
    for extra, code in (({}, "indicator_unknown"), ({"indicator": "closed", "part": "half"}, "part_invalid"),
                        ({"indicator": "closed", "page": "0"}, "page_invalid")):
        response, body = page(client, "/evaluation/incidents", **base, **extra)
        assert response.status_code == 400 and f'data-code="{code}"' in body, extra
    anonymous = app.test_client()
    for path in ("/evaluation", "/evaluation/incidents"):
        assert anonymous.get(path).status_code == 302 and "/login" in anonymous.get(path).location


def test_names_with_markup_are_escaped(client, session, world, history):
    world.g12.name = "<script>alert(1)</script>"
    session.commit()
    login(client, "admin")
    _response, body = page(client, scope="town", code=world.town.code, **OCTOBER)
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)</script>" in " ".join(charts(body)["grid"]["labels"])   # the chart draws it as text
    _response, body = page(client, "/evaluation/incidents", scope="town", code=world.town.code, **OCTOBER,
                           indicator="on_time_closure_rate", part="rest", by="grid", key=world.g12.code)
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
