"""Town webhooks: the outbox written with the escalation, delivery with retries and back-off, the
message bodies (generic JSON, WeCom and DingTalk robot markdown) and the ``webhooks`` CLI.

The receiver is a local HTTP server on 127.0.0.1 (port 0) in a thread; nothing else is contacted.
``deliver_pending`` commits after each delivery: in the rolled-back test session that releases a
savepoint.
"""
from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from gridsys.errors import GridsysError
from gridsys.incidents import escalation, notify, webhooks
from gridsys.incidents.models import Notification, Webhook, WebhookAttempt, WebhookDelivery
from tests.incidents.helpers import csrf_token, events_of, login, report

ROBOT_OK = b'{"errcode": 0, "errmsg": "ok"}'
BASE_URL = "https://grid.example.org"


class Receiver:
    """Records every POST (path, headers, JSON body); answers from ``answers`` then ``default``."""

    def __init__(self):
        self.posts: list[dict] = []
        self.answers: list[tuple[int, bytes]] = []
        self.default: tuple[int, bytes] = (200, ROBOT_OK)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append({"path": self.path, "content_type": self.headers["Content-Type"],
                                       "body": json.loads(body)})
                status, answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path="/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hook(session, world, url, kind="json") -> Webhook:
    created = webhooks.add_webhook(session, world.town, url, kind)
    session.commit()
    return created


def escalated(session, world, **kw):
    """An incident a day past its deadline, escalated by the sweep (its webhooks queued)."""
    incident = report(session, world.general1, "g11", "0201", at=escalation.now() - timedelta(days=2), **kw)
    assert escalation.sweep(session) == [incident.id]
    session.commit()
    return incident


def deliveries(session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def attempts(session, delivery) -> list[tuple]:
    return [(a.status_code, a.error) for a in session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id).order_by(WebhookAttempt.id))]


def deliver(session, as_of=None) -> dict:
    return webhooks.deliver_pending(session, as_of=as_of or webhooks.now())


NOTHING = {"delivered": 0, "retry": 0, "failed": 0}


# --- the outbox ---------------------------------------------------------------------------------

def test_escalation_queues_a_message_per_active_town_hook_without_sending_it(session, world, receiver):
    json_hook = hook(session, world, receiver.url("/a"))
    robot = hook(session, world, receiver.url("/b"), "wecom")
    off = hook(session, world, receiver.url("/c"))
    off.active = False
    session.commit()
    incident = escalated(session, world)
    queued = deliveries(session)
    assert [(d.webhook_id, d.incident_id, d.status, d.attempts) for d in queued] == [
        (json_hook.id, incident.id, "pending", 0), (robot.id, incident.id, "pending", 0)]
    assert receiver.posts == []  # sent after commit, by the deliverer


def test_rolled_back_escalation_sends_nothing(session, world, receiver):
    hook(session, world, receiver.url())
    incident = report(session, world.general1, "g11", "0201", at=escalation.now() - timedelta(days=2))
    escalation.sweep(session)
    session.rollback()
    assert incident.escalation_level == 0 and deliveries(session) == []
    assert deliver(session) == NOTHING and receiver.posts == []


def test_escalation_in_a_web_request_does_not_wait_for_the_webhook(client, session, world, receiver, closed_port):
    hook(session, world, f"http://127.0.0.1:{closed_port}/hook")
    incident = report(session, world.general1, "g11", "0201")
    login(client, "safety1")
    response = client.post(f"/incidents/{incident.id}/act", data={
        "action": "escalate", "note": "需要协调", "csrf_token": csrf_token(client, f"/incidents/{incident.id}")})
    assert response.status_code == 303
    assert incident.escalation_level == 1
    assert [(d.status, d.attempts) for d in deliveries(session)] == [("pending", 0)]


# --- delivery, retries and back-off ---------------------------------------------------------------

def test_backoff_doubles_from_thirty_seconds_up_to_an_hour():
    assert [webhooks.backoff(n).total_seconds() for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600,
                                                                          3600]


def test_failed_attempt_is_retried_after_the_backoff_then_delivered(session, world, receiver):
    hook(session, world, receiver.url())
    escalated(session, world)
    receiver.answers = [(500, b"boom")]
    before = webhooks.now()
    assert deliver(session) == {"delivered": 0, "retry": 1, "failed": 0}
    [delivery] = deliveries(session)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert timedelta(seconds=30) <= delivery.next_attempt_at - before <= timedelta(seconds=35)
    assert deliver(session) == NOTHING  # not before its time
    assert deliver(session, as_of=delivery.next_attempt_at) == {"delivered": 1, "retry": 0, "failed": 0}
    [delivery] = deliveries(session)
    assert (delivery.status, delivery.attempts, delivery.delivered_at is not None) == ("delivered", 2, True)
    assert attempts(session, delivery) == [(500, "HTTP 500"), (200, None)]
    assert len(receiver.posts) == 2 and receiver.posts[0]["body"] == receiver.posts[1]["body"]
    assert deliver(session, as_of=datetime(2030, 1, 1, tzinfo=timezone.utc)) == NOTHING  # sent once


def test_always_failing_receiver_gives_up_after_max_attempts_and_keeps_the_escalation(session, world, receiver):
    hook(session, world, receiver.url())
    incident = escalated(session, world)
    receiver.default = (503, b"down")
    waits = []
    as_of = webhooks.now()
    for _ in range(webhooks.MAX_ATTEMPTS - 1):
        before = webhooks.now()
        assert deliver(session, as_of=as_of) == {"delivered": 0, "retry": 1, "failed": 0}
        [delivery] = deliveries(session)
        waits.append(round((delivery.next_attempt_at - before).total_seconds() / 30) * 30)
        as_of = delivery.next_attempt_at
    assert waits == [30, 60, 120, 240, 480, 960, 1920]
    assert deliver(session, as_of=as_of) == {"delivered": 0, "retry": 0, "failed": 1}
    [delivery] = deliveries(session)
    assert (delivery.status, delivery.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert attempts(session, delivery) == [(503, "HTTP 503")] * webhooks.MAX_ATTEMPTS
    assert deliver(session, as_of=datetime(2030, 1, 1, tzinfo=timezone.utc)) == NOTHING
    assert len(receiver.posts) == webhooks.MAX_ATTEMPTS
    assert (incident.escalation_level, incident.escalation_trigger) == (1, "overdue")
    assert [e.action for e in events_of(session, incident)][-1] == "escalate"
    assert session.scalars(select(Notification.user_id).where(Notification.incident_id == incident.id)).all() == [
        world.leader1.id]


def test_unreachable_receiver_is_retried_with_the_error_logged(session, world, closed_port):
    hook(session, world, f"http://127.0.0.1:{closed_port}/hook")
    escalated(session, world)
    assert deliver(session) == {"delivered": 0, "retry": 1, "failed": 0}
    [delivery] = deliveries(session)
    [(status_code, error)] = attempts(session, delivery)
    assert status_code is None and "refused" in error.lower()
    assert (delivery.status, delivery.attempts) == ("pending", 1)


def test_silent_receiver_times_out_without_holding_up_the_others(session, world, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT_S", 0.3)
    with socket.socket() as silent:  # accepts the connection (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        hook(session, world, f"http://127.0.0.1:{silent.getsockname()[1]}/hook")
        hook(session, world, receiver.url())
        escalated(session, world)
        assert deliver(session) == {"delivered": 1, "retry": 1, "failed": 0}
    stuck, sent = deliveries(session)
    assert attempts(session, stuck)[0][0] is None and "timed out" in attempts(session, stuck)[0][1]
    assert sent.status == "delivered" and len(receiver.posts) == 1


def test_receiver_answering_garbage_is_a_logged_failure(session, world):
    with socket.socket() as garbage:
        garbage.bind(("127.0.0.1", 0))
        garbage.listen()

        def answer():
            conn, _ = garbage.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"this is not HTTP\r\n\r\n")
        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        hook(session, world, f"http://127.0.0.1:{garbage.getsockname()[1]}/hook")
        escalated(session, world)
        try:
            counts = deliver(session)
        finally:
            thread.join(5)
    assert counts == {"delivered": 0, "retry": 1, "failed": 0}
    [delivery] = deliveries(session)
    [(status_code, error)] = attempts(session, delivery)
    assert status_code is None and error


def test_robot_answering_200_with_an_errcode_is_a_failure(session, world, receiver):
    robot = hook(session, world, receiver.url("/robot"), "wecom")
    plain = hook(session, world, receiver.url("/plain"), "json")
    escalated(session, world)
    receiver.default = (200, b'{"errcode": 310000, "errmsg": "keywords not in content"}')
    assert deliver(session) == {"delivered": 1, "retry": 1, "failed": 0}
    by_hook = {d.webhook_id: d for d in deliveries(session)}
    assert (by_hook[robot.id].status, attempts(session, by_hook[robot.id])) == (
        "pending", [(200, "robot errcode 310000")])
    assert by_hook[plain.id].status == "delivered"  # a JSON receiver's body is not a robot's answer


# --- the messages --------------------------------------------------------------------------------

def test_messages_of_each_kind(app, session, world, receiver):
    for kind in ("json", "wecom", "dingtalk"):
        hook(session, world, receiver.url(f"/{kind}"), kind)
    app.config["BASE_URL"] = BASE_URL
    with app.app_context():  # as in the CLI sweep or a request: links are absolute
        incident = escalated(session, world, address="东街12号")
    assert deliver(session) == {"delivered": 3, "retry": 0, "failed": 0}
    posts = {p["path"]: p for p in receiver.posts}
    assert {p["content_type"] for p in posts.values()} == {"application/json; charset=utf-8"}
    link = f"{BASE_URL}/incidents/{incident.id}"

    body = posts["/json"]["body"]
    assert body["event"] == "incident.escalated"
    assert {k: body["incident"][k] for k in ("id", "code", "category", "level", "trigger", "holders", "url",
                                             "place", "town", "area", "grid", "status")} == {
        "id": incident.id, "code": incident.code, "category": "0201", "level": 1, "trigger": "overdue",
        "holders": ["leader1"], "url": link, "place": "东街12号", "town": world.town.code, "area": world.a1.code,
        "grid": world.g11.code, "status": "assigned"}
    assert body["incident"]["due_at"] == incident.due_at.isoformat()

    wecom = posts["/wecom"]["body"]
    assert set(wecom) == {"msgtype", "markdown"} and wecom["msgtype"] == "markdown"
    assert set(wecom["markdown"]) == {"content"}
    content = wecom["markdown"]["content"]
    for words in (incident.code, "治安隐患", "东街12号", "级别：1", "leader1", f"[查看详情]({link})"):
        assert words in content, words

    dingtalk = posts["/dingtalk"]["body"]
    assert set(dingtalk) == {"msgtype", "markdown"} and dingtalk["msgtype"] == "markdown"
    assert set(dingtalk["markdown"]) == {"title", "text"}
    assert incident.code in dingtalk["markdown"]["title"]
    assert dingtalk["markdown"]["text"] == content


def test_message_names_the_level_two_holders(session, world, receiver):
    hook(session, world, receiver.url(), "json")
    incident = escalated(session, world)
    assert escalation.sweep(session, as_of=datetime(2030, 1, 1, tzinfo=timezone.utc)) == [incident.id]
    session.commit()
    deliver(session)
    assert [(p["body"]["incident"]["level"], p["body"]["incident"]["trigger"], p["body"]["incident"]["holders"])
            for p in receiver.posts] == [(1, "overdue", ["leader1"]), (2, "stale", ["admin"])]


def test_user_text_cannot_inject_markdown_into_robot_messages(session, world, receiver):
    for kind in ("wecom", "dingtalk"):
        hook(session, world, receiver.url(f"/{kind}"), kind)
    incident = escalated(session, world, address="村口[x](http://evil)\n# 假标题 **粗** `代码`",
                         description="[点我](http://evil2) 井盖缺失")
    deliver(session)
    texts = [p["body"]["markdown"].get("content") or p["body"]["markdown"]["text"] for p in receiver.posts]
    assert len(texts) == 2
    for text in texts:
        assert r"村口\[x\]\(http://evil\) \# 假标题 \*\*粗\*\* \`代码\`" in text
        assert "](http://evil" not in text and "evil2" not in text
        lines = text.splitlines()
        assert len(lines) == 7 and lines[0].startswith(f"### 事件升级：{incident.code}")
        assert all(line.startswith("> ") for line in lines[1:6]) and lines[6].startswith("[查看详情](")


# --- the webhooks CLI -----------------------------------------------------------------------------

def test_webhooks_add_list_remove(cli, session, world, receiver):
    result = cli.invoke(args=["webhooks", "add", "--town", world.town.code, "--url", receiver.url(),
                              "--kind", "wecom"])
    assert result.exit_code == 0, result.output
    [created] = session.scalars(select(Webhook)).all()
    assert (created.town_id, created.url, created.kind, created.active) == (world.town.id, receiver.url(), "wecom",
                                                                            True)
    assert f"webhook #{created.id} (wecom) for town {world.town.code}" in result.output
    listed = cli.invoke(args=["webhooks", "list"]).output
    assert f"#{created.id}\t{world.town.code}\twecom\ton\t{receiver.url()}" in listed
    assert cli.invoke(args=["webhooks", "remove", str(created.id)]).exit_code == 0
    assert created.active is False
    escalated(session, world)
    assert deliveries(session) == []  # a switched-off hook gets nothing new


@pytest.mark.parametrize("url", ["ftp://example.org/hook", "127.0.0.1:9/hook", "http://127.0.0.1/" + "x" * 500])
def test_webhooks_add_refuses_a_bad_url(cli, session, world, url):
    result = cli.invoke(args=["webhooks", "add", "--town", world.town.code, "--url", url])
    assert result.exit_code == 1 and "error webhook_url_invalid" in result.output
    assert session.scalars(select(Webhook)).all() == []


def test_webhooks_add_refuses_an_unknown_town(cli, session, world, receiver):
    result = cli.invoke(args=["webhooks", "add", "--town", "500106999", "--url", receiver.url()])
    assert result.exit_code == 1 and "error town_not_found" in result.output
    assert session.scalars(select(Webhook)).all() == []


def test_webhooks_add_refuses_an_unknown_kind(cli, session, world, receiver):
    result = cli.invoke(args=["webhooks", "add", "--town", world.town.code, "--url", receiver.url(),
                              "--kind", "slack"])
    assert result.exit_code == 2 and "slack" in result.output
    with pytest.raises(GridsysError) as err:
        webhooks.add_webhook(session, world.town, receiver.url(), "slack")
    assert err.value.code == "webhook_kind_unknown"


def test_webhooks_remove_unknown(cli, session, world):
    result = cli.invoke(args=["webhooks", "remove", "424242"])
    assert result.exit_code == 1 and "error webhook_not_found" in result.output


def test_webhooks_deliver_and_log(cli, session, world, receiver):
    created = hook(session, world, receiver.url())
    incident = escalated(session, world)
    result = cli.invoke(args=["webhooks", "deliver"])
    assert result.exit_code == 0 and "delivered 1, to retry 0, failed 0" in result.output
    [delivery] = deliveries(session)
    log = cli.invoke(args=["webhooks", "log"]).output
    assert f"#{delivery.id}\twebhook #{created.id}\tincident {incident.id}\tdelivered\t1 attempt(s)" in log


def test_escalate_command_sends_the_webhooks_after_its_commit(app, cli, session, world, receiver):
    hook(session, world, receiver.url())
    incident = report(session, world.general1, "g11", "0201")
    with app.app_context():  # FlaskGroup pushes one for `flask --app gridsys escalate`
        result = cli.invoke(args=["escalate", "--now", "2030-01-01T00:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "escalated 1; webhooks 1 delivered, 0 to retry, 0 failed" in result.output
    assert [p["body"]["incident"]["id"] for p in receiver.posts] == [incident.id]


def test_a_failing_webhook_does_not_fail_the_sweep(app, cli, session, world, closed_port):
    hook(session, world, f"http://127.0.0.1:{closed_port}/hook")
    incident = report(session, world.general1, "g11", "0201")
    with app.app_context():
        result = cli.invoke(args=["escalate", "--now", "2030-01-01T00:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "escalated 1; webhooks 0 delivered, 1 to retry, 0 failed" in result.output
    assert incident.escalation_level == 1


def test_a_hook_switched_off_after_queueing_sends_nothing(session, world, receiver):
    switched = hook(session, world, receiver.url("/late"))
    escalated(session, world)
    switched.active = False
    session.commit()
    deliver(session)
    assert [d.status for d in deliveries(session)] == ["dropped"]
    assert receiver.posts == []
