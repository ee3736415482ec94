"""Creating incidents over HTTP under gunicorn with concurrent clients (routing, events,
commit), beside a bare endpoint on the same server doing one INSERT into the same database, in
the same run (bench/bare_app.py).
Target (DESIGN.md): at least 50% of the bare endpoint's throughput."""
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

from gridsys.people import services as people

from .common import bench_database, engine_and_session, header, seed_demo_town

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 8
REQUESTS = 1500
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


def grid_points(session, n: int, seed: int = 5) -> list[tuple[float, float]]:
    """Points inside the demo town's grids, so every request is routed (none refused)."""
    from shapely import Point
    from gridsys.geo import from_db
    from gridsys.zones.models import Grid
    from sqlalchemy import select
    grids = [from_db(g) for g in session.scalars(select(Grid.geom))]
    rng, points = random.Random(seed), []
    while len(points) < n:
        poly = rng.choice(grids)
        x0, y0, x1, y1 = poly.bounds
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if poly.contains(Point(x, y)):
            points.append((x, y))
    return points


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
                               "category": rng.choice(["0101", "0103", "0201"]), "description": "基准测试事件"})
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
    header(f"create incidents over HTTP: gunicorn x{WORKERS}, {CLIENTS} concurrent clients")
    url = bench_database("gridsys_bench_http")
    engine, session = engine_and_session(url)
    seed_demo_town(session)
    _, token = people.create_token(session, people.get_user(session, "w0101a"), "bench")
    session.execute(text("CREATE TABLE bench_bare (id serial PRIMARY KEY, payload text, "
                         "created_at timestamptz DEFAULT now())"))
    session.commit()
    points = grid_points(session, 2000)
    env = dict(os.environ, DATABASE_URL=url, GRIDSYS_SECRET_KEY="bench", GRIDSYS_TILES_URL="")
    port = free_port()
    server = serve("bench.bare_app:create_app()", port, env)  # gridsys + /bench/bare, one server
    try:
        hammer(port, "/api/v1/incidents", token, 200, points)  # warm up both
        hammer(port, "/bench/bare", token, 200, points)
        ratios = []
        for pair in range(3):  # alternate, so drift of the machine hits both sides alike
            rates = {}
            for label, path in (("bare", "/bench/bare"), ("create", "/api/v1/incidents")):
                seconds, failed = hammer(port, path, token, REQUESTS, points)
                rates[label] = REQUESTS / seconds
                print(f"{label:<8} {REQUESTS} requests in {seconds:6.2f} s = {rates[label]:7.1f} req/s "
                      f"({failed} failed)")
            ratios.append((rates["create"] / rates["bare"], rates["create"], rates["bare"]))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    ratio, create_rate, bare_rate = sorted(ratios)[1]
    count = session.execute(text("SELECT count(*) FROM incidents")).scalar()
    print(f"create / bare per pair: {', '.join(f'{r:.0%}' for r, _, _ in ratios)}; median pair: create "
          f"{create_rate:.1f} req/s vs bare INSERT {bare_rate:.1f} req/s = {ratio:.0%} (target >= 50%); "
          f"{count} incidents stored")
    engine.dispose()
    return {"create_rps": create_rate, "bare_rps": bare_rate, "ratio": ratio}
