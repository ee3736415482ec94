"""The grid worker's report page on a phone: bytes on the wire for a first and a repeat visit, and
the time until the form can be used on a slow link (400 ms round trip, 50 KB/s), repeat visit.

Served by `python -m gridsys.serve` (what `make run` starts) against the demo town, reached
through a loopback proxy that counts bytes and shapes the link for everything on the wire,
the service worker's own requests included. Beside it, in the same run, the baseline a
competent engineer would ship instead of a service worker: the same page and versioned,
immutable assets in the browser's HTTP cache only (service worker blocked).
Targets (issue 10): first load <= 300 KB without tiles, repeat <= 30 KB, usable <= 3 s repeat.
"""
from __future__ import annotations

import os
import socket
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

from .common import bench_database, engine_and_session, header, seed_demo_town
from .slowclients import free_port, start_server, stop_server

REPO = Path(__file__).resolve().parent.parent
WORKER = "w0101a"   # demo grid worker of grid 500106110001001 (general, civilization, safety)
PASSWORD = "bench-worker-password"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
USABLE = "window.gridsysOutbox !== undefined && document.querySelector('#send') !== null"


class ShapedLink:
    """A loopback TCP proxy that counts the bytes each way and, when shaped, adds a one-way delay
    to every chunk and shares one bandwidth budget among all connections (a phone's one link)."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.delay_s, self.rate = 0.0, None
        self.down = self.up = 0
        self._lock = threading.Lock()
        self._free_at = {"down": 0.0, "up": 0.0}
        threading.Thread(target=self._accept, daemon=True).start()

    def shape(self, rtt_ms: float | None, kb_per_s: float | None) -> None:
        self.delay_s = (rtt_ms or 0) / 2000
        self.rate = kb_per_s * 1024 if kb_per_s else None

    def reset(self) -> None:
        self.down = self.up = 0

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "down"), daemon=True).start()

    def _pump(self, src, dst, way: str) -> None:
        try:
            while data := src.recv(16384):
                with self._lock:
                    if way == "down":
                        self.down += len(data)
                    else:
                        self.up += len(data)
                    wait = 0.0
                    if self.rate:
                        start = max(time.monotonic(), self._free_at[way])
                        self._free_at[way] = start + len(data) / self.rate
                        wait = self._free_at[way] - time.monotonic()
                time.sleep(max(wait, 0) + self.delay_s)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


def seed(url: str) -> None:
    """The demo town, catalogue and people; the worker of grid 001001 gets a known password."""
    from gridsys import create_app
    from gridsys.people import services as people
    engine, session = engine_and_session(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TILES_URL": ""})
    with app.app_context(), session:
        seed_demo_town(session)
        people.set_password(session, people.get_user(session, WORKER), PASSWORD)
        session.commit()
    app.extensions["gridsys.engine"].dispose()
    engine.dispose()


def visits(browser, link: ShapedLink, *, service_worker: bool) -> dict:
    """A first visit (log in, land on the report page: bytes), a repeat visit (bytes), and three
    repeat visits on the slow link (time until the form is usable)."""
    context = browser.new_context(base_url=link.url, service_workers="allow" if service_worker else "block",
                                  bypass_csp=True, **PHONE)   # (wait_for_function evaluates strings: CSP)
    page = context.new_page()
    link.reset()   # the first visit: the login page, then the report page it lands on, and all they load
    page.goto("/login")
    page.fill("main form input[name=username]", WORKER)
    page.fill("main form input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.wait_for_function(USABLE)
    if service_worker:   # the app is installed: shell and assets precached
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    page.wait_for_load_state("networkidle")
    time.sleep(0.5)
    first = link.down + link.up
    link.reset()
    page.goto("/report")
    page.wait_for_function(USABLE)
    page.wait_for_load_state("networkidle")
    time.sleep(0.5)
    repeat = link.down + link.up
    link.shape(rtt_ms=400, kb_per_s=50)
    usable = []
    for _ in range(3):
        started = time.perf_counter()
        page.goto("/report", wait_until="commit")
        page.wait_for_function(USABLE, timeout=60_000)
        usable.append((time.perf_counter() - started) * 1000)
    link.shape(None, None)
    context.close()
    return {"first_kb": first / 1024, "repeat_kb": repeat / 1024, "usable_ms": statistics.median(usable)}


def run() -> dict:
    from playwright.sync_api import sync_playwright
    header("report page on a phone: bytes and time until usable (slow link 400 ms, 50 KB/s)")
    url = bench_database(f"gridsys_bench_report_{uuid.uuid4().hex[:6]}")
    seed(url)
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, GRIDSYS_SECRET_KEY="bench", GRIDSYS_TILES_URL="")
    server = start_server([sys.executable, "-m", "gridsys.serve", "--host", "127.0.0.1", "--port", str(port),
                           "--no-access-log"], port, env, cwd=REPO)
    results = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for label, sw in (("field app (service worker)", True), ("baseline: HTTP cache only", False)):
                link = ShapedLink(port)
                results[label] = visits(browser, link, service_worker=sw)
                link.listener.close()
            browser.close()
    finally:
        stop_server(server)
        from gridsys import localdb
        if not os.environ.get("GRIDSYS_BENCH_DATABASE_URL"):
            localdb.drop_database(url.rsplit("/", 1)[-1])
    for label, r in results.items():
        print(f"{label:<30} first load {r['first_kb']:7.1f} KB   repeat visit {r['repeat_kb']:6.1f} KB   "
              f"usable on the slow link (repeat) {r['usable_ms']:6.0f} ms")
    print("targets: first load <= 300 KB without tiles, repeat <= 30 KB, usable <= 3000 ms (repeat)")
    return results
