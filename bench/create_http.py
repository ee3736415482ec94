"""Creating incidents over HTTP under gunicorn with concurrent clients (routing, events,
commit), beside a bare endpoint on the same server doing one INSERT of the same report into the
same ``incidents`` table, in the same run (bench/bare_app.py): PAIRS interleaved pairs, the median
pair and the spread. An INSERT into a one-column table without indexes is printed beside them (the
floor of any write, the baseline of earlier runs).
Reports use the catalogue's categories with the real mix of priorities (about 18 % urgent: an
urgent one also escalates to the area leader at once). Token authentication's share of a
report's time is measured as the bare endpoint with a token against the same endpoint without one.
Targets (issue 12): create >= 50 % of the bare insert; token authentication <= 10 %.

Data: the demo town; at GRIDSYS_BENCH_SCALE=city, a copy of the city (2 000 000 incidents on the
table the reports go into, 100 000 grids to route among; dropped at the end), reports falling in
the grids of 50 areas drawn over the whole city, sent by one of the city's grid workers."""
from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from gridsys.geo import STORAGE_SRID
from gridsys.people import services as people

from .common import bench_database, city_database, database_copy, engine_and_session, header, scale, seed_demo_town

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 8
REQUESTS = 1000
PAIRS = int(os.environ.get("GRIDSYS_BENCH_PAIRS", "9"))
URGENT_WEIGHT, NORMAL_WEIGHT = 2, 3   # 7 urgent categories of 28: about 18 % of reports urgent
WORKERS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_spec: str, port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                             str(WORKERS), "--log-level", "warning", app_spec], cwd=REPO, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn for {app_spec} did not start")


def grid_points(session, n: int, seed: int = 5, areas: int | None = None) -> list[tuple[float, float]]:
    """Points inside grids (of ``areas`` areas drawn at random, default every grid), so every
    request is routed (none refused)."""
    from shapely import Point
    from gridsys.geo import from_db
    from gridsys.zones.models import Grid
    from sqlalchemy import select
    query = select(Grid.geom)
    if areas:
        query = query.where(Grid.area_id.in_(select(text("id FROM areas ORDER BY md5(code) LIMIT :k")
                                                    .bindparams(k=areas)).scalar_subquery()))
    grids = [from_db(g) for g in session.scalars(query)]
    rng, points = random.Random(seed), []
    while len(points) < n:
        poly = rng.choice(grids)
        x0, y0, x1, y1 = poly.bounds
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if poly.contains(Point(x, y)):
            points.append((x, y))
    return points


def category_mix(session) -> list[str]:
    """Category codes to draw from, each as often as its weight (urgent ones less often)."""
    rows = session.execute(text("SELECT code, priority FROM categories WHERE active ORDER BY code")).all()
    return [code for code, priority in rows for _ in range(URGENT_WEIGHT if priority == "urgent" else NORMAL_WEIGHT)]


MIX: list[str] = []


def hammer(port: int, path: str, token: str | None, total: int, points) -> tuple[float, int]:
    """Send ``total`` POSTs from CLIENTS threads; returns (seconds, failures)."""
    per_client = total // CLIENTS
    failures = [0]
    lock = threading.Lock()

    def client(n):
        rng = random.Random(n)
        for i in range(per_client):
            lon, lat = points[(n * per_client + i) % len(points)]
            body = json.dumps({"client_uuid": str(uuid.uuid4()), "lon": lon, "lat": lat,
                               "category": rng.choice(MIX), "description": "基准测试事件"})
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", path, body=body, headers=headers)
            status = conn.getresponse().status
            conn.close()
            if status not in (200, 201):
                with lock:
                    failures[0] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, failures[0]


def run() -> dict:
    if scale() == "city":
        header(f"create incidents over HTTP on the city: gunicorn x{WORKERS}, {CLIENTS} concurrent clients")
        with database_copy(city_database(), "gridsys_city_create") as url:
            engine, session = engine_and_session(url)
            worker = session.execute(text("SELECT u.username FROM users u JOIN user_roles r ON r.user_id = u.id "
                                          "AND r.role = 'grid_worker' WHERE u.active ORDER BY u.username LIMIT 1")
                                     ).scalar_one()
            try:
                return measure(url, engine, session, worker, grid_points(session, 2000, areas=50))
            finally:
                session.close()
                engine.dispose()
    header(f"create incidents over HTTP: gunicorn x{WORKERS}, {CLIENTS} concurrent clients")
    url = bench_database("gridsys_bench_http")
    engine, session = engine_and_session(url)
    seed_demo_town(session)
    session.commit()
    try:
        return measure(url, engine, session, "w0101a", grid_points(session, 2000))
    finally:
        session.close()
        engine.dispose()


def measure(url: str, engine, session, worker: str, points) -> dict:
    _, token = people.create_token(session, people.get_user(session, worker), "bench")
    session.execute(text("CREATE TABLE bench_bare (id serial PRIMARY KEY, payload text, "
                         "created_at timestamptz DEFAULT now())"))
    session.commit()
    MIX[:] = category_mix(session)
    before = session.scalar(text("SELECT count(*) FROM incidents"))
    session.rollback()
    town_id = session.execute(text("SELECT town_id FROM grids g JOIN areas a ON a.id = g.area_id WHERE "
                                   f"ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), {STORAGE_SRID})) LIMIT 1"),
                              {"lon": points[0][0], "lat": points[0][1]}).scalar_one()
    session.rollback()
    env = dict(os.environ, DATABASE_URL=url, GRIDSYS_SECRET_KEY="bench", GRIDSYS_TILES_URL="",
               GRIDSYS_BENCH_TOWN_ID=str(town_id))
    port = free_port()
    server = serve("bench.bare_app:create_app()", port, env)  # gridsys + /bench/bare, one server
    try:
        hammer(port, "/api/v1/incidents", token, 200, points)  # warm up both
        hammer(port, "/bench/bare", token, 200, points)
        hammer(port, "/api/bench/bare-anonymous", None, 200, points)
        hammer(port, "/bench/bare-table", token, 200, points)
        ratios, auth, floors = [], [], []
        for pair in range(PAIRS):  # alternate, so drift of the machine hits both sides alike
            rates = {}
            for label, path, credential in (("bare", "/bench/bare", token), ("create", "/api/v1/incidents", token),
                                            ("anon", "/api/bench/bare-anonymous", None),
                                            ("table", "/bench/bare-table", token)):
                seconds, failed = hammer(port, path, credential, REQUESTS, points)
                rates[label] = REQUESTS / seconds
                if failed:
                    print(f"  {label}: {failed} failed")
            ratios.append((rates["create"] / rates["bare"], rates["create"], rates["bare"]))
            floors.append((rates["create"] / rates["table"], rates["table"]))
            # per request: (1/bare - 1/anon) is what the token costs; as a share of a report's time
            auth.append((1 / rates["bare"] - 1 / rates["anon"]) * rates["create"])
            print(f"pair {pair + 1}: create {rates['create']:6.1f} req/s, bare {rates['bare']:6.1f}, "
                  f"bare without token {rates['anon']:6.1f}, one-column table {rates['table']:6.1f}: "
                  f"create/bare {ratios[-1][0]:.0%}, token {auth[-1]:.1%}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    ratio, create_rate, bare_rate = sorted(ratios)[len(ratios) // 2]
    token_share = sorted(auth)[len(auth) // 2]
    count, urgent = session.execute(text("SELECT count(*), count(*) FILTER (WHERE priority = 'urgent') "
                                         "FROM incidents WHERE description = '基准测试事件' AND code NOT LIKE 'BARE-%'")).one()
    floor, table_rate = sorted(floors)[len(floors) // 2]
    print(f"create / bare over {PAIRS} pairs: median {ratio:.0%} (create {create_rate:.1f} req/s vs the bare INSERT "
          f"into incidents {bare_rate:.1f} req/s), spread {min(r for r, _, _ in ratios):.0%}–"
          f"{max(r for r, _, _ in ratios):.0%}: target >= 50%: {'met' if ratio >= 0.5 else 'MISSED'}")
    print(f"create / an INSERT into a one-column table without indexes ({table_rate:.1f} req/s): median {floor:.0%}, "
          f"spread {min(f for f, _ in floors):.0%}–{max(f for f, _ in floors):.0%}")
    print(f"token authentication: median {token_share:.1%} of a report's time, spread "
          f"{min(auth):.1%}–{max(auth):.1%}: target <= 10%: {'met' if token_share <= 0.10 else 'MISSED'}")
    print(f"{count:,} reports stored beside {before:,} incidents, {urgent / max(count, 1):.0%} of them urgent")
    return {"create_rps": create_rate, "bare_rps": bare_rate, "ratio": ratio, "token_share": token_share,
            "table_rps": table_rate, "ratio_to_table": floor}
