"""Logging an incident from a phone, in headless Chromium at a phone's viewport: login (screen 1),
the report page (screen 2: location from the phone or a tap on the map, the worker's own
categories first and the rest grouped by duty, a short text; the report goes through the phone's
outbox and shows its code when sent), the incident page (screen 3); then working it there.
The offline behaviour is in test_offline.py."""
from __future__ import annotations

import io
import re
import uuid
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import text

from gridsys.incidents import services

from .helpers import (SPOTS, XSS, XSS_GRID, idle, login, no_sideways_scroll, page_point,
                      user_id)

pytestmark = pytest.mark.browser

GRID1 = "500106110001001"
HERE = {"longitude": 106.3185, "latitude": 29.6295}   # in grid 500106110001001
REPORT_MAP = "window[document.getElementById('report-map').dataset.map]"
LOCATED = "已定位"                                       # "Location set: …"
NO_GPS = "无法获取定位：请在地图上点选位置。"              # "Location is not available here: tap the map instead."
CODE = re.compile(r"500106110001001-\d{8}-\d{3}")


def with_gps(**options):
    return {"geolocation": HERE, "permissions": ["geolocation"], **options}


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 90, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def incident_by_description(db, description):
    return db.execute(text("SELECT id, code, category_code, reporter_id, assignee_id, status, "
                           "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM incidents WHERE description = :d"),
                      {"d": description}).all()


def choose(page, category: str, description: str) -> None:
    label = page.locator(f"label.cat:has(input[value='{category}'])")
    if not label.is_visible():
        page.locator("#all-categories > summary").tap()
    label.tap()
    assert page.locator(f"input[name=category][value='{category}']").is_checked()
    page.fill("textarea[name=description]", description)


def test_from_login_to_sent_in_three_screens(open_page, db):
    page, log = open_page("phone", **with_gps())
    screens = []
    page.on("framenavigated", lambda frame: screens.append(frame.url) if frame == page.main_frame else None)
    login(page, log.base_url, "w0101a")                                          # screen 1
    assert page.url.endswith("/report"), "a grid worker lands on the report page"   # screen 2

    page.wait_for_function("document.getElementById('lat').value !== ''")
    assert float(page.input_value("#lon")) == pytest.approx(HERE["longitude"], abs=1e-6)
    assert float(page.input_value("#lat")) == pytest.approx(HERE["latitude"], abs=1e-6)
    assert LOCATED in page.inner_text("#where-text")

    # Large category buttons: the worker's own duties first, the rest grouped by duty.
    favourites = page.locator("#favourites")
    favourites.locator("label.cat").first.wait_for()
    assert favourites.locator("legend").inner_text() == "我的常用类别"
    own = favourites.locator("label.cat input").evaluate_all("inputs => inputs.map(i => i.value)")
    reported = set(db.execute(text("SELECT DISTINCT category_code FROM incidents i JOIN users u ON u.id = i.reporter_id "
                                   "WHERE u.username = 'w0101a'")).scalars())
    assert len(own) == 8 and all(code[:2] in ("01", "02") or code in reported for code in own), \
        "what they report most, then 创文工作 and 平安综治 (their duties)"
    assert page.locator("details.all-categories fieldset.categories:has(input[value='0401']) legend").text_content() \
        == "文化建设"
    heights = page.locator("label.cat span").evaluate_all(
        "spans => spans.filter(s => s.offsetParent).map(s => s.getBoundingClientRect().height)")
    assert heights and min(heights) >= 44, "category buttons are finger-sized"
    send_top = page.locator("#send").bounding_box()["y"]
    assert send_top + 56 <= 844, "the send button is on screen without scrolling (sticky)"

    description = f"路口井盖缺失 {uuid.uuid4().hex[:8]}"
    choose(page, "0201", description)
    page.set_input_files("input[name=photos]", {"name": "manhole.jpg", "mimeType": "image/jpeg", "buffer": jpeg()})
    page.locator("#photo-thumbs li.thumb img").wait_for()
    assert no_sideways_scroll(page)
    page.locator("#send").tap()
    sent = page.locator("li.outbox-item.sent a.code")                            # sent, with its code
    sent.wait_for()
    code = sent.inner_text()
    assert CODE.fullmatch(code)
    sent.tap()
    page.wait_for_url(re.compile(r"/incidents/\d+$"))                            # screen 3
    assert page.locator("main h1 .code").inner_text() == code
    rows = incident_by_description(db, description)
    assert len(rows) == 1
    row = rows[0]
    assert (row.code, row.category_code, row.status) == (code, "0201", "assigned")
    assert row.reporter_id == row.assignee_id == user_id(db, "w0101a"), "their own safety duty"
    assert (row.lon, row.lat) == (pytest.approx(HERE["longitude"], abs=1e-6), pytest.approx(HERE["latitude"], abs=1e-6))
    assert page.url.endswith(f"/incidents/{row.id}")
    thumbnail = page.locator("main .photos img")
    assert thumbnail.count() == 1
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    documents = [urlsplit(u).path for u in screens if not u.startswith("about:")]
    assert documents == ["/login", "/report", f"/incidents/{row.id}"], "three screens from login to sent"
    idle(page, log)
    log.assert_clean()


def test_a_tap_on_the_map_sets_the_location_without_gps(open_page, db):
    page, log = open_page("phone", "w0101a")   # the phone does not share its location
    page.wait_for_function(f"document.getElementById('where-text').textContent === {NO_GPS!r}")
    assert page.input_value("#lat") == "" and page.input_value("#lon") == ""
    idle(page, log)  # the worker's grids are drawn and fitted

    (lon, lat), _grid = SPOTS["g1_c"]
    page.touchscreen.tap(*page_point(page, lon, lat, REPORT_MAP))
    page.wait_for_function("document.getElementById('lat').value !== ''")
    assert float(page.input_value("#lon")) == pytest.approx(lon, abs=1e-4)
    assert float(page.input_value("#lat")) == pytest.approx(lat, abs=1e-4)
    assert LOCATED in page.inner_text("#where-text")
    marker = page.locator("#report-map .leaflet-marker-icon")
    assert marker.count() == 1

    # The marker can be dragged to fine-tune the place.
    box = marker.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y + 10, steps=5)
    page.mouse.move(x + 40, y + 20, steps=5)
    page.mouse.up()
    page.wait_for_function(f"Math.abs(+document.getElementById('lon').value - {lon}) > 1e-4")
    moved_lon, moved_lat = float(page.input_value("#lon")), float(page.input_value("#lat"))
    assert moved_lon > lon and moved_lat < lat, "40 px right and 20 px down"

    description = f"积水 {uuid.uuid4().hex[:8]}"
    choose(page, "0104", description)
    page.locator("#send").tap()
    page.locator("li.outbox-item.sent a.code").wait_for()
    [row] = incident_by_description(db, description)
    assert (row.lon, row.lat) == (pytest.approx(moved_lon, abs=1e-6), pytest.approx(moved_lat, abs=1e-6))
    idle(page, log)
    log.assert_clean()


def test_without_a_location_nothing_is_sent(open_page, db):
    page, log = open_page("phone", "w0101a")
    page.wait_for_function(f"document.getElementById('where-text').textContent === {NO_GPS!r}")
    description = f"没有位置 {uuid.uuid4().hex[:8]}"
    choose(page, "0101", description)
    page.locator("#send").tap()
    page.wait_for_timeout(300)
    assert log.posts("/report") == [] and log.posts("/api/v1/incidents") == []
    assert page.url.endswith("/report")
    assert page.inner_text("#where-text") == NO_GPS
    assert page.locator("#send").is_enabled(), "they can tap the map and send again"
    assert incident_by_description(db, description) == []
    idle(page, log)
    log.assert_clean()


def test_a_double_tap_on_send_logs_one_incident(open_page, db):
    page, log = open_page("phone", "w0101a", **with_gps())
    page.wait_for_function("document.getElementById('lat').value !== ''")
    description = f"重复点击 {uuid.uuid4().hex[:8]}"
    choose(page, "0101", description)
    page.locator("#send").dblclick()
    page.locator("li.outbox-item.sent a.code").wait_for()
    idle(page, log)
    assert len(incident_by_description(db, description)) == 1
    assert page.locator("li.outbox-item").count() == 1

    # The plain form (what a browser without JavaScript posts) sent twice stores it once: same client UUID.
    page.goto("/report")
    fields = page.evaluate("""() => Object.fromEntries([...new FormData(document.getElementById('report-form'))]
                                                       .filter(([k, v]) => typeof v === 'string'))""")
    description = f"重发 {uuid.uuid4().hex[:8]}"
    fields.update(lon=str(HERE["longitude"]), lat=str(HERE["latitude"]), category="0101", description=description)
    answers = [page.request.post("/report", form=fields, max_redirects=0) for _ in range(2)]
    assert [a.status for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    assert len(incident_by_description(db, description)) == 1
    log.assert_clean()


def test_worker_accepts_on_the_incident_page(open_page, db):
    reporter = db.execute(text("SELECT * FROM users WHERE username = 'w0101b'")).one()
    from gridsys.people.models import User
    incident, _ = services.create_incident(db, db.get(User, reporter.id), services.NewIncident(
        client_uuid=uuid.uuid4(), lon=SPOTS["g1_c"][0][0], lat=SPOTS["g1_c"][0][1], category="0201",
        description="配电箱门被撬开"))
    db.commit()

    page, log = open_page("phone", "w0101a")
    page.goto(f"/incidents/{incident.id}")
    reason = f"派给 w0101a：网格 {GRID1} 的平安综治网格员"
    assert page.locator("main dd.routing").inner_text() == reason
    assert reason in page.locator("ol.timeline").inner_text()
    assert page.locator("main h1 + p .badge").first.inner_text() == "已派遣"

    accept = page.locator("details:has(input[name=action][value=accept])")
    if accept.get_attribute("open") is None:
        accept.locator("summary").tap()
    with page.expect_navigation():
        accept.locator("button[type=submit]").tap()
    assert page.url.endswith(f"/incidents/{incident.id}")
    assert page.locator("main h1 + p .badge").first.inner_text() == "处理中"
    assert page.locator("ol.timeline li").first.locator("strong").inner_text() == "受理"
    assert db.execute(text("SELECT status FROM incidents WHERE id = :i"), {"i": incident.id}).scalar_one() \
        == "in_progress"
    assert no_sideways_scroll(page)
    idle(page, log)
    log.assert_clean()


def test_grid_names_stay_text_on_the_report_page(open_page, db):
    """Administrators type grid names; the report page's tooltip must show them as text."""
    page, log = open_page("phone", "w0105a")
    page.wait_for_function(f"document.getElementById('where-text').textContent === {NO_GPS!r}")
    idle(page, log)
    name = db.execute(text("SELECT name FROM grids WHERE code = :c"), {"c": XSS_GRID}).scalar_one()
    assert name.endswith(XSS)
    lon, lat = db.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                               "WHERE code = :c) s"), {"c": XSS_GRID}).one()
    page.touchscreen.tap(*page_point(page, lon, lat, REPORT_MAP))   # a tap opens the tooltip on phones
    tooltip = page.locator("#report-map .leaflet-tooltip")
    tooltip.wait_for()
    page.wait_for_timeout(200)
    assert page.locator("#report-map .leaflet-tooltip img").count() == 0
    assert tooltip.inner_text() == name
    log.assert_clean()
