"""The maps from vector tiles, beside honest baselines. Leader (100 000 open incidents in scope): the
compressed bytes of the data (tiles, API) a 390×844 phone loads on its first view of /map, server
time per tile over HTTP (p50/p99: the first view's tiles and zooms 12-17 over the area), and the
time until markers/clusters are in the DOM in Chromium with a cold cache; beside a plain folium
FastMarkerCluster page of the same incidents. Admin: first view of /map until the zone tiles are
drawn, beside a plain folium GeoJson page of every grid (given up after GRIDS_PATIENCE_S).
Demo scale builds its own data: 100 000 open incidents in one area (the catalogue's mix, every open
status, about a third overdue, escalations, hot spots) and 10 000 irregular grids of ~100 vertices.
GRIDSYS_BENCH_SCALE=city: the city of bench/city.py (100 000 grids, 2 000 000 incidents), served
from a copy of its database (CREATE DATABASE ... TEMPLATE, dropped at the end; logins write rows).
Targets (issue 12): map data <= 300 KB compressed, drawn <= 2 s; admin map drawn <= 3 s."""
from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from gridsys.geo import STORAGE_SRID
from gridsys.incidents.models import Incident
from gridsys.incidents.services import Filters, scoped_incidents
from gridsys.people import services as people
from gridsys.people.access import scope_for
from gridsys.people.models import User

from . import city
from .common import (bench_database, city_database, database_copy, engine_and_session, header, percentile, scale,
                     seed_demo_town, stopwatch)
from .create_http import free_port, serve
from .map_page import CHROMIUM_ARGS, PASSWORD, QuietFiles, get

REPO = Path(__file__).resolve().parent.parent
OPEN = 100_000
CELL, K = 0.003, 25          # grid cell (about 300 m) and vertices per edge
X0, Y0 = 107.0, 30.0
DEMO_GRIDS = 10_000
CITY_COPY = "gridsys_city_tiles"
GRIDS_PATIENCE_S = 60        # the GeoJson page of every grid at city scale: tens of MB; given up after this
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
# When the first marker, cluster or zone path is in the DOM (the same observer on every page).
OBSERVER = """new MutationObserver(() => {
  if (!window.__firstMarker && document.querySelector('.inc-marker, .marker-cluster, .leaflet-marker-icon'))
    window.__firstMarker = performance.now();
  if (!window.__firstPath && document.querySelector('.leaflet-gsZones-pane path, .leaflet-overlay-pane path'))
    window.__firstPath = performance.now();
}).observe(document, {childList: true, subtree: true});"""
LEADER_READY = "(b => !!b && b.dataset.ready === '1')(document.getElementById('map-box'))"
ADMIN_READY = "(b => !!b && !!b.dataset.zonesDrawn)(document.getElementById('map-box'))"


def build(session, n_grids: int) -> dict:
    """Towns of 5 areas of 20 irregular grids (a jittered lattice whose shared edges wiggle), then
    the leader's 100 000 open incidents in area 1; set-based SQL throughout."""
    cols = 100
    rows = n_grids // cols
    p = {"x0": X0, "y0": Y0, "c": CELL, "k": K, "cols": cols, "rows": rows}
    session.execute(text("""
      CREATE TEMP TABLE v AS SELECT i, j,
        :x0 + i * :c + CASE WHEN i IN (0, :cols) THEN 0 ELSE :c * 0.3 * (abs(hashint8(i * 100003 + j)) / 2147483648.0 - 0.5) END x,
        :y0 + j * :c + CASE WHEN j IN (0, :rows) THEN 0 ELSE :c * 0.3 * (abs(hashint8(j * 100019 + i + 7)) / 2147483648.0 - 0.5) END y
      FROM generate_series(0, :cols) i, generate_series(0, :rows) j"""), p)
    # Edge points: horizontal edges (h) wiggle in y, vertical ones (w) in x; each shared by its two grids.
    session.execute(text("""
      CREATE TEMP TABLE e AS
      SELECT 'h' d, a.i, a.j, k, a.x + (b.x - a.x) * k / :k x,
             a.y + (b.y - a.y) * k / :k + CASE WHEN a.j IN (0, :rows) THEN 0 ELSE
               :c * 0.06 * sin(pi() * k / :k) * sin(k + abs(hashint8(a.i * 7 + a.j * 13)) % 7) END y
      FROM v a JOIN v b ON b.i = a.i + 1 AND b.j = a.j, generate_series(0, :k) k
      UNION ALL
      SELECT 'w', a.i, a.j, k, a.x + (b.x - a.x) * k / :k + CASE WHEN a.i IN (0, :cols) THEN 0 ELSE
               :c * 0.06 * sin(pi() * k / :k) * cos(k + abs(hashint8(a.i * 17 + a.j * 5)) % 5) END,
             a.y + (b.y - a.y) * k / :k
      FROM v a JOIN v b ON b.i = a.i AND b.j = a.j + 1, generate_series(0, :k) k"""), p)
    session.execute(text("CREATE INDEX ON e (d, i, j)"))
    session.execute(text("""
      CREATE TEMP TABLE g AS
      SELECT c.i, c.j, ST_MakePolygon(ST_MakeLine(array(
          SELECT ST_MakePoint(x, y) FROM (
            SELECT 0 s, k o, x, y FROM e WHERE d = 'h' AND e.i = c.i AND e.j = c.j AND k < :k
            UNION ALL SELECT 1, k, x, y FROM e WHERE d = 'w' AND e.i = c.i + 1 AND e.j = c.j AND k < :k
            UNION ALL SELECT 2, -k, x, y FROM e WHERE d = 'h' AND e.i = c.i AND e.j = c.j + 1 AND k > 0
            UNION ALL SELECT 3, -k, x, y FROM e WHERE d = 'w' AND e.i = c.i AND e.j = c.j AND k >= 0
          ) ring ORDER BY s, o))) geom,
        (c.i / 5) + (c.j / 4) * (:cols / 5) area_no
      FROM generate_series(0, :cols - 1) i CROSS JOIN LATERAL generate_series(0, :rows - 1) j
      CROSS JOIN LATERAL (SELECT i, j) c"""), p)
    session.execute(text("""
      INSERT INTO towns (code, name, geom)
      SELECT '5001' || lpad(t::text, 5, '0'), '基准镇' || t, ST_Multi(ST_SetSRID(ST_UnaryUnion(ST_Collect(geom)), :srid))
      FROM (SELECT area_no / 5 t, geom FROM g) s GROUP BY t"""), {"srid": STORAGE_SRID})
    session.execute(text("""
      INSERT INTO areas (code, name, town_id, geom)
      SELECT '5001' || lpad((area_no / 5)::text, 5, '0') || lpad((area_no % 5 + 1)::text, 3, '0'), '片区' || area_no,
             (SELECT id FROM towns WHERE code = '5001' || lpad((area_no / 5)::text, 5, '0')),
             ST_Multi(ST_SetSRID(ST_UnaryUnion(ST_Collect(geom)), :srid))
      FROM g GROUP BY area_no"""), {"srid": STORAGE_SRID})
    session.execute(text("""
      INSERT INTO grids (code, name, area_id, geom)
      SELECT a.code || lpad((row_number() OVER (PARTITION BY g.area_no ORDER BY g.i, g.j))::text, 3, '0'),
             '网格' || g.i || '-' || g.j, a.id, ST_SetSRID(g.geom, :srid)
      FROM g JOIN areas a ON a.code = '5001' || lpad((g.area_no / 5)::text, 5, '0') || lpad((g.area_no % 5 + 1)::text, 3, '0')"""), {"srid": STORAGE_SRID})
    session.execute(text("ANALYZE towns; ANALYZE areas; ANALYZE grids"))
    return {"area": "500100000001"}


def seed_incidents(session, area_code: str, workers: list[int]) -> None:
    session.execute(text("SELECT setseed(0.42)"))
    session.execute(text("""
      WITH area AS (SELECT id, town_id, geom, ST_XMin(geom) x0, ST_YMin(geom) y0, ST_XMax(geom) x1, ST_YMax(geom) y1
                    FROM areas WHERE code = :area),
      spots AS (SELECT s, x0 + random() * (x1 - x0) sx, y0 + random() * (y1 - y0) sy FROM area, generate_series(1, 25) s),
      cats AS (SELECT row_number() OVER (ORDER BY code) - 1 n, code, priority, deadline_hours, name_zh FROM categories),
      pts AS (
        SELECT i, CASE WHEN random() < 0.6 THEN sp.sx + 0.0008 * sqrt(-2 * ln(random())) * cos(2 * pi() * random())
                       ELSE a.x0 + random() * (a.x1 - a.x0) END x,
                  CASE WHEN random() < 0.6 THEN sp.sy + 0.0008 * sqrt(-2 * ln(random())) * sin(2 * pi() * random())
                       ELSE a.y0 + random() * (a.y1 - a.y0) END y,
               floor(random() * (SELECT count(*) FROM cats))::int cat, random() r, random() q,
               now() - interval '60 days' * power(random(), 2) created
        FROM area a, generate_series(1, :n) i JOIN spots sp ON sp.s = 1 + i % 25)
      INSERT INTO incidents (code, client_uuid, geom, category_code, description, priority, status, town_id, area_id,
                             grid_id, created_at, updated_at, dispatched_at, due_at, next_escalation_at, escalation_level,
                             assignee_id, routing)
      SELECT 'M' || p.i, gen_random_uuid(), ST_SetSRID(ST_MakePoint(p.x, p.y), :srid), c.code,
             c.name_zh || '：' || (ARRAY['路口', '小区门口', '菜市场旁', '学校附近', '河边', '公交站'])[1 + p.i % 6] || p.i,
             CASE WHEN c.priority = 'urgent' OR p.q < 0.12 THEN 'urgent' ELSE 'normal' END,
             (ARRAY['reported', 'assigned', 'assigned', 'in_progress', 'in_progress', 'in_progress', 'reopened'])[1 + p.i % 7],
             a.town_id, a.id, gr.id, p.created, p.created, p.created,
             p.created + make_interval(hours => c.deadline_hours * 3), p.created + make_interval(hours => c.deadline_hours * 3),
             CASE WHEN p.created + make_interval(hours => c.deadline_hours * 3) < now() AND p.r < 0.5 THEN 1 + (p.i % 3 = 0)::int ELSE 0 END,
             (:workers)[1 + p.i % cardinality(:workers)], '{}'
      FROM pts p JOIN cats c ON c.n = p.cat CROSS JOIN area a
      JOIN LATERAL (SELECT id FROM grids WHERE area_id = a.id AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(p.x, p.y), :srid))
                    LIMIT 1) gr ON true
      ORDER BY p.i LIMIT :open"""), {"area": area_code, "n": int(OPEN * 1.2), "open": OPEN, "workers": workers,
                                     "srid": STORAGE_SRID})   # about a tenth of the points fall outside its grids
    session.execute(text("ANALYZE incidents"))




def baseline_incidents(rows, out: Path) -> int:
    """Plain folium, the way one would without tiles: a FastMarkerCluster of the same open incidents
    (a popup per marker made in the browser). Returns the page's gzip size."""
    from folium.plugins import FastMarkerCluster
    from gridsys.folium_maps import LocalMap

    class LocalCluster(FastMarkerCluster):   # markercluster from the same node_modules, not a CDN
        default_js = [("markerclusterjs", "vendor/leaflet.markercluster/dist/leaflet.markercluster.js")]
        default_css = [("markerclustercss", "vendor/leaflet.markercluster/dist/MarkerCluster.css"),
                       ("markerclusterdefault", "vendor/leaflet.markercluster/dist/MarkerCluster.Default.css")]

    ys, xs = [r[0] for r in rows], [r[1] for r in rows]
    m = LocalMap(location=[statistics.fmean(ys), statistics.fmean(xs)], tiles=None, maxZoom=19)   # markercluster needs it
    m.fit_bounds([[min(ys), min(xs)], [max(ys), max(xs)]])
    LocalCluster([[round(y, 6), round(x, 6), c] for y, x, c in rows], callback="""function (row) {
        var marker = L.marker(new L.LatLng(row[0], row[1]));
        marker.bindPopup(function () { var s = document.createElement('strong'); s.textContent = row[2]; return s; });
        return marker; }""").add_to(m)
    return _write(out / "incidents.html", m.get_root().render())


def baseline_grids(session, out: Path) -> int:
    """A plain folium GeoJson layer of every grid (6 decimals). Returns the page's gzip size."""
    import folium
    from gridsys.folium_maps import LocalMap
    grids = session.scalar(text("SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg("
                                "json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(geom, 6)::json, "
                                "'properties', json_build_object('code', code))))::text FROM grids"))
    extent = session.execute(text("SELECT ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e) FROM "
                                  "(SELECT ST_Extent(geom) e FROM towns) s")).one()
    g = LocalMap(location=[(extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2], tiles=None)
    g.fit_bounds([[extent[0], extent[1]], [extent[2], extent[3]]])
    folium.GeoJson(json.loads(grids), style_function=lambda f: {"color": "#1d4ed8", "weight": 1}).add_to(g)
    del grids
    return _write(out / "grids.html", g.get_root().render())


def _write(path: Path, html: str) -> int:
    data = html.encode()
    path.write_bytes(data)
    return len(gzip.compress(data, 6))


def login(context, base: str, who: tuple[str, str]) -> None:
    """A session cookie for the context without loading any page (the HTTP cache stays cold)."""
    import re
    page = context.request.get(f"{base}/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text()).group(1)
    done = context.request.post(f"{base}/login", form={"username": who[0], "password": who[1], "csrf_token": token},
                                max_redirects=0)
    assert done.status == 302, done.status


def first_view(browser, base: str, who: tuple[str, str] | None, path: str, ready: str,
               timeout_ms: int = 180_000) -> dict:
    """Open ``path`` in a fresh context (cold cache) at the phone's viewport; bytes on the wire of
    the map's data (tiles and API), and when markers/paths were first in the DOM (ms from the
    navigation's start; None when not within ``timeout_ms``: the page is then left unread)."""
    context = browser.new_context(**PHONE, bypass_csp=True)   # wait_for_function evaluates strings
    context.add_init_script(OBSERVER)
    if who:
        login(context, base, who)
    page = context.new_page()
    sizes, urls = [], []

    def finished(request):
        if "/tiles/" in request.url or "/api/" in request.url:
            sizes.append(request.sizes()["responseBodySize"])
            urls.append(request.url)
    page.on("requestfinished", finished)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    start = time.monotonic()
    try:
        page.goto(f"{base}{path}", timeout=timeout_ms, wait_until="commit")
        page.wait_for_function(ready, timeout=max(1, timeout_ms - (time.monotonic() - start) * 1000), polling=50)
    except Exception as failure:  # noqa: BLE001 (a baseline that never draws is a figure too)
        print(f"  {path}: not drawn within {timeout_ms / 1000:.0f} s ({str(failure).splitlines()[0][:100]}); "
              f"page errors: {errors[:3]}")
        context.close()
        return {"bytes": sum(sizes), "requests": len(sizes), "urls": urls, "first_marker": None,
                "first_path": None, "data": {}, "note": ""}
    page.wait_for_timeout(300)
    times = page.evaluate("[window.__firstMarker || null, window.__firstPath || null, "
                          "document.getElementById('map-box') ? {...document.getElementById('map-box').dataset} : {}, "
                          "document.getElementById('map-note') ? document.getElementById('map-note').innerText : '', "
                          "performance.getEntriesByType('navigation')[0].responseEnd]")
    context.close()
    return {"bytes": sum(sizes), "requests": len(sizes), "urls": urls, "first_marker": times[0],
            "first_path": times[1], "data": times[2], "note": times[3], "html": times[4]}


def tile_times(port: int, cookie: str, urls: list[str]) -> list[float]:
    out = []
    for url in urls:
        path = url.split(f":{port}", 1)[1]
        for _ in range(3):
            out.append(get(port, path, cookie, gzip_ok=True)[1])
    return out


def pyramid(session, area: str) -> list[str]:
    """Every tile of zooms 12..17 over the leader's area (the tiles a pan and zoom would ask for)."""
    import math

    def tile_of(lon, lat, z):
        n = 2 ** z
        return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    x0, y0, x1, y1 = session.execute(text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                                          "FROM areas WHERE code = :a"), {"a": area}).one()
    paths = []
    for z in range(12, 18):
        _, ax, ay = tile_of(x0, y1, z)
        _, bx, by = tile_of(x1, y0, z)
        paths += [f"/tiles/incidents/{z}/{x}/{y}.mvt?status=open" for x in range(ax, bx + 1) for y in range(ay, by + 1)]
    return paths[:400]


def open_in_scope(session, username: str) -> list[tuple]:
    """(lat, lon, code) of every open incident the leader's map stands for (their scope, as the tiles)."""
    user = session.scalar(select(User).where(User.username == username))
    query = scoped_incidents(scope_for(session, user), Filters(status="open"), user).order_by(Incident.id)
    return session.execute(query.with_only_columns(func.ST_Y(Incident.geom), func.ST_X(Incident.geom),
                                                   Incident.code)).all()


def demo_dataset() -> dict:
    """Today's own dataset: the demo catalogue, 10 000 irregular grids, a leader of 100 000 open."""
    url = bench_database("gridsys_bench_tiles")
    engine, session = engine_and_session(url)
    with stopwatch() as built:
        seed_demo_town(session)   # the catalogue (and a demo town elsewhere)
        made = build(session, DEMO_GRIDS)
        digest = people.hash_password(PASSWORD)
        leader, _ = people.create_user(session, "leader", roles=["area_leader"], password_hash=digest,
                                       must_change_password=False)
        people.set_area_leader(session, leader, made["area"])
        people.create_user(session, "boss", roles=["admin"], password_hash=digest, must_change_password=False)
        names = [a + b for a in "王李张刘陈杨黄赵" for b in ("建国", "秀英", "海燕", "志强", "丽")]
        workers = [people.create_user(session, f"w{i}", display_name=name, roles=["grid_worker"],
                                      password_hash=digest, must_change_password=False)[0].id
                   for i, name in enumerate(names)]
        session.flush()
        seed_incidents(session, made["area"], workers)
        session.commit()
    print(f"dataset built in {built['s']:.0f} s")
    session.close()
    engine.dispose()
    return {"url": url, "area": made["area"], "leader": ("leader", PASSWORD), "admin": ("boss", PASSWORD)}


@contextmanager
def city_copy():
    """A copy of the city's database to serve (logins write rows there), dropped afterwards."""
    source = city_database()   # (brought to the latest migration)
    meta = city.meta(make_url(source).database)
    with database_copy(source, CITY_COPY) as url:
        yield {"url": url, "area": meta["dense_area"], "leader": (meta["dense_leader"], city.PASSWORD),
               "admin": ("admin", city.PASSWORD)}


def run() -> dict:
    if scale() == "city":
        header("maps from vector tiles at city scale: the dense area's leader (100 000 open), admin of 100 000 grids")
        with city_copy() as dataset:
            return measure(dataset)
    header(f"maps from vector tiles: {OPEN:,} open incidents in one area, {DEMO_GRIDS:,} irregular grids")
    return measure(demo_dataset())


def measure(dataset: dict) -> dict:
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (2 cores, shared)")
    engine, session = engine_and_session(dataset["url"])
    out = Path(tempfile.mkdtemp(prefix="gridsys-tiles-"))
    with stopwatch() as made:
        rows = open_in_scope(session, dataset["leader"][0])
        gz = {"incidents": baseline_incidents(rows, out), "grids": baseline_grids(session, out)}
        for package in ("leaflet", "leaflet.markercluster"):
            shutil.copytree(REPO / "node_modules" / package, out / "vendor" / package)
    grids_mb = (out / "grids.html").stat().st_size / 2**20
    n_grids = session.scalar(text("SELECT count(*) FROM grids WHERE retired_at IS NULL"))
    print(f"baseline pages built in {made['s']:.0f} s: {len(rows):,} incidents, {n_grids:,} grids "
          f"(GeoJson page {grids_mb:.0f} MB)")
    static = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(out)))
    threading.Thread(target=static.serve_forever, daemon=True).start()
    env = dict(os.environ, DATABASE_URL=dataset["url"], GRIDSYS_SECRET_KEY="bench", GRIDSYS_TILES_URL="")
    port = free_port()
    app = serve("gridsys:create_app()", port, env)
    base, plain = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{static.server_address[1]}"
    leader_who, admin_who = dataset["leader"], dataset["admin"]
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            first_view(browser, base, leader_who, "/map", LEADER_READY)   # each worker's connection, once
            leader = [first_view(browser, base, leader_who, "/map", LEADER_READY) for _ in range(3)]
            naive = [first_view(browser, plain, None, "/incidents.html", "!!window.__firstMarker", 90_000)
                     for _ in range(2)]
            admin = [first_view(browser, base, admin_who, "/map", ADMIN_READY) for _ in range(3)]
            naive_grids = first_view(browser, plain, None, "/grids.html", "!!window.__firstPath",
                                     GRIDS_PATIENCE_S * 1000)
            context = browser.new_context()
            login(context, base, leader_who)
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
            browser.close()
        per_tile = tile_times(port, cookie, [u for u in leader[0]["urls"] if "/tiles/" in u] +
                              [base + path for path in pyramid(session, dataset["area"])])
    finally:
        app.terminate()
        app.wait(timeout=30)
        static.shutdown()
        shutil.rmtree(out, ignore_errors=True)
        session.close()
        engine.dispose()
    med = statistics.median
    drawn = med(max(float(v["data"]["drawn"]), v["first_marker"] or 0) for v in leader)
    zones = med(float(v["data"]["zonesDrawn"]) for v in admin)
    grids_drawn = (f"first path {naive_grids['first_path']:6.0f} ms" if naive_grids["first_path"]
                   else f"not drawn within {GRIDS_PATIENCE_S} s")
    print(f"leader's first view (390x844): {med(v['bytes'] for v in leader) / 1024:7.1f} KB compressed in "
          f"{leader[0]['requests']} requests (target <= 300 KB); markers/clusters drawn {drawn:6.0f} ms "
          f"(target <= 2000 ms); {leader[0]['data'].get('incidents')} incidents in view, "
          f"{leader[0]['data'].get('markers')} markers; its HTML arrived at {med(v['html'] for v in leader):.0f} ms; "
          f"the page says: {leader[0]['note'].strip()[:80]!r}")
    print(f"  baseline FastMarkerCluster of the same {len(rows):,}: {gz['incidents'] / 1024:7.1f} KB gzip HTML; "
          f"first marker {med(v['first_marker'] or float('nan') for v in naive):6.0f} ms")
    print(f"  server time per tile: p50 {percentile(per_tile, .5):.1f} ms, p99 {percentile(per_tile, .99):.1f} ms, "
          f"max {max(per_tile):.0f} ms ({len(per_tile)} requests over HTTP, first view and zooms 12-17)")
    print(f"admin's first view (390x844):  {med(v['bytes'] for v in admin) / 1024:7.1f} KB compressed in "
          f"{admin[0]['requests']} requests; zone tiles drawn {zones:6.0f} ms (target <= 3000 ms); "
          f"its HTML arrived at {med(v['html'] for v in admin):.0f} ms")
    print(f"  baseline folium GeoJson of every grid ({n_grids:,}): {gz['grids'] / 1024:7.1f} KB gzip HTML "
          f"({grids_mb:.0f} MB); {grids_drawn}")
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return {"leader_kb": med(v["bytes"] for v in leader) / 1024, "drawn_ms": drawn, "admin_ms": zones,
            "tile_p50": percentile(per_tile, .5), "tile_p99": percentile(per_tile, .99)}
