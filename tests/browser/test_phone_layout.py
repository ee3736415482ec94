"""The phone layout (issue 11) at 390x844 for each demo role: the header nav folds into a menu
that fits the screen, with the unread count on the menu button; every primary tap target (buttons,
nav links, map markers and clusters, the map's filters) is at least 44x44 px and on screen; no map
draws over the header; nothing scrolls sideways; tables are cards. On the map overdue and
escalated incidents stand apart from clusters, and a cluster wears its most urgent member's colour.
At 1366x768 the nav stays inline."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from .helpers import OPEN, idle, settle, wait_for_map

pytestmark = pytest.mark.browser

WIDTH = 390
MIN_TAP = 44
AREA1 = "500106110001"

# Role -> (its incident for the incident page, the pages to visit).
PAGES = {
    "w0101a": ("garbage", ["/", "/map", "/incidents", "/incidents/{id}", "/inbox"]),
    "leader01": ("late_escalated", ["/", "/map", "/incidents", "/incidents/{id}", "/inbox", "/escalations"]),
    "admin": ("late_escalated", ["/", "/map", "/incidents", "/incidents/{id}", "/inbox", "/escalations",
                                 "/admin/people", "/admin/people/w0101a", "/admin/gaps", "/zones"]),
}

# Primary tap targets; a checkbox's target is its label.
PRIMARY = ", ".join([
    "main button", "main .button", "main summary", "main input[type=submit]", "main li.incident a", "main td a",
    "#map-filters select", "#map-filters input:not([type=checkbox])", "#map-filters label.check",
    ".leaflet-marker-icon", ".leaflet-control-zoom a"])

SMALL_OR_OFF_SCREEN = """([selector, minimum, width]) => {
    const found = [];
    for (const el of document.querySelectorAll(selector)) {
        if (!el.checkVisibility() || !el.getClientRects().length) { continue; }
        if (el.closest('.leaflet-container') && !el.closest('.leaflet-control')) {
            const map = el.closest('.leaflet-container').getBoundingClientRect(), r = el.getBoundingClientRect();
            if (r.right < map.left || r.left > map.right || r.bottom < map.top || r.top > map.bottom) { continue; }
        }
        const r = el.getBoundingClientRect();
        const name = el.tagName.toLowerCase() + '.' + el.className + ' "' + el.textContent.trim().slice(0, 20) + '"';
        if (r.width < minimum || r.height < minimum) { found.push(`${name} is ${r.width}x${r.height}`); }
        if (!el.closest('.leaflet-container') && (r.left < 0 || r.right > width + 0.5)) {
            found.push(`${name} lies off screen: ${r.left}..${r.right}`);
        }
    }
    return found;
}"""

# Scroll so the map lies under the sticky header, then ask what is drawn at points of the header.
HEADER_COVERED = """() => {
    const header = document.querySelector('header.topbar'), map = document.querySelector('.leaflet-container');
    window.scrollBy(0, map.getBoundingClientRect().top - 10);
    const h = header.getBoundingClientRect(), m = map.getBoundingClientRect();
    const under = m.top < h.bottom && m.bottom > h.bottom;
    const covered = [];
    for (let x = 4; x < window.innerWidth; x += 24) {
        for (const y of [h.top + 4, (h.top + h.bottom) / 2, h.bottom - 4]) {
            const el = document.elementFromPoint(x, y);
            if (!el || !header.contains(el)) { covered.push(`${x},${y}: ${el && el.className}`); }
        }
    }
    window.scrollTo(0, 0);
    return {under, covered};
}"""

MENU_ITEMS = """() => Array.from(document.querySelectorAll('header nav a, header nav button')).map(el => {
    el.scrollIntoView({block: 'nearest'});
    const r = el.getBoundingClientRect(), hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {name: el.textContent.trim(), visible: el.checkVisibility(), left: r.left, right: r.right, top: r.top,
            bottom: r.bottom, width: r.width, height: r.height, tappable: !!hit && el.contains(hit)};
})"""


def ids_where(db, condition: str) -> set[int]:
    """Open incidents of area 1 (leader01's) that meet ``condition``."""
    sql = (f"SELECT i.id FROM incidents i JOIN areas a ON a.id = i.area_id WHERE a.code = :area "
           f"AND i.status = ANY(:open) AND ({condition})")
    return set(db.execute(text(sql), {"area": AREA1, "open": list(OPEN)}).scalars())


def check_menu(page, path: str) -> None:
    summary = page.locator("header summary.menu-button")
    assert summary.is_visible(), f"{path}: no menu button"
    assert not page.locator("header nav").is_visible(), f"{path}: the nav is not folded"
    box = summary.bounding_box()
    assert box["width"] >= MIN_TAP and box["height"] >= MIN_TAP and box["x"] + box["width"] <= WIDTH
    inbox_count = page.locator("header nav .inbox-link .count")
    if inbox_count.count():
        badge = page.locator("header summary .count")
        assert badge.is_visible(), f"{path}: the unread count is hidden with the menu folded"
        assert badge.inner_text() == inbox_count.text_content()

    summary.tap()
    items = page.evaluate(MENU_ITEMS)
    assert len(items) >= 4
    for item in items:
        where = f"{path}: menu item {item['name']!r}"
        assert item["visible"], f"{where} is hidden in the open menu"
        assert item["left"] >= 0 and item["right"] <= WIDTH, f"{where} lies off screen: {item}"
        assert item["top"] >= 0 and item["bottom"] <= page.viewport_size["height"], f"{where} out of reach: {item}"
        assert item["width"] >= MIN_TAP and item["height"] >= MIN_TAP, f"{where} is too small: {item}"
        assert item["tappable"], f"{where} is covered by something else"
    page.keyboard.press("Escape")
    assert not page.locator("header nav").is_visible(), f"{path}: Escape leaves the menu open"


@pytest.mark.parametrize("user", list(PAGES))
def test_every_page_fits_a_phone(open_page, browser_db, user):
    page, log = open_page("phone", user)
    incident, paths = PAGES[user]
    for path in paths:
        path = path.format(id=browser_db.incidents[incident])
        page.goto(path)
        assert page.url.endswith(path), f"{path} went to {page.url}"
        if path == "/map":
            wait_for_map(page, log)
        else:
            idle(page, log)
        check_menu(page, path)
        small = page.evaluate(SMALL_OR_OFF_SCREEN, [PRIMARY, MIN_TAP, WIDTH])
        assert small == [], f"{path}: tap targets too small or off screen"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDTH, f"{path} scrolls sideways"
        if path.startswith(("/admin", "/zones")):
            for table in page.locator("main table").all():
                assert table.locator("thead").evaluate("t => t.getBoundingClientRect().height") <= 1
                rows = table.locator("tbody tr")
                # A card: its cells one under another, none beside another.
                assert rows.count() and rows.evaluate_all("""rs => rs.every(r => {
                    const cells = Array.from(r.cells).filter(c => c.getClientRects().length)
                                       .map(c => c.getBoundingClientRect());
                    return cells.every((a, i) => cells.every((b, j) => i === j || a.bottom <= b.top + 1
                                                                      || b.bottom <= a.top + 1));
                })"""), f"{path}: a table is still a table"
        if page.locator(".leaflet-container").count():
            page.wait_for_selector(".leaflet-control-zoom")
            found = page.evaluate(HEADER_COVERED)
            if path == "/map":
                assert found["under"], "test: the map should lie under the header once scrolled"
            assert found["covered"] == [], f"{path}: the map draws over the header"
    log.assert_clean()


def test_urgent_incidents_stand_out_on_the_landing_map(open_page, db):
    page, log = open_page("phone", "leader01")
    assert page.url.endswith("/map"), "an area leader lands on the map"
    wait_for_map(page, log)
    overdue = ids_where(db, "i.due_at < now()")
    escalated = ids_where(db, "i.escalation_level > 0")
    hot = overdue | escalated
    assert overdue and escalated and len(hot) < len(ids_where(db, "true"))

    def hot_markers_in_sight():
        for incident_id in hot:
            marker = page.locator(f".inc-marker[data-incident='{incident_id}']")
            assert marker.count() == 1, f"incident {incident_id} has no marker of its own"
            box = marker.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            assert page.evaluate("([x, y, id]) => !!document.elementFromPoint(x, y)"
                                 ".closest(`.inc-marker[data-incident='${id}']`)", [x, y, incident_id]), \
                f"incident {incident_id}'s marker is covered"
            assert box["width"] >= MIN_TAP and box["height"] >= MIN_TAP

    hot_markers_in_sight()
    # Zoomed out until the others gather in one cluster: the hot ones still stand on their own.
    page.evaluate("window.gridsysMap.map.setZoom(12, {animate: false})")
    settle(page, log)
    assert page.locator(".marker-cluster").count() >= 1
    hot_markers_in_sight()
    overdue_colour = page.locator(".inc-marker.overdue i").first.evaluate("i => getComputedStyle(i).backgroundColor")

    # Past the limit of hot markers drawn apart they cluster too, and a cluster holding an overdue
    # one takes the overdue colour; a cluster of ordinary ones does not.
    clusters = """() => {
        const group = window.gridsysMap.cluster, seen = new Map();
        group.getLayers().forEach(m => {
            const parent = group.getVisibleParent(m);
            if (parent && parent.getAllChildMarkers) { seen.set(parent, parent.getAllChildMarkers().map(c => c.feature.id)); }
        });
        return Array.from(seen, ([c, members]) => ({members,
            colour: getComputedStyle(c.getElement().querySelector('div')).backgroundColor,
            size: [c.getElement().offsetWidth, c.getElement().offsetHeight]}));
    }"""
    assert all(not set(c["members"]) & hot for c in page.evaluate(clusters)), "a hot incident is in a cluster"
    page.evaluate("() => { window.gridsysMap.hotLimit = 0; return window.gridsysMap.reloadIncidents(); }")
    settle(page, log)
    found = page.evaluate(clusters)
    with_overdue = [c for c in found if set(c["members"]) & overdue]
    assert with_overdue, f"test: an overdue incident should sit in a cluster at this zoom: {found}"
    for c in found:
        assert min(c["size"]) >= MIN_TAP
        if set(c["members"]) & overdue:
            assert c["colour"] == overdue_colour, f"a cluster with an overdue member is {c['colour']}"
        elif not set(c["members"]) & hot:
            assert c["colour"] != overdue_colour
    log.assert_clean()


def test_laptop_keeps_the_nav_inline(open_page):
    page, log = open_page("laptop", "admin")
    idle(page, log)
    assert not page.locator("header summary.menu-button").is_visible()
    header = page.locator("header.topbar").bounding_box()
    for always in ("a[href='/map']", "a[href='/incidents']", "a.inbox-link", "button[type=submit]", "a[lang]"):
        assert page.locator(f"header nav {always}").is_visible(), f"{always} is not shown inline"
    # (A link may be left out on purpose, e.g. an empty queue: what is shown must lie in the header.)
    links = page.locator("header nav a, header nav button").filter(visible=True)
    assert links.count() >= 6
    for link in links.all():
        box = link.bounding_box()
        assert header["y"] <= box["y"] and box["y"] + box["height"] <= header["y"] + header["height"], \
            f"{link.inner_text()!r} hangs out of the header"
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1366
    log.assert_clean()
