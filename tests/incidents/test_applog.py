"""Structured application logs (issue 13 item 7): a scripted run — logins (one failed), an API
token, reports, transitions, an escalation, a webhook delivery, a redraw and a 5xx — leaves one
JSON line per event with its request id, the person and the action, and nowhere the password,
the token, the phone number or the webhook's key."""
from __future__ import annotations

import io
import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from gridsys import applog, boundaries
from gridsys.incidents import webhooks
from gridsys.people import services as people
from gridsys.zones import redraw
from tests.incidents.helpers import PASSWORD, act, bearer, login, report

PHONE = "13912345678"
ROBOT_KEY = "0d3c9a5e-secret-robot-key"


@pytest.fixture
def lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    applog.log.addHandler(handler)
    level = applog.log.level
    applog.log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    applog.log.removeHandler(handler)
    applog.log.setLevel(level)


def test_a_scripted_day_is_logged_as_json_lines_without_secrets(app, client, session, world, lines, monkeypatch):
    world.safety1.phone = PHONE
    session.commit()
    hook = webhooks.add_webhook(session, world.town, f"http://127.0.0.1:9/cgi-bin/webhook/send?key={ROBOT_KEY}",
                                "wecom")
    session.commit()
    from tests.factories import login as try_login
    assert try_login(client, "leader1", "not the password").status_code == 401
    login(client, "leader1")
    headers = bearer(session, world.safety1)
    token = headers["Authorization"].split()[1]
    incident = report(session, world.general1, "g11", "0201", description="井盖缺失")
    assert client.post(f"/api/v1/incidents/{incident.id}/transitions", headers={**headers, "X-Request-Id": "req-0123456789"},
                       json={"action": "accept"}).status_code == 200
    act(session, incident, world.safety1, "escalate", note="需要城建")
    webhooks.deliver_pending(session)
    boundaries.save(session, redraw.plan_move(session, world.g12.code, world.a2.code), actor="admin",
                    reason="片区调整")
    session.commit()

    def broken():
        raise RuntimeError("boom")
    monkeypatch.setitem(app.view_functions, "web.healthz", broken)
    failed = client.get("/healthz")
    assert failed.status_code == 500 and failed.get_json()["error"]["code"] == "internal_error"

    events = lines()
    actions = [e.get("action") for e in events]
    for expected in ("login_failed", "login", "transition", "escalated", "webhook_delivery", "redraw", "server_error"):
        assert expected in actions, (expected, actions, [e for e in events if e.get("action") == "transition"])
    accepted = next(e for e in events if e.get("action") == "transition" and e.get("act") == "accept")
    assert accepted["request_id"] == "req-0123456789" and accepted["user"] == "safety1"
    assert accepted["incident"] == incident.id and accepted["to_status"] == "in_progress"
    crash = next(e for e in events if e.get("action") == "server_error")
    assert crash["request_id"] and "RuntimeError" in crash.get("exc_info", "")
    delivery = next(e for e in events if e.get("action") == "webhook_delivery")
    assert delivery["webhook"] == hook.id and delivery["outcome"] in ("pending", "failed")
    everything = "\n".join(json.dumps(e, ensure_ascii=False) for e in events)
    for secret in (PASSWORD, "not the password", token, PHONE, ROBOT_KEY, "井盖缺失", "需要城建"):
        assert secret not in everything, secret


def test_every_response_names_its_request(client):
    mine = client.get("/login")
    assert len(mine.headers["X-Request-Id"]) >= 16
    given = client.get("/login", headers={"X-Request-Id": "edge-abcdef12"})
    assert given.headers["X-Request-Id"] == "edge-abcdef12"
    forged = client.get("/login", headers={"X-Request-Id": "x\"} {\"action\": \"login"})
    assert forged.headers["X-Request-Id"] != "x\"} {\"action\": \"login", "not copied into the logs as given"
