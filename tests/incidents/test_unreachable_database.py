"""The database out of reach (restarting, a failover): requests get 503 with Retry-After, not a
500, and the sweep's and the deliverer's loops go on to the next pass instead of dying. Found by
`make load` (bench/load.py), whose db-restart phase stops the cluster mid-run."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from gridsys import create_app
from gridsys.incidents import cli as incidents_cli


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_url() -> str:
    return f"postgresql://gridsys:x@127.0.0.1:{closed_port()}/gridsys"


def test_a_request_while_the_database_is_down_gets_503_with_retry_after():
    app = create_app({"TESTING": True, "DATABASE_URL": unreachable_url(), "SECRET_KEY": "t", "TILES_URL": ""})
    answer = app.test_client().get("/api/v1/me", headers={"Authorization": "Bearer gs_" + "a" * 40})
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers["Retry-After"] == "5"
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    page = app.test_client().get("/incidents", headers={"Cookie": "session=x"})
    assert page.status_code in (302, 303, 503)   # anonymous pages may not need the database at all


def test_the_sweep_loop_survives_a_pass_that_cannot_reach_the_database():
    env = {**os.environ, "DATABASE_URL": unreachable_url(), "GRIDSYS_SECRET_KEY": "t"}
    with subprocess.Popen([sys.executable, "-m", "flask", "--app", "gridsys", "escalate", "--loop", "1"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as loop:
        time.sleep(4)
        alive = loop.poll() is None
        loop.kill()
        _, err = loop.communicate(timeout=10)
    assert alive, err
    assert err.count("pass failed (OperationalError)") >= 2, err


def test_a_sweep_pass_holds_no_transaction_while_the_loop_sleeps(database_url):
    """It used to end with the deliverer's empty SELECT … FOR UPDATE still open: the connection sat
    idle in transaction through the sleep, so a database restart killed the next pass."""
    from gridsys import db
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t", "TILES_URL": "",
                      "WEBHOOKS_IN_BACKGROUND": False})
    try:
        with app.app_context():
            incidents_cli.sweep_once(None)
            assert not db.session().in_transaction()
    finally:
        app.extensions["gridsys.engine"].dispose()
