"""The map pages in headless Chromium, at a phone's and a laptop's viewport: they load with no
console error and no request leaving 127.0.0.1, show the viewer's open incidents (and only
those), filter, put the late and escalated first, and keep user-written text as text."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from .helpers import (SPOTS, XSS, XSS_GRID, idle, in_view, list_codes, map_count, no_sideways_scroll, open_codes_all,
                      open_codes_in_areas, open_codes_of_worker, page_point, settle, wait_for_map)

pytestmark = pytest.mark.browser

AREA1 = "500106110001"
INCIDENTS = re.compile(r"/api/v1/incidents\.geojson\?")


def lonlat(spot):
    return SPOTS[spot][0]


def code_of(db, incident_id) -> str:
    return db.execute(text("SELECT code FROM incidents WHERE id = :i"), {"i": incident_id}).scalar_one()


@pytest.mark.parametrize("viewport", ["phone", "laptop"])
def test_leader_lands_on_the_map_of_their_area(open_page, db, browser_db, viewport):
    page, log = open_page(viewport, "leader01")
    assert page.url.endswith("/map"), "an area leader lands on the map after logging in"
    wait_for_map(page, log)

    # Other areas' incidents lie inside the view, so leaving them out is the scope's doing.
    for spot in ("b2_a", "h3_a"):
        assert in_view(page, *lonlat(spot)), f"test data: {spot} should be on the leader's screen"
    mine = open_codes_in_areas(db, [AREA1])
    assert map_count(page) == len(mine)
    assert set(list_codes(page)) == mine
    assert page.locator(".inc-marker, .marker-cluster").count() > 0

    # Late and escalated first: once an ordinary one appears no urgent one follows.
    classes = page.locator("#map-list li.incident").evaluate_all("items => items.map(i => i.className)")
    urgent = [bool(re.search(r"\b(overdue|escalated)\b", c)) for c in classes]
    assert urgent[0], f"the list starts with an ordinary incident: {classes}"
    assert urgent == sorted(urgent, reverse=True), classes
    escalated = code_of(db, browser_db.incidents["late_escalated"])
    assert list_codes(page)[0] == escalated, "escalated and late comes before merely late"

    # One category.
    facilities = open_codes_in_areas(db, [AREA1], category="0104")
    assert 0 < len(facilities) < len(mine)
    with page.expect_response(INCIDENTS):
        page.select_option("#map-filters select[name=category]", "0104")
    settle(page, log)
    assert map_count(page) == len(facilities)
    assert set(list_codes(page)) == facilities

    # Back to every category, then overdue only.
    with page.expect_response(INCIDENTS):
        page.select_option("#map-filters select[name=category]", "")
    settle(page, log)
    assert map_count(page) == len(mine)
    late = open_codes_in_areas(db, [AREA1], overdue_only=True)
    assert 0 < len(late) < len(mine)
    with page.expect_response(INCIDENTS):
        page.check("#map-filters input[name=overdue]")
    settle(page, log)
    assert map_count(page) == len(late)
    assert set(list_codes(page)) == late
    assert page.locator("#map-list li.incident:not(.overdue)").count() == 0

    # Zoomed in on a late incident, its marker stands out.
    page.uncheck("#map-filters input[name=overdue]")
    lon, lat = lonlat("g1_b")
    page.evaluate("([lat, lon]) => window.gridsysMap.map.setView([lat, lon], 18, {animate: false})", [lat, lon])
    settle(page, log)
    marker = page.locator(".inc-marker.overdue")
    assert marker.count() == 1
    box = marker.bounding_box()
    x, y = page_point(page, lon, lat)
    assert abs(box["x"] + box["width"] / 2 - x) < 3 and abs(box["y"] + box["height"] / 2 - y) < 3

    if viewport == "phone":
        assert no_sideways_scroll(page)
    log.assert_clean()


def test_user_written_text_stays_text(open_page, db, browser_db):
    """The description <img src=x onerror=alert(1)> is shown as those characters everywhere."""
    page, log = open_page("phone", "leader01")
    incident_id = browser_db.incidents["xss"]
    code = code_of(db, incident_id)
    wait_for_map(page, log)
    assert code in list_codes(page)
    assert page.locator("#map-list img").count() == 0

    # Its popup, opened by tapping its marker.
    lon, lat = lonlat("g1_d")
    page.evaluate("([lat, lon]) => window.gridsysMap.map.setView([lat, lon], 18, {animate: false})", [lat, lon])
    settle(page, log)
    page.touchscreen.tap(*page_point(page, lon, lat))
    popup = page.locator(".leaflet-popup .gs-popup")
    popup.wait_for()
    assert code in popup.inner_text()
    assert page.locator(".leaflet-popup img").count() == 0
    handler = db.execute(text("SELECT u.display_name FROM incidents i JOIN users u ON u.id = i.assignee_id "
                              "WHERE i.id = :i"), {"i": incident_id}).scalar_one()
    assert handler in popup.inner_text()   # the display name (GeoJSON assignee_name), not the username

    page.goto(f"/incidents/{incident_id}")
    assert page.locator("main .description").inner_text() == XSS
    assert page.locator("main .description *").count() == 0

    page.goto("/incidents?status=open")
    row = page.locator("ul.incidents li.incident", has=page.locator(f".code:text-is('{code}')"))
    assert row.locator(".desc").inner_text() == XSS
    assert page.locator("ul.incidents img").count() == 0
    page.wait_for_timeout(200)  # an onerror handler would have fired by now
    log.assert_clean()


def test_grid_names_stay_text_in_map_tooltips(open_page, db):
    """Administrators type zone names; the map's grid tooltip shows them as text."""
    page, log = open_page("laptop", "leader01")
    wait_for_map(page, log)
    name = db.execute(text("SELECT name FROM grids WHERE code = :c"), {"c": XSS_GRID}).scalar_one()
    assert name.endswith(XSS)
    lon, lat = db.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                               "WHERE code = :c) s"), {"c": XSS_GRID}).one()
    page.evaluate("([lat, lon]) => window.gridsysMap.map.setView([lat, lon], 17, {animate: false})", [lat, lon])
    settle(page, log)
    page.mouse.move(*page_point(page, lon, lat))
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert name in tooltip.inner_text()
    assert tooltip.locator("img").count() == 0
    page.wait_for_timeout(200)
    log.assert_clean()


def test_worker_map_holds_only_their_scope(open_page, db):
    page, log = open_page("phone", "w0101a")
    page.click("header summary.menu-button")   # on a phone the nav is a menu
    page.click("header nav a[href='/map']")
    wait_for_map(page, log)

    # In view: one they reported next door (in scope), one next door and one in another area that
    # are not theirs (out of scope).
    for spot in ("g3_a", "g3_b", "b2_a"):
        assert in_view(page, *lonlat(spot)), f"test data: {spot} should be on the worker's screen"
    mine = open_codes_of_worker(db, "w0101a")
    others = open_codes_all(db) - mine
    assert any(c.startswith("500106110001003") for c in mine), "the one they reported elsewhere"
    assert any(c.startswith("500106110001003") for c in others) and any(c.startswith("500106110002") for c in others)
    shown = list_codes(page)
    assert map_count(page) == len(mine)
    assert set(shown) == mine
    assert not set(shown) & others

    # A tap on the map offers to log an incident there.
    box = page.locator("#map-box").bounding_box()
    x, y = box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.25
    assert page.evaluate("([x, y]) => !document.elementFromPoint(x, y).closest('.leaflet-marker-icon')", [x, y])
    lat, lon = page.evaluate("([x, y]) => { const m = window.gridsysMap.map, r = m.getContainer()"
                             ".getBoundingClientRect(), ll = m.containerPointToLatLng([x - r.left, y - r.top]);"
                             " return [ll.lat, ll.lng]; }", [x, y])
    page.touchscreen.tap(x, y)  # (the popup then pans the map to fit)
    link = page.locator(".leaflet-popup a.button")
    link.wait_for()
    href = link.get_attribute("href")
    match = re.fullmatch(r"/report\?lon=(-?\d+\.\d{7})&lat=(-?\d+\.\d{7})", href)
    assert match, href
    assert float(match[1]) == pytest.approx(lon, abs=1e-4) and float(match[2]) == pytest.approx(lat, abs=1e-4)
    link.tap()
    page.wait_for_url("**/report?*")
    assert page.input_value("#lon") == match[1] and page.input_value("#lat") == match[2]
    idle(page, log)
    log.assert_clean()


def test_admin_map_draws_grids_and_gaps(open_page, db):
    page, log = open_page("laptop", "admin")
    page.click("header nav a[href='/map']")
    wait_for_map(page, log)
    page.wait_for_function("document.querySelectorAll('path[stroke=\"#dc2626\"]').length > 0")

    grids = db.execute(text("SELECT count(*) FROM grids")).scalar_one()
    drawn = page.locator("path[stroke='#1d4ed8'], path[stroke='#ea580c']").count()
    assert drawn == grids
    gaps = page.evaluate("fetch('/api/v1/map/gaps.geojson').then(r => r.json())"
                         ".then(d => d.features.map(f => f.properties.code))")
    assert gaps == ["500106110004"], "the grid left out of area 004 is its only gap"
    assert page.locator("path[stroke='#dc2626']").count() == len(gaps)

    everything = open_codes_all(db)
    assert map_count(page) == len(everything)
    assert set(list_codes(page)) == everything
    log.assert_clean()
