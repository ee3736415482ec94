"""Scaling out: two app servers (separate OS processes, as behind a load balancer) against one
PostgreSQL serve the same people. A browser session begun on one works on the other and a logout
on one ends it on both; failed logins count across both; two sweeps at once (two machines running
`flask escalate`) escalate each incident once. Nothing is kept in a server's memory.

Committed data (other processes must see it): people and a town of their own, removed at the end.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gridsys.incidents.models import IncidentEvent
from gridsys.people import services as people
from gridsys.people.models import LoginFailure
from tests.committed import committed_town, overdue_incidents
from tests.incidents.helpers import PASSWORD

TOWN = "500106906"
USERNAMES = ("so-worker", "so-leader")
SECRET = "scale-out-secret"
N = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(database_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "GRIDSYS_SECRET_KEY": SECRET, "GRIDSYS_TILES_URL": ""}


@pytest.fixture
def two_servers(database_url):
    """Two `python -m gridsys.serve` processes on their own ports, the same database and secret."""
    servers, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            servers.append(subprocess.Popen([sys.executable, "-m", "gridsys.serve", "--host", "127.0.0.1", "--port",
                                             str(port), "--threads", "2"], env=environment(database_url),
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                try:
                    if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, f"{url} never answered"
                time.sleep(0.2)
        yield urls
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)


@pytest.fixture
def town(engine, password_hash):
    """A committed town with a worker and a leader, and N incidents a day past their deadline."""
    def forget_failures():   # the failures counted from 127.0.0.1 would count against other tests
        with engine.begin() as conn:
            conn.execute(delete(LoginFailure).where(LoginFailure.username.in_(USERNAMES)))
    with committed_town(engine, TOWN, 240, "扩容测试镇", USERNAMES, password_hash,
                        before_clean=forget_failures) as made:
        ids = overdue_incidents(made, 240, N, "扩容测试")
        made.session.commit()
        yield ids


@pytest.fixture
def password_hash():
    return people.hash_password(PASSWORD)


def csrf(browser: requests.Session, url: str) -> str:
    page = browser.get(url, timeout=10).text
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def log_in(browser: requests.Session, url: str, password: str) -> requests.Response:
    return browser.post(f"{url}/login", data={"username": USERNAMES[0], "password": password,
                                              "csrf_token": csrf(browser, f"{url}/login")},
                        allow_redirects=False, timeout=10)


def test_a_session_begun_on_one_server_works_on_the_other_and_ends_on_both(two_servers, town):
    a, b = two_servers
    browser = requests.Session()   # cookies are per host, not per port: one browser behind a balancer
    assert log_in(browser, a, PASSWORD).status_code == 302
    me = browser.get(f"{b}/api/v1/me", timeout=10)
    assert me.status_code == 200 and me.json()["username"] == USERNAMES[0]
    token = browser.get(f"{b}/api/v1/me", timeout=10).json()["csrf_token"]
    assert browser.post(f"{b}/logout", headers={"X-CSRFToken": token}, allow_redirects=False,
                        timeout=10).status_code in (302, 303)
    assert browser.get(f"{a}/api/v1/me", timeout=10).status_code == 401


def test_failed_logins_count_across_servers(two_servers, town):
    a, b = two_servers
    browser = requests.Session()
    for n in range(5):   # the per-account-and-address limit (people/services.py), split over both servers
        assert log_in(browser, (a, b)[n % 2], "wrong password!").status_code == 401
    locked = log_in(browser, b, PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert 'data-code="login_locked"' in locked.text or "login_locked" in locked.text


def test_two_sweeps_at_once_escalate_each_incident_once(database_url, engine, town):
    """Two machines each running `flask escalate` at the same moment, the second on two connections."""
    command = [sys.executable, "-m", "flask", "--app", "gridsys", "escalate"]
    sweeps = [subprocess.Popen(command + extra, env=environment(database_url), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for extra in ([], ["--workers", "2"])]
    outputs = [sweep.communicate(timeout=120) for sweep in sweeps]
    assert all(sweep.returncode == 0 for sweep in sweeps), outputs
    raised = [int(re.search(r"escalated (\d+)", out).group(1)) for out, _ in outputs]
    with Session(engine) as s:
        per_incident = dict(s.execute(select(IncidentEvent.incident_id, func.count())
                                      .where(IncidentEvent.incident_id.in_(town), IncidentEvent.action == "escalate")
                                      .group_by(IncidentEvent.incident_id)).all())
    assert per_incident == {incident_id: 1 for incident_id in town}
    assert sum(raised) >= N   # the two shared the work (other committed tests' incidents may add to it)


def test_read_heavy_answers_come_from_the_replica(database_url, session):
    """With DATABASE_REPLICA_URL set, map data and the CSV export read from it (here: a replica that is
    down, so they answer 503), while everything else stays on the primary."""
    from gridsys import create_app
    from tests.factories import login_as, make_user
    replica = f"postgresql://gridsys:x@127.0.0.1:{free_port()}/gridsys"
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "DATABASE_REPLICA_URL": replica,
                      "SECRET_KEY": "t", "TILES_URL": ""})
    try:
        with Session(app.extensions["gridsys.engine"]) as s:
            user = make_user(s, "so-replica", ["admin"])
            s.commit()
            client = app.test_client()
            login_as(client, user)
            assert client.get("/api/v1/me").status_code == 200
            for path in ("/api/v1/incidents.geojson", "/api/v1/incidents.csv", "/api/v1/map/grids.geojson",
                         "/api/v1/map/gaps.geojson"):
                answer = client.get(path)
                assert (answer.status_code, answer.get_json()["error"]["code"]) == (503, "database_unavailable"), path
    finally:
        with app.extensions["gridsys.engine"].begin() as conn:
            from gridsys.people.models import BrowserSession, User, UserRole
            uid = select(User.id).where(User.username == "so-replica").scalar_subquery()
            conn.execute(delete(BrowserSession).where(BrowserSession.user_id == uid))
            conn.execute(delete(UserRole).where(UserRole.user_id == uid))
            conn.execute(delete(User).where(User.username == "so-replica"))
        app.extensions["gridsys.engine"].dispose()
        app.extensions["gridsys.replica_engine"].dispose()
