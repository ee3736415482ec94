"""Plain helpers for the browser tests: viewports, what a page did (console, requests, dialogs),
logging in through the real form, and what the database says a person should see.

The expected sets are computed here with plain SQL over the tables, not with the app's own
scope helper, so a scoping bug in the app cannot hide itself in the test's expectation.
"""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import waitress
from sqlalchemy import text

from gridsys import create_app
from gridsys.incidents import services

PASSWORD = "browser tests only 1"
XSS = "<img src=x onerror=alert(1)>"

# Browsers set to Chinese, as the town's are: a new visitor's language follows Accept-Language.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
LAPTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN"}
VIEWPORTS = {"phone": PHONE, "laptop": LAPTOP}

OPEN = ("reported", "assigned", "in_progress", "reopened")
TOWN = "500106110"
GAP_GRID = "500106110004006"   # left out of the import: area 004 then has ground no grid covers
XSS_GRID = "500106110001005"   # its name carries markup (administrators type names)

# Points of the demo town (lon, lat) and the grid each lies in (checked when the data is made).
SPOTS = {
    "g1_a": ((106.3185, 29.6295), "500106110001001"),
    "g1_b": ((106.3160, 29.6330), "500106110001001"),
    "g1_c": ((106.3210, 29.6265), "500106110001001"),
    "g1_d": ((106.3150, 29.6255), "500106110001001"),
    "g1_e": ((106.3225, 29.6340), "500106110001001"),
    "g2_a": ((106.3310, 29.6330), "500106110001002"),
    "g3_a": ((106.3205, 29.6242), "500106110001003"),   # next to grid 1: on its worker's screen too
    "g3_b": ((106.3165, 29.6228), "500106110001003"),   # likewise
    "g4_a": ((106.3310, 29.6200), "500106110001004"),
    "g5_a": ((106.3460, 29.6250), "500106110001005"),
    "b2_a": ((106.3150, 29.6375), "500106110002002"),   # area 2, next to area 1's grid 1
    "h3_a": ((106.3430, 29.6320), "500106110003003"),
}


@dataclass
class PageLog:
    """Everything a page did that a test asserts on."""
    base_url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, url)
    in_flight: set = field(default_factory=set)   # fetches of the app's API not answered yet
    incidents_urls: list[str] = field(default_factory=list)  # what the map asked for, in order
    pending: set = field(default_factory=set)     # every request not answered yet

    def attach(self, page) -> None:
        page.on("console", lambda m: self.console_errors.append(f"{m.text} @ {m.location}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("request", self._request)
        page.on("requestfinished", self._done)
        page.on("requestfailed", self._done)
        page.on("dialog", self._dialog)

    def _request(self, request) -> None:
        url = request.url
        self.requests.append((request.method, url))
        self.pending.add(request)
        if not url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            self.external.append(url)
        if "/api/" in url:
            self.in_flight.add(request)
        if "/api/v1/incidents.geojson?" in url:
            self.incidents_urls.append(url)

    def _done(self, request) -> None:
        self.in_flight.discard(request)
        self.pending.discard(request)

    def drain(self, page, timeout: float = 5.0) -> None:
        """Let requests finish before the context closes: a request cut off mid-answer leaves
        the development server's open file to the garbage collector (a ResourceWarning)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline and not page.is_closed():
            page.wait_for_timeout(40)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def posts(self, path: str) -> list[str]:
        return [url for method, url in self.requests if method == "POST" and url.split("?")[0].endswith(path)]

    def assert_clean(self) -> None:
        assert self.console_errors == [], "console errors"
        assert self.page_errors == [], "uncaught page errors"
        assert self.external == [], "requests leaving 127.0.0.1"
        assert self.dialogs == [], "dialogs (alert/confirm) fired"


# The bbox the map would ask for now (static/map.js: the view padded by a quarter, 6 decimals),
# or null while it zooms or pans (it asks again 300 ms after the move ends).
WANTED_BBOX = """() => {
    const m = window.gridsysMap.map;
    if (m._animatingZoom || (m._panAnim && m._panAnim._inProgress)) { return null; }
    const b = m.getBounds().pad(0.25);
    return [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180),
            Math.min(b.getNorth(), 90)].map(v => v.toFixed(6)).join(",");
}"""


def settle(page, log: PageLog, timeout: float = 10.0) -> None:
    """Wait until the map shows the data of its current view: no API request in flight and the
    last incidents request asked for the bbox of the view now on screen."""
    deadline = time.monotonic() + timeout
    while True:
        if not log.in_flight and log.incidents_urls:
            asked = parse_qs(urlsplit(log.incidents_urls[-1]).query).get("bbox", [None])[0]
            if asked is not None and asked == page.evaluate(WANTED_BBOX) and not log.in_flight:
                page.wait_for_timeout(30)  # the answer is drawn in the task after it arrives
                if not log.in_flight:
                    return
        assert time.monotonic() < deadline, f"the map did not settle: in flight {log.in_flight}, " \
                                            f"last asked {log.incidents_urls[-1:]}"
        page.wait_for_timeout(40)


def idle(page, log: PageLog, timeout: float = 10.0) -> None:
    """Wait until no request of the app's API is in flight (pages other than the map)."""
    deadline = time.monotonic() + timeout
    page.wait_for_timeout(30)
    while log.in_flight:
        assert time.monotonic() < deadline, f"requests never answered: {log.in_flight}"
        page.wait_for_timeout(40)


def wait_for_map(page, log: PageLog) -> None:
    page.wait_for_selector('#map-box[data-ready="1"]', state="attached")
    settle(page, log)


def map_count(page) -> int:
    return int(page.get_attribute("#map-box", "data-incidents"))


def list_codes(page) -> list[str]:
    return page.locator("#map-list li.incident .code").all_inner_texts()


def in_view(page, lon: float, lat: float, map_var: str = "window.gridsysMap.map") -> bool:
    return page.evaluate(f"([lon, lat]) => {map_var}.getBounds().contains([lat, lon])", [lon, lat])


def page_point(page, lon: float, lat: float, map_var: str = "window.gridsysMap.map") -> tuple[float, float]:
    """Where (lon, lat) is drawn on the page, in CSS pixels of the viewport."""
    xy = page.evaluate(f"""([lon, lat]) => {{
        const m = {map_var}, p = m.latLngToContainerPoint([lat, lon]),
              r = m.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }}""", [lon, lat])
    return xy[0], xy[1]


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def login(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the real form (screen 1) and wait for the landing page."""
    page.goto(f"{base_url}/login")
    page.fill("main form input[name=username]", username)
    page.fill("main form input[name=password]", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login" not in page.url, f"login of {username} failed: {page.url}"


@contextmanager
def served(browser_db, **config):
    """The app on the browser tests' data, served by waitress (what `make run` serves: it reads
    each request whole) from a thread on 127.0.0.1; ``config`` on top of the tests' own (tiles
    off: nothing leaves the machine)."""
    app = create_app({"DATABASE_URL": browser_db.url, "SECRET_KEY": "t", "TILES_URL": "",
                      "WEBHOOKS_IN_BACKGROUND": False, **config})
    # poll(), as gridsys.serve: closing the server from this thread while its loop waits in select()
    # on the same sockets made select() fail (EBADF) in that thread, an error at a test's teardown.
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=6, asyncore_use_poll=True)
    thread = threading.Thread(target=server.run, name="gridsys-live-server", daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(app=app, port=server.effective_port,
                              url=f"http://127.0.0.1:{server.effective_port}")
    finally:
        server.close()
        thread.join(timeout=10)
        app.extensions["gridsys.engine"].dispose()


@contextmanager
def page_opener(browser, base_url: str):
    """opener(viewport="phone", user=None, **context_options) -> (page, log): a fresh context on
    ``base_url`` at the viewport, logged in through the form when ``user`` is given. Requests that
    would leave ``base_url`` are recorded (in the log) and aborted; contexts close at the end."""
    opened = []

    def opener(viewport="phone", user=None, **options):
        # Playwright's wait_for_function evaluates strings, which the app's CSP forbids: tests
        # bypass the CSP, except test_csp.py, which opens pages with it (bypass_csp=False).
        options.setdefault("bypass_csp", True)
        context = browser.new_context(base_url=base_url, **VIEWPORTS[viewport], **options)
        context.set_default_timeout(10_000)
        context.route(lambda url: not url.startswith(base_url), lambda route: route.abort())
        page = context.new_page()
        log = PageLog(base_url)
        log.attach(page)
        opened.append((context, page, log))
        if user:
            login(page, base_url, user)
        return page, log

    try:
        yield opener
    finally:
        for context, page, log in opened:
            log.drain(page)
            context.close()


# --- what the database says ---------------------------------------------------------------

def user_id(session, username: str) -> int:
    return session.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one()


def open_codes_in_areas(session, area_codes, *, category=None, overdue_only=False) -> set[str]:
    """Open incidents whose area is one of ``area_codes`` (an area leader's map)."""
    sql = ("SELECT i.code FROM incidents i JOIN areas a ON a.id = i.area_id "
           "WHERE a.code = ANY(:areas) AND i.status = ANY(:open)")
    if category:
        sql += " AND i.category_code = :category"
    if overdue_only:
        sql += " AND i.due_at < now()"
    return set(session.execute(text(sql), {"areas": list(area_codes), "open": list(OPEN),
                                           "category": category}).scalars())


def open_codes_of_worker(session, username: str) -> set[str]:
    """Open incidents of the worker's current grids, plus the ones they reported or handle."""
    uid = user_id(session, username)
    sql = ("SELECT i.code FROM incidents i WHERE i.status = ANY(:open) AND ("
           " i.grid_id IN (SELECT grid_id FROM grid_assignments WHERE user_id = :uid AND valid_to IS NULL)"
           " OR i.reporter_id = :uid OR i.assignee_id = :uid)")
    return set(session.execute(text(sql), {"open": list(OPEN), "uid": uid}).scalars())


def open_codes_all(session) -> set[str]:
    return set(session.execute(text("SELECT code FROM incidents WHERE status = ANY(:open)"),
                               {"open": list(OPEN)}).scalars())


def report(session, reporter, lon: float, lat: float, category: str, description: str, *, grid: str):
    """Log an incident through the real service and check it landed in ``grid`` (the test data's
    coordinates are part of what the tests assert on)."""
    incident, created = services.create_incident(session, reporter, services.NewIncident(
        client_uuid=uuid.uuid4(), lon=lon, lat=lat, category=category, description=description))
    assert created
    assert incident.grid is not None and incident.grid.code == grid, \
        f"test data: ({lon}, {lat}) lies in {incident.grid and incident.grid.code}, not {grid}"
    return incident
