"""The server `make run` starts keeps answering while phones trickle (issue 10, item 5).

One test of about a minute against a real server process (``python -m gridsys.serve``, the
launcher of `make run`) on 127.0.0.1: a 3 MB camera-like photo is uploaded at 50 KB/s while 40
connections never finish their headers and 5 never finish their bodies; meanwhile /healthz, a
static file and a page are requested every half second and must each be answered within 2 s.
The data it needs is committed in a town of its own (500106907) and removed at the end.
"""
from __future__ import annotations

import json
import os
import sys
import uuid
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.slowclients import HOST, KB, attack, free_port, multipart, noise_jpeg, slow_upload, start_server, \
    stop_server
from gridsys.assets import static_url
from gridsys.cli import DATA
from gridsys.incidents.catalogue import load_catalogue
from gridsys.incidents.models import Category, IncidentPhoto
from gridsys.people import services as people
from gridsys.serve import CHANNEL_TIMEOUT_S, server_options
from tests.committed import clean_up
from tests.factories import ORIGIN, STEP, cell, make_area, make_grid, make_town

REPO = Path(__file__).resolve().parent.parent
TOWN = "500106907"
USERNAMES = ("slow-worker",)
ANSWER_WITHIN_S = 2.0
RATE = 50 * KB


def test_make_run_serves_through_this_launcher():
    recipe = (REPO / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "-m gridsys.serve" in recipe and "gunicorn" not in recipe


def test_both_servers_take_startup_objects_out_of_the_garbage_collectors_walk():
    """waitress (gridsys.serve.main) and each gunicorn worker (gunicorn.conf.py) freeze what
    starting built, so a full collection never walks the app again in a request."""
    import gc
    import runpy
    assert "settle()" in (REPO / "gridsys" / "serve.py").read_text().split("def main", 1)[1]
    hooks = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    gc.unfreeze()
    try:
        hooks["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()   # (this test process keeps collecting as before)


def test_the_server_buffers_slow_clients_within_the_apps_limits(app):
    options = server_options(app)
    assert options["max_request_body_size"] >= app.config["MAX_CONTENT_LENGTH"]
    assert options["connection_limit"] >= 100 and options["asyncore_use_poll"]
    assert CHANNEL_TIMEOUT_S >= 60  # inactivity, not duration: a trickling upload is never cut
    assert options["clear_untrusted_proxy_headers"]  # no proxy configured: nobody's X-Forwarded-For


def test_behind_a_proxy_the_server_leaves_forwarded_headers_to_the_app(database_url, session):
    from gridsys import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "SESSION_FACTORY": lambda: session, "TRUSTED_PROXIES": "127.0.0.1"})
    assert server_options(app)["clear_untrusted_proxy_headers"] is False


@pytest.fixture
def reporter(engine):
    """A committed town with one grid, a grid worker on it and an API token of theirs."""
    clean_up(engine, TOWN, USERNAMES)
    with Session(engine, expire_on_commit=False) as s:
        before = set(s.scalars(select(Category.code)))
        load_catalogue(s, (DATA / "categories.json").read_bytes())
        new_codes = set(s.scalars(select(Category.code))) - before
        town = make_town(s, TOWN, cell(200, 200, 210, 210), name="慢速测试镇")
        grid = make_grid(s, make_area(s, town, 1, cell(200, 200, 210, 210)), 1, cell(200, 200, 210, 210))
        worker, _ = people.create_user(s, USERNAMES[0], roles=["grid_worker"], password="slow-clients-pw-1",
                                       must_change_password=False)
        people.assign_grid(s, worker, grid.code, "general")
        _, token = people.create_token(s, worker, "slow clients test")
        s.commit()
    try:
        yield SimpleNamespace(token=token, lon=ORIGIN[0] + 205 * STEP, lat=ORIGIN[1] + 205 * STEP)
    finally:
        clean_up(engine, TOWN, USERNAMES, new_codes)


@pytest.fixture
def live_server(database_url):
    """`make run`'s launcher (python -m gridsys.serve) on a free loopback port."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, GRIDSYS_SECRET_KEY="slow-clients-test",
               GRIDSYS_TILES_URL="")
    proc = start_server([sys.executable, "-m", "gridsys.serve", "--host", HOST, "--port", str(port),
                         "--no-access-log"], port, env, cwd=REPO)
    try:
        yield port
    finally:
        stop_server(proc)


def create_incident(port: int, who) -> int:
    import http.client
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    body = {"client_uuid": str(uuid.uuid4()), "lon": who.lon, "lat": who.lat, "category": "0101",
            "description": "慢速网络下上报"}
    conn.request("POST", "/api/v1/incidents", body=json.dumps(body),
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {who.token}"})
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 201, answer
    return answer["id"]


@pytest.mark.slow_clients
def test_slow_phones_do_not_starve_others_and_a_slow_upload_is_stored(live_server, reporter, engine):
    port = live_server
    incident_id = create_incident(port, reporter)
    photo = noise_jpeg(3_000_000)
    body, content_type = multipart({}, {"photo": ("IMG_0001.jpg", photo, "image/jpeg")})

    def upload():
        return slow_upload(port, f"/api/v1/incidents/{incident_id}/photos", body, content_type,
                           headers={"Authorization": f"Bearer {reporter.token}"}, rate_bps=RATE, timeout_s=90)

    result = attack(port, ["/healthz", static_url("app.css"), "/login"], upload=upload,
                    probe_timeout_s=2 * ANSWER_WITHIN_S)

    assert result.opened == {"loris": 40, "body": 5}
    assert result.still_open == result.opened, "the slow connections were held for the whole upload"
    upload_result = result.upload
    assert upload_result.status == 201, (upload_result.error, upload_result.body[:300])
    assert upload_result.seconds >= 0.9 * len(body) / RATE  # it really trickled
    late = [(p.path, p.status, round(p.seconds, 2)) for p in result.probes
            if p.status != 200 or p.seconds > ANSWER_WITHIN_S]
    assert not late, f"{len(late)} of {len(result.probes)} ordinary requests failed or were slow: {late[:10]}"
    assert len(result.probes) >= 0.9 * upload_result.seconds / 0.5
    assert {p.path for p in result.probes} == {"/healthz", static_url("app.css"), "/login"}

    with Session(engine) as s:
        stored = s.scalars(select(IncidentPhoto).where(IncidentPhoto.incident_id == incident_id)).all()
        assert [p.id for p in stored] == [json.loads(upload_result.body)["id"]]
        image = Image.open(BytesIO(stored[0].data))
        assert image.format == "JPEG" and max(image.size) <= 2048 and image.size[0] > image.size[1]
    print(f"\nslow clients: {len(result.probes)} ordinary requests answered, p50 "
          f"{result.percentile(.5) * 1000:.0f} ms, p99 {result.percentile(.99) * 1000:.0f} ms; "
          f"{len(photo) / 1e6:.1f} MB upload {upload_result.status} in {upload_result.seconds:.0f} s")
