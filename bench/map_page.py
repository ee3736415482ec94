"""The leader's map page with 10 000 open incidents in scope: HTML bytes, server time, data
bytes, and time until the markers are drawn in headless Chromium; beside, in the same run, a
naive folium page with one Marker (and popup) per incident.
Targets (DESIGN.md): HTML <= 150 KB, data fetched as GeoJSON, drawn <= 2 s."""
from __future__ import annotations

import functools
import http.client
import http.server
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import text

from gridsys.people import services as people

from .common import bench_database, engine_and_session, header
from .create_http import free_port, serve
from .seed import CELL, X0, Y0, seed_catalogue, seed_incidents, seed_town

REPO = Path(__file__).resolve().parent.parent
N = 10_000
PASSWORD = "bench-leader-password"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:   # the figures, not an access log
        pass


def cookies_of(response) -> str:
    """Every cookie a response sets, as a Cookie header (the session and gridsys_user)."""
    return "; ".join(c.split(";")[0] for c in response.msg.get_all("Set-Cookie") or [])


def login_cookie(port: int) -> str:
    import re
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = cookies_of(response)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    conn.request("POST", "/login", body=f"username=leader&password={PASSWORD}&csrf_token={token}",
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    if response.status != 302:
        raise RuntimeError(f"the benchmark's leader could not log in: {response.status}")
    return cookies_of(response)


def get(port: int, path: str, cookie: str, gzip_ok: bool = False) -> tuple[bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Cookie": cookie}
    if gzip_ok:
        headers["Accept-Encoding"] = "gzip"
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:   # a figure of a redirect or an error page would mean nothing
        raise RuntimeError(f"GET {path} answered {response.status}")
    return body, (time.perf_counter() - start) * 1000


def naive_page(session, out_dir: Path) -> tuple[int, float]:
    """A folium page the naive way: every incident a Marker with its popup, baked into the HTML."""
    import folium
    from gridsys.folium_maps import LocalMap
    start = time.perf_counter()
    rows = session.execute(text("SELECT code, description, ST_X(geom), ST_Y(geom) FROM incidents "
                                "WHERE status <> 'closed'")).all()
    m = LocalMap(location=[Y0 + 0.01, X0 + 0.01], zoom_start=14, tiles=None)
    for code, description, x, y in rows:
        folium.Marker([y, x], popup=folium.Popup(f"{code}<br>{description}")).add_to(m)
    html = m.get_root().render()
    seconds = time.perf_counter() - start
    (out_dir / "naive.html").write_text(html)
    vendor = out_dir / "vendor"
    vendor.mkdir()
    shutil.copytree(REPO / "node_modules/leaflet", vendor / "leaflet")
    return len(html.encode()), seconds * 1000


def browser_times(app_port: int, naive_port: int) -> tuple[float, float, int]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        # (wait_for_function evaluates its predicate as a string, which the app's CSP forbids)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page.goto(f"http://127.0.0.1:{app_port}/login")
        page.fill("input[name=username]", "leader")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        drawn = []
        for _ in range(3):
            page.goto(f"http://127.0.0.1:{app_port}/map")
            page.wait_for_function("document.getElementById('map-box').dataset.ready === '1'", timeout=60000)
            drawn.append(page.evaluate("performance.now()"))
        count = int(page.evaluate("document.getElementById('map-box').dataset.incidents"))
        naive = []
        for _ in range(2):
            page.goto(f"http://127.0.0.1:{naive_port}/naive.html", wait_until="load", timeout=120000)
            naive.append(page.evaluate("performance.now()"))
        browser.close()
    return statistics.median(drawn), statistics.median(naive), count


def run() -> dict:
    header(f"leader's map page with {N:,} open incidents")
    url = bench_database("gridsys_bench_map")
    engine, session = engine_and_session(url)
    seed_town(session, 1000)
    seed_catalogue(session)
    leader, _ = people.create_user(session, "leader", roles=["area_leader"], password=PASSWORD,
                                   must_change_password=False)
    people.set_area_leader(session, leader, "500106901001")
    # All incidents open, inside area 001 (5 columns x 10 rows of cells), a tenth of them overdue.
    seed_incidents(session, N, due_fraction=0.1, open_fraction=1.0,
                   bbox=(X0, Y0, X0 + 5 * CELL - 1e-6, Y0 + 10 * CELL - 1e-6))
    session.commit()
    out_dir = Path(tempfile.mkdtemp(prefix="gridsys-bench-"))
    naive_bytes, naive_build_ms = naive_page(session, out_dir)
    handler = functools.partial(QuietFiles, directory=str(out_dir))
    naive_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=naive_server.serve_forever, daemon=True).start()
    env = dict(os.environ, DATABASE_URL=url, GRIDSYS_SECRET_KEY="bench", GRIDSYS_TILES_URL="")
    port = free_port()
    app = serve("gridsys:create_app()", port, env)
    try:
        cookie = login_cookie(port)
        get(port, "/map", cookie)
        page_times = []
        for _ in range(5):
            html, ms = get(port, "/map", cookie)
            page_times.append(ms)
        bbox = f"{X0 - 0.01},{Y0 - 0.01},{X0 + 0.03},{Y0 + 0.03}"
        data, data_ms = get(port, f"/api/v1/incidents.geojson?status=open&bbox={bbox}", cookie)
        zipped, _ = get(port, f"/api/v1/incidents.geojson?status=open&bbox={bbox}", cookie, gzip_ok=True)
        drawn_ms, naive_ms, count = browser_times(port, naive_server.server_address[1])
    finally:
        app.terminate()
        app.wait(timeout=30)
        naive_server.shutdown()
        shutil.rmtree(out_dir, ignore_errors=True)
    print(f"map page HTML:       {len(html) / 1024:8.1f} KB  (target <= 150 KB), server time median "
          f"{statistics.median(page_times):.1f} ms")
    print(f"incident GeoJSON:    {len(data) / 1024:8.1f} KB raw, {len(zipped) / 1024:.1f} KB gzip, "
          f"{data_ms:.0f} ms")
    print(f"markers drawn:       {drawn_ms:8.0f} ms after navigation ({count:,} incidents)  (target <= 2000 ms)")
    print(f"baseline naive page: {naive_bytes / 1024:8.1f} KB HTML, built in {naive_build_ms:.0f} ms, "
          f"loaded in {naive_ms:.0f} ms")
    engine.dispose()
    return {"html_kb": len(html) / 1024, "drawn_ms": drawn_ms, "naive_kb": naive_bytes / 1024,
            "naive_ms": naive_ms, "gzip_kb": len(zipped) / 1024}
