"""Webhook messages leave through one mechanism: rows written in the transaction (the outbox),
sent after it commits by the session's courier, whoever committed (a request, a script, a
benchmark), and by any deliverer process; a deliverer killed mid-send loses nothing.

Committed data (the deliverers are other connections and processes): a town of its own
(500106905) with a JSON webhook to a local receiver, removed again at the end.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gridsys import create_app, outbox
from gridsys.incidents import services, webhooks
from gridsys.incidents.models import Webhook, WebhookAttempt, WebhookDelivery
from gridsys.people import services as people
from gridsys.people.models import ApiToken, User
from gridsys.zones.models import Town
from tests.committed import committed_town
from tests.factories import ORIGIN, STEP

TOWN = "500106905"
USERNAMES = ("outbox-worker", "outbox-leader")
WAIT_S = 20


class Receiver:
    """A JSON webhook receiver recording each message's webhook-id; it can hold the answer to the
    ``hold_at``-th message until released (a send in flight)."""

    def __init__(self, hold_at: int | None = None):
        self.ids: list[str] = []
        self.hold_at, self.holding, self.release = hold_at, threading.Event(), threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert body["type"] == "incident.assigned"
                receiver.ids.append(self.headers["webhook-id"])
                if len(receiver.ids) == receiver.hold_at:
                    receiver.holding.set()
                    receiver.release.wait(WAIT_S)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int) -> list[str]:
        deadline = time.monotonic() + WAIT_S
        while len(set(self.ids)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.ids

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooked_town(engine, password_hash):
    """A committed town with a grid worker, its leader and a JSON webhook (pointed at a receiver by each test)."""
    with committed_town(engine, TOWN, 220, "外发测试镇", USERNAMES, password_hash,
                        before_clean=lambda: _clean_webhooks(engine)) as made:
        yield SimpleNamespace(town_id=made.town.id, leader_id=made.leader.id)


def _clean_webhooks(engine):
    with Session(engine) as s:   # the webhook's log first: it hangs off the town, not an incident
        hooks = select(Webhook.id).join(Town, Town.id == Webhook.town_id).where(Town.code == TOWN)
        deliveries = select(WebhookDelivery.id).where(WebhookDelivery.webhook_id.in_(hooks))
        s.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
        s.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id.in_(hooks)))
        s.execute(delete(Webhook).where(Webhook.id.in_(hooks)))
        s.execute(delete(ApiToken).where(ApiToken.user_id.in_(select(User.id).where(User.username.in_(USERNAMES)))))
        s.commit()


def add_hook(engine, town, url: str) -> None:
    with Session(engine) as s:
        webhooks.add_webhook(s, s.get(Town, town.town_id), url, "json", None)
        s.commit()


def report(session: Session, town, n: int):
    """The leader's report, dispatched at once to the worker: its "assigned" message joins the outbox."""
    leader = session.get(User, town.leader_id)
    incident, _ = services.create_incident(session, leader, services.NewIncident(
        client_uuid=uuid.uuid4(), lon=ORIGIN[0] + (221 + n % 8) * STEP, lat=ORIGIN[1] + (221 + n // 8) * STEP,
        category="0201", description=f"外发测试 {n}"))
    return incident


def states(engine) -> dict[str, int]:
    with Session(engine) as s:
        rows = s.execute(select(WebhookDelivery.status, func.count()).join(Webhook).join(
            Town, Town.id == Webhook.town_id).where(Town.code == TOWN).group_by(WebhookDelivery.status))
        return dict(rows.all())


def test_a_commit_sends_its_messages_through_the_sessions_courier_without_flask(engine, hooked_town):
    """A plain session (a script, a benchmark: no app, no request) carrying a courier: the commit
    that wrote the rows sends them; a rollback sends nothing."""
    receiver = Receiver()
    try:
        add_hook(engine, hooked_town, receiver.url)

        def work():
            with Session(engine) as s:
                webhooks.deliver_all(s)
        courier = outbox.Courier(work, "test-courier")
        with Session(engine, expire_on_commit=False) as s:
            outbox.carry(s, courier)
            report(s, hooked_town, 0)
            s.rollback()             # nothing was committed: nothing to send, no kick
            first = report(s, hooked_town, 1)
            s.commit()
        assert len(receiver.wait_for(1)) == 1
        time.sleep(0.3)
        assert receiver.ids == [f"msg_{_delivery_of(engine, first.id)}"]
        assert states(engine) == {"delivered": 1}
    finally:
        receiver.close()


def test_a_request_sends_its_messages_after_the_commit(engine, database_url, hooked_town):
    """Over HTTP the same session event sends them: the report's answer does not wait for it."""
    receiver = Receiver()
    try:
        add_hook(engine, hooked_town, receiver.url)
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t", "TILES_URL": ""})
        with Session(engine) as s:
            _, token = people.create_token(s, s.get(User, hooked_town.leader_id))
            s.commit()
        answer = app.test_client().post("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}, json={
            "client_uuid": str(uuid.uuid4()), "lon": ORIGIN[0] + 222 * STEP, "lat": ORIGIN[1] + 222 * STEP,
            "category": "0201", "description": "外发测试 HTTP"})
        assert answer.status_code == 201, answer.get_json()
        assert len(receiver.wait_for(1)) == 1
        assert receiver.ids == [f"msg_{_delivery_of(engine, answer.get_json()['id'])}"]
    finally:
        receiver.close()
        app.extensions["gridsys.engine"].dispose()


def _wait_until_its_connection_is_gone(engine) -> None:
    """The server notices the killed client's closed socket and rolls back: its row lock goes."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if not conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_locks WHERE relation = 'webhook_deliveries'::regclass "
                    "AND pid <> pg_backend_pid()").scalar():
                return
        time.sleep(0.05)
    pytest.fail("the killed deliverer's transaction never ended")


def _delivery_of(engine, incident_id: int) -> int:
    with Session(engine) as s:
        return s.scalar(select(WebhookDelivery.id).where(WebhookDelivery.incident_id == incident_id))


N = 8


def test_a_deliverer_killed_mid_send_loses_nothing_and_the_next_sends_each_message_once(
        engine, database_url, hooked_town):
    """``flask webhooks deliver`` is killed (SIGKILL) while the receiver holds its 4th message;
    a second deliverer sends the rest. Every message arrives; the one in flight when the first
    died comes again with the same webhook-id (what a receiver de-duplicates on), no other twice,
    and every row ends delivered once."""
    receiver = Receiver(hold_at=4)
    try:
        add_hook(engine, hooked_town, receiver.url)
        with Session(engine, expire_on_commit=False) as s:   # no courier: the rows wait for a deliverer
            ids = [report(s, hooked_town, n).id for n in range(N)]
            s.commit()
        messages = {f"msg_{_delivery_of(engine, i)}" for i in ids}
        env = {**os.environ, "DATABASE_URL": database_url, "GRIDSYS_SECRET_KEY": "t"}
        command = [sys.executable, "-m", "flask", "--app", "gridsys", "webhooks", "deliver"]
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as first:
            try:
                assert receiver.holding.wait(WAIT_S), first.communicate(timeout=5)[0].decode()
                first.kill()
                first.wait(WAIT_S)
            finally:
                receiver.release.set()
        in_flight = receiver.ids[3]
        _wait_until_its_connection_is_gone(engine)
        assert states(engine) == {"delivered": 3, "pending": N - 3}   # the killed send was not recorded
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"delivered {N - 3}," in second.stdout
        assert set(receiver.wait_for(N)) == messages
        assert sorted(receiver.ids) == sorted([*messages, in_flight])   # only the one in flight, twice
        assert states(engine) == {"delivered": N}
    finally:
        receiver.close()
