"""Slow phones against the server `make run` starts (waitress, python -m gridsys.serve) beside the
set-up `make run` used before (gunicorn, 3 sync workers), under the same attack in the same run:
40 connections that never finish their headers, 5 that never finish their bodies and a 3 MB
photo uploaded at 50 KB/s, while /healthz, a static file and the login page are requested every
half second. Printed: other requests answered (within 2 s, and at all), their p50/p99 latency,
and the upload's outcome and duration. (issue 10, item 5; the helpers are bench/slowclients.py)"""
from __future__ import annotations

import http.client
import json
import os
import sys
import uuid
from pathlib import Path

from gridsys.assets import static_url
from gridsys.people import services as people

from .common import bench_database, engine_and_session, header, seed_demo_town
from .create_http import grid_points
from .slowclients import HOST, KB, attack, free_port, multipart, noise_jpeg, slow_upload, start_server, stop_server

REPO = Path(__file__).resolve().parent.parent
RATE = 50 * KB
PHOTO_BYTES = 3_000_000
ANSWER_WITHIN_S = 2.0
UPLOAD_TIMEOUT_S = 90  # a phone gives up after a minute and a half
SERVERS = [
    ("make run now: waitress, 8 threads",
     [sys.executable, "-m", "gridsys.serve", "--host", HOST, "--port", "{port}", "--threads", "8", "--no-access-log"]),
    ("make run before: gunicorn, 3 sync workers",
     [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{{port}}", "--workers", "3", "--log-level", "critical",
      "gridsys:create_app()"]),
]


def create_incident(port: int, token: str, lon: float, lat: float) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("POST", "/api/v1/incidents", headers={"Content-Type": "application/json",
                                                        "Authorization": f"Bearer {token}"},
                 body=json.dumps({"client_uuid": str(uuid.uuid4()), "lon": lon, "lat": lat, "category": "0101",
                                  "description": "慢速网络基准"}))
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    if response.status != 201:
        raise RuntimeError(f"could not create the incident: {answer}")
    return answer["id"]


def run() -> dict:
    header("slow clients: 40 slowloris + 5 slow bodies + a 3 MB photo at 50 KB/s")
    url = bench_database("gridsys_bench_slow")
    engine, session = engine_and_session(url)
    seed_demo_town(session)
    _, token = people.create_token(session, people.get_user(session, "w0101a"), "bench")
    session.commit()
    lon, lat = grid_points(session, 1)[0]
    photo = noise_jpeg(PHOTO_BYTES)
    body, content_type = multipart({}, {"photo": ("IMG_0001.jpg", photo, "image/jpeg")})
    env = dict(os.environ, DATABASE_URL=url, GRIDSYS_SECRET_KEY="bench", GRIDSYS_TILES_URL="")
    paths = ["/healthz", static_url("app.css"), "/login"]
    figures = {}
    for label, argv in SERVERS:
        port = free_port()
        server = start_server([a.replace("{port}", str(port)) for a in argv], port, env, cwd=REPO)
        try:
            incident = create_incident(port, token, lon, lat)
            result = attack(port, paths, duration_s=len(body) / RATE, probe_timeout_s=10, upload=lambda: slow_upload(
                port, f"/api/v1/incidents/{incident}/photos", body, content_type,
                headers={"Authorization": f"Bearer {token}"}, rate_bps=RATE, timeout_s=UPLOAD_TIMEOUT_S))
        finally:
            stop_server(server)
        up = result.upload
        outcome = f"{up.status} after {up.seconds:.0f} s" if up.status else f"failed after {up.seconds:.0f} s ({up.error})"
        answered = sum(1 for p in result.probes if p.status == 200)
        latency = (f"p50 {result.percentile(.5) * 1000:.0f} ms, p99 {result.percentile(.99) * 1000:.0f} ms"
                   if answered else "none answered")
        print(f"{label}:\n  other requests answered within {ANSWER_WITHIN_S:.0f} s: {result.served} of "
              f"{len(result.probes)} ({answered} at all; {latency}); slow connections held "
              f"{sum(result.still_open.values())}/{sum(result.opened.values())}; "
              f"{len(photo) / 1e6:.1f} MB upload: {outcome}")
        figures[label] = {"served": result.served, "probes": len(result.probes), "answered": answered,
                          "p50_ms": result.percentile(.5) * 1000, "p99_ms": result.percentile(.99) * 1000,
                          "upload_status": up.status, "upload_s": up.seconds}
    engine.dispose()
    return figures
