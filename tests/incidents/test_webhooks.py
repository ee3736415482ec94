"""Town webhooks: the outbox written with the notice, delivery with retries and back-off, the
message bodies (generic JSON, WeCom text and DingTalk markdown with @mentions), their signatures and
the ``webhooks`` CLI.

The receiver is a local HTTP server on 127.0.0.1 (port 0) in a thread; nothing else is contacted.
It checks signatures as a receiver would: the JSON webhook with the ``standardwebhooks`` package's
verifier, DingTalk's 加签 with the algorithm DingTalk publishes, written out here (never the app's
own signer).
``deliver_pending`` commits after each delivery: in the rolled-back test session that releases a
savepoint.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import urllib.parse
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import standardwebhooks
from sqlalchemy import select

from gridsys import settings
from gridsys.errors import GridsysError
from gridsys.incidents import escalation, notify, webhooks
from gridsys.incidents.models import Notification, Webhook, WebhookAttempt, WebhookDelivery
from gridsys.incidents.wording import NOTICES
from gridsys.wording import text as in_language
from tests.incidents.helpers import csrf_token, events_of, login, report

ROBOT_OK = b'{"errcode": 0, "errmsg": "ok"}'
BASE_URL = "https://grid.example.org"


class Receiver:
    """Records every POST (path, headers, raw and JSON body); answers from ``answers`` then ``default``."""

    def __init__(self):
        self.posts: list[dict] = []
        self.answers: list[tuple[int, bytes]] = []
        self.default: tuple[int, bytes] = (200, ROBOT_OK)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append({"path": self.path, "content_type": self.headers["Content-Type"],
                                       "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "raw": body, "body": json.loads(body)})
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
    """An incident a day past its deadline, escalated by the sweep (its webhooks queued). Its handler
    reported it, so the report itself tells nobody: the escalation is the one message."""
    incident = report(session, world.safety1, "g11", "0201", at=escalation.now() - timedelta(days=2), **kw)
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
    incident = report(session, world.safety1, "g11", "0201", at=escalation.now() - timedelta(days=2))
    escalation.sweep(session)
    session.rollback()
    assert incident.escalation_level == 0 and deliveries(session) == []
    assert deliver(session) == NOTHING and receiver.posts == []


def test_escalation_in_a_web_request_does_not_wait_for_the_webhook(client, session, world, receiver, closed_port):
    hook(session, world, f"http://127.0.0.1:{closed_port}/hook")
    incident = report(session, world.safety1, "g11", "0201")
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

def robot_text(post) -> str:
    body = post["body"]
    return body["text"]["content"] if body["msgtype"] == "text" else body["markdown"]["text"]


def test_messages_of_each_kind(app, session, world, receiver):
    for kind in ("json", "wecom", "dingtalk"):
        hook(session, world, receiver.url(f"/{kind}"), kind)
    world.leader1.phone = "138 0000 1111"
    settings.attach(session, replace(settings.DEFAULTS, base_url=BASE_URL))  # as db.session() does for the app
    incident = escalated(session, world, address="东街12号")
    assert deliver(session) == {"delivered": 3, "retry": 0, "failed": 0}
    posts = {p["path"]: p for p in receiver.posts}
    assert {p["content_type"] for p in posts.values()} == {"application/json; charset=utf-8"}
    link = f"{BASE_URL}/incidents/{incident.id}"

    body = posts["/json"]["body"]
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "incident.escalated"
    assert abs(datetime.fromisoformat(body["timestamp"]) - webhooks.now()) < timedelta(minutes=1)
    assert {k: body["data"][k] for k in ("id", "code", "category", "level", "trigger", "holders", "url", "to",
                                         "place", "description", "town", "area", "grid", "status",
                                         "sensitive")} == {
        "id": incident.id, "code": incident.code, "category": "0201", "level": 1, "trigger": "overdue",
        "holders": ["leader1"], "url": link, "to": ["leader1"], "place": "东街12号", "description": "路口井盖缺失",
        "town": world.town.code, "area": world.a1.code, "grid": world.g11.code, "status": "assigned",
        "sensitive": False}
    assert body["data"]["due_at"] == incident.due_at.isoformat()

    wecom = posts["/wecom"]["body"]
    assert wecom == {"msgtype": "text", "text": {"content": wecom["text"]["content"],
                                                 "mentioned_mobile_list": ["13800001111"]}}
    content = wecom["text"]["content"]
    assert content.startswith(f"【事件升级：{incident.code}】\n")
    for words in ("类别：治安隐患", "地点：东街12号", "描述：路口井盖缺失", "级别：1（包片领导）", "原因：超期未办结",
                  "通知：包片领导一", f"详情：{link}"):
        assert words in content, words

    dingtalk = posts["/dingtalk"]["body"]
    assert set(dingtalk) == {"msgtype", "markdown", "at"} and dingtalk["msgtype"] == "markdown"
    assert dingtalk["at"] == {"atMobiles": ["13800001111"], "isAtAll": False}
    assert dingtalk["markdown"]["title"] == f"事件升级：{incident.code}"
    text = dingtalk["markdown"]["text"]
    for words in ("类别：治安隐患", "地点：东街12号", "级别：1（包片领导）", "通知：包片领导一", f"[查看详情]({link})"):
        assert words in text, words
    assert text.splitlines()[-1] == "@13800001111"  # DingTalk shows a mention only where the @phone is written


def test_message_names_the_level_two_holders(session, world, receiver):
    hook(session, world, receiver.url(), "json")
    incident = escalated(session, world)
    assert escalation.sweep(session, as_of=datetime(2030, 1, 1, tzinfo=timezone.utc)) == [incident.id]
    session.commit()
    deliver(session)
    assert [(p["body"]["data"]["level"], p["body"]["data"]["trigger"], p["body"]["data"]["holders"])
            for p in receiver.posts] == [(1, "overdue", ["leader1"]), (2, "stale", ["admin"])]


# What a group chat reads for each kind of notice: its title and what it asks.
ROBOT_WORDS = {"assigned": ("事件分派", "请及时受理并处置"), "returned": ("退回返工", "核查未通过，请重新处置"),
               "instructed": ("批示下派", "领导已批示下派，请按批示处置"), "extended": ("事件延期", "处置期限已延长"),
               "due_soon": ("即将超期", "即将超期，请尽快办结"), "to_verify": ("待核查", "已办结，请核查结案"),
               "escalated": ("事件升级", "已升级，请督办"),
               "to_register": ("居民诉求", "居民上报了诉求，请及时立案或答复不予受理"),
               "unsatisfied": ("居民不满意", "居民评价不满意，请重新办理或维持结案")}


@pytest.mark.parametrize("notice", notify.KINDS)
def test_every_notice_kind_makes_a_message_for_each_webhook(session, world, receiver, notice):
    for kind in ("json", "wecom", "dingtalk"):
        hook(session, world, receiver.url(f"/{kind}"), kind)
    world.safety1.phone = "+86 139-0000-2222"
    incident = report(session, world.safety1, "g11", "0201", address="北街3号")
    note = {"note": "请今天处理完", "by": "leader1"} if notice in ("returned", "instructed", "to_verify") else {}
    assert notify.notify(session, incident, notice, [world.safety1], note) == [world.safety1]
    session.commit()
    assert deliver(session) == {"delivered": 3, "retry": 0, "failed": 0}
    posts = {p["path"]: p for p in receiver.posts}
    title, ask = f"{ROBOT_WORDS[notice][0]}：{incident.code}", ROBOT_WORDS[notice][1]
    assert posts["/json"]["body"]["type"] == f"incident.{notice}"
    assert posts["/json"]["body"]["data"]["to"] == ["safety1"]
    assert posts["/dingtalk"]["body"]["markdown"]["title"] == title
    assert posts["/wecom"]["body"]["text"]["mentioned_mobile_list"] == ["13900002222"]
    assert posts["/dingtalk"]["body"]["at"]["atMobiles"] == ["13900002222"]
    for path in ("/wecom", "/dingtalk"):
        text = robot_text(posts[path])
        assert title in text and ask in text and "北街3号" in text
        assert ("请今天处理完" in text) == bool(note)
    if notice in ("assigned", "returned", "instructed", "extended", "due_soon"):
        assert "期限：" in robot_text(posts["/wecom"])


def test_notice_names_cover_every_kind_and_robot_titles_differ():
    assert set(NOTICES) == set(notify.KINDS) == set(ROBOT_WORDS)
    titles = {in_language("zh", n.title) for n in NOTICES.values()}
    assert len(titles) == len(notify.KINDS) and not titles & {n.title for n in NOTICES.values()}  # all translated


def test_mentions_skip_people_without_a_mobile_number(session, world, receiver):
    for kind in ("wecom", "dingtalk"):
        hook(session, world, receiver.url(f"/{kind}"), kind)
    world.leader1.phone, world.leader2.phone, world.admin.phone = "13800001111", None, "023-6886 1234"
    incident = report(session, world.safety1, "g11", "0201")
    notify.notify(session, incident, "to_verify", [world.leader1, world.leader2, world.admin], {})
    session.commit()
    deliver(session)
    posts = {p["path"]: p["body"] for p in receiver.posts}
    assert posts["/wecom"]["text"]["mentioned_mobile_list"] == ["13800001111"]
    assert posts["/dingtalk"]["at"]["atMobiles"] == ["13800001111"]
    assert "@13800001111" in posts["/dingtalk"]["markdown"]["text"]
    assert "023" not in posts["/dingtalk"]["markdown"]["text"]


def test_mobile_numbers_are_read_as_the_robots_want_them():
    assert [webhooks.mobile(p) for p in ("13800001111", "+86 138-0000-1111", "8613800001111", "138 0000 111",
                                         "023-68861234", "", None, "23800001111")] == [
        "13800001111", "13800001111", "13800001111", None, None, None, None, None]


def test_a_sensitive_categorys_group_messages_carry_only_code_category_and_link(app, session, world, receiver):
    for kind in ("json", "wecom", "dingtalk"):
        hook(session, world, receiver.url(f"/{kind}"), kind)
    world.leader1.phone = "13800001111"
    settings.attach(session, replace(settings.DEFAULTS, base_url=BASE_URL))
    incident = report(session, world.safety1, "g11", "0203", address="幸福小区5栋", description="张三与李四因漏水争吵")
    assert incident.category.sensitive
    notify.notify(session, incident, "to_verify", [world.leader1], {"note": "已调解，王五到场", "by": "general1"})
    session.commit()
    assert deliver(session) == {"delivered": 3, "retry": 0, "failed": 0}
    posts = {p["path"]: p for p in receiver.posts}
    link = f"{BASE_URL}/incidents/{incident.id}"
    secret_words = ("幸福小区", "张三", "李四", "漏水", "王五", "已调解", world.g11.name, "包片领导一", "综合员一",
                    "general1", "leader1")
    for path in ("/wecom", "/dingtalk"):
        text = robot_text(posts[path])
        assert incident.code in text and "邻里纠纷" in text and link in text
        lines = [line for line in text.splitlines() if line]
        assert len(lines) == (4 if path == "/wecom" else 5), lines  # title, category, the ask, link (+ @phone)
        for word in secret_words:
            assert word not in text, (path, word)
    assert posts["/wecom"]["body"]["text"]["mentioned_mobile_list"] == ["13800001111"]  # still told
    assert posts["/dingtalk"]["body"]["at"]["atMobiles"] == ["13800001111"]
    data = posts["/json"]["body"]["data"]
    assert data["sensitive"] is True and (data["code"], data["category_name"], data["url"]) == (
        incident.code, "邻里纠纷", link)
    assert not {"place", "description", "lon", "lat", "grid", "area", "note", "by", "to", "holders"} & set(data)
    raw = posts["/json"]["raw"].decode()
    for word in secret_words:  # no usernames either: who is told is a person's name
        assert word not in raw, word


def test_a_sensitive_escalation_through_the_lifecycle_names_nobody_in_the_json(session, world, receiver):
    from tests.incidents.helpers import act
    hook(session, world, receiver.url("/json"), "json")
    incident = report(session, world.safety1, "g11", "0203", description="张三与李四因漏水争吵")
    act(session, incident, world.safety1, "escalate", note="调解不成")
    deliver(session)
    [post] = [p for p in receiver.posts if p["body"]["type"] == "incident.escalated"]
    assert post["body"]["data"]["level"] == 1
    assert not {"to", "holders", "note", "by", "description"} & set(post["body"]["data"])
    for word in ("leader1", "safety1", "张三", "调解不成"):
        assert word not in post["raw"].decode(), word


def test_user_text_cannot_inject_markdown_into_robot_messages(session, world, receiver):
    for kind in ("wecom", "dingtalk"):
        hook(session, world, receiver.url(f"/{kind}"), kind)
    incident = escalated(session, world, address="村口[x](http://evil)\n# 假标题 **粗** `代码`",
                         description="[点我](http://evil2)\n详情：http://evil3")
    deliver(session)
    posts = {p["path"]: robot_text(p) for p in receiver.posts}
    markdown = posts["/dingtalk"]
    assert r"村口\[x\]\(http://evil\) \# 假标题 \*\*粗\*\* \`代码\`" in markdown
    assert "](http://evil" not in markdown
    assert [line for line in markdown.split("\n\n") if line.startswith("[")] == [
        f"[查看详情]({settings.DEFAULTS.base_url}/incidents/{incident.id})"]
    assert markdown.startswith(f"#### 事件升级：{incident.code}\n\n") and markdown.count("#### ") == 1
    text = posts["/wecom"]  # plain text: user text stays on its own line, so no line can pose as the link
    assert [line for line in text.splitlines() if line.startswith("详情：")] == [
        f"详情：{settings.DEFAULTS.base_url}/incidents/{incident.id}"]
    assert "描述：[点我](http://evil2) 详情：http://evil3" in text


def test_a_long_description_keeps_a_wecom_text_under_its_limit(session, world, receiver):
    hook(session, world, receiver.url(), "wecom")
    escalated(session, world, description="很长的描述" * 400, address="路" * 200)
    deliver(session)
    [post] = receiver.posts
    assert len(post["body"]["text"]["content"].encode()) <= webhooks.WECOM_TEXT_BYTES


# --- signatures ----------------------------------------------------------------------------------

DINGTALK_SECRET = "SEC" + "0123456789abcdef" * 4


def dingtalk_sign(timestamp: str, secret: str) -> str:
    """DingTalk's published 加签 (custom robot security settings), as its Python sample writes it."""
    string_to_sign = "{}\n{}".format(timestamp, secret)
    hmac_code = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), digestmod=hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(hmac_code))


def test_json_webhook_is_signed_so_standardwebhooks_verifies_it(session, world, receiver):
    created = hook(session, world, receiver.url())
    assert created.secret.startswith("whsec_")
    escalated(session, world)
    deliver(session)
    [post] = receiver.posts
    headers = post["headers"]
    assert standardwebhooks.Webhook(created.secret).verify(post["raw"], headers) == post["body"]
    [delivery] = deliveries(session)
    assert headers["webhook-id"] == f"msg_{delivery.id}"
    assert abs(int(headers["webhook-timestamp"]) - webhooks.now().timestamp()) < 60
    with pytest.raises(standardwebhooks.WebhookVerificationError):  # a changed body
        standardwebhooks.Webhook(created.secret).verify(post["raw"].replace(b'"level":1', b'"level":2'), headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):  # another secret
        standardwebhooks.Webhook(webhooks.new_json_secret()).verify(post["raw"], headers)


def test_webhook_id_stays_the_same_across_retries_and_the_signature_follows_the_time(session, world, receiver,
                                                                                     monkeypatch):
    created = hook(session, world, receiver.url())
    escalated(session, world)
    receiver.answers = [(500, b"boom")]
    deliver(session)
    [delivery] = deliveries(session)
    later = delivery.next_attempt_at
    monkeypatch.setattr(webhooks, "now", lambda: later)  # the retry is signed when it is sent
    deliver(session, as_of=later)
    first, second = receiver.posts
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == f"msg_{delivery.id}"
    assert first["raw"] == second["raw"]
    assert int(second["headers"]["webhook-timestamp"]) == int(later.timestamp())
    assert first["headers"]["webhook-timestamp"] != second["headers"]["webhook-timestamp"]
    for post in (first, second):  # the verifier allows five minutes either side of its clock
        key = base64.b64decode(created.secret.removeprefix("whsec_"))
        signed = f"{post['headers']['webhook-id']}.{post['headers']['webhook-timestamp']}.".encode() + post["raw"]
        assert post["headers"]["webhook-signature"] == "v1," + base64.b64encode(
            hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_each_message_has_its_own_webhook_id(session, world, receiver):
    hook(session, world, receiver.url())
    incident = report(session, world.safety1, "g11", "0201")
    for notice in ("assigned", "due_soon"):
        notify.notify(session, incident, notice, [world.safety1], {})
    session.commit()
    deliver(session)
    assert len({p["headers"]["webhook-id"] for p in receiver.posts}) == 2


def test_json_webhook_without_a_secret_is_sent_unsigned_with_its_id(session, world, receiver):
    created = hook(session, world, receiver.url())
    created.secret = None  # added before webhooks had secrets
    session.commit()
    escalated(session, world)
    deliver(session)
    [post] = receiver.posts
    assert post["headers"]["webhook-id"].startswith("msg_") and "webhook-signature" not in post["headers"]


def test_dingtalk_robot_url_carries_the_published_signature(session, world, receiver):
    webhooks.add_webhook(session, world.town, receiver.url("/robot/send?access_token=abc"), "dingtalk",
                         DINGTALK_SECRET)
    session.commit()
    escalated(session, world)
    before = int(webhooks.now().timestamp() * 1000)
    deliver(session)
    after = int(webhooks.now().timestamp() * 1000)
    [post] = receiver.posts
    path, _, query = post["path"].partition("?")
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    assert path == "/robot/send" and list(params) == ["access_token", "timestamp", "sign"]
    assert params["access_token"] == "abc"
    assert before <= int(params["timestamp"]) <= after  # milliseconds, taken when sent
    assert params["sign"] == dingtalk_sign(params["timestamp"], DINGTALK_SECRET)


def test_dingtalk_retry_is_signed_again_when_it_is_sent(session, world, receiver, monkeypatch):
    webhooks.add_webhook(session, world.town, receiver.url("/robot/send?access_token=abc"), "dingtalk",
                         DINGTALK_SECRET)
    session.commit()
    escalated(session, world)
    receiver.answers = [(200, b'{"errcode": 310000, "errmsg": "sign not match"}')]
    deliver(session)
    later = webhooks.now() + timedelta(hours=2)  # DingTalk refuses a timestamp over an hour old
    monkeypatch.setattr(webhooks, "now", lambda: later)
    assert deliver(session, as_of=later) == {"delivered": 1, "retry": 0, "failed": 0}
    stamps = []
    for post in receiver.posts:
        params = dict(pair.split("=", 1) for pair in post["path"].partition("?")[2].split("&"))
        assert params["sign"] == dingtalk_sign(params["timestamp"], DINGTALK_SECRET)
        stamps.append(int(params["timestamp"]))
    assert stamps[1] == int(later.timestamp() * 1000) and stamps[1] - stamps[0] >= 2 * 3600 * 1000


def test_unsigned_robots_get_the_url_as_configured(session, world, receiver):
    hook(session, world, receiver.url("/cgi-bin/webhook/send?key=k1"), "wecom")
    hook(session, world, receiver.url("/robot/send?access_token=t1"), "dingtalk")
    escalated(session, world)
    deliver(session)
    assert sorted(p["path"] for p in receiver.posts) == ["/cgi-bin/webhook/send?key=k1",
                                                        "/robot/send?access_token=t1"]
    assert all("webhook-signature" not in p["headers"] for p in receiver.posts)


# --- the webhooks CLI -----------------------------------------------------------------------------

def test_webhooks_add_list_remove(cli, session, world, receiver):
    result = cli.invoke(args=["webhooks", "add", "--town", world.town.code, "--url", receiver.url(),
                              "--kind", "wecom"])
    assert result.exit_code == 0, result.output
    [created] = session.scalars(select(Webhook)).all()
    assert (created.town_id, created.url, created.kind, created.active) == (world.town.id, receiver.url(), "wecom",
                                                                            True)
    assert f"webhook #{created.id} (wecom, unsigned) for town {world.town.code}" in result.output
    assert created.secret is None and "secret" not in result.output
    listed = cli.invoke(args=["webhooks", "list"]).output
    assert f"#{created.id}\t{world.town.code}\twecom\ton\t{receiver.url()}\tunsigned" in listed
    assert cli.invoke(args=["webhooks", "remove", str(created.id)]).exit_code == 0
    assert created.active is False
    escalated(session, world)
    assert deliveries(session) == []  # a switched-off hook gets nothing new


def test_webhooks_add_json_makes_a_secret_and_shows_it_once(cli, session, world, receiver):
    result = cli.invoke(args=["webhooks", "add", "--town", world.town.code, "--url", receiver.url()])
    assert result.exit_code == 0, result.output
    [created] = session.scalars(select(Webhook)).all()
    assert created.secret.startswith("whsec_") and len(base64.b64decode(created.secret[6:])) == 24
    assert f"webhook #{created.id} (json, signed)" in result.output and f"secret: {created.secret}" in result.output
    listed = cli.invoke(args=["webhooks", "list"]).output
    assert f"{receiver.url()}\tsigned" in listed and created.secret not in listed
    standardwebhooks.Webhook(created.secret)  # the package takes it


def test_webhooks_add_takes_the_secrets_given(cli, session, world, receiver):
    mine = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    for kind, secret in (("json", mine), ("dingtalk", DINGTALK_SECRET)):
        result = cli.invoke(args=["webhooks", "add", "--town", world.town.code, "--url", receiver.url(),
                                  "--kind", kind, "--secret", secret])
        assert result.exit_code == 0 and f"({kind}, signed)" in result.output, result.output
        assert secret not in result.output  # not echoed: the operator already has it
    assert [(h.kind, h.secret) for h in session.scalars(select(Webhook).order_by(Webhook.id))] == [
        ("json", mine), ("dingtalk", DINGTALK_SECRET)]


@pytest.mark.parametrize("kind, secret, code", [
    ("dingtalk", "0123456789abcdef", "webhook_secret_invalid"),          # not SEC…
    ("dingtalk", "SEC", "webhook_secret_invalid"),
    ("dingtalk", "SEC0123 456789abcdef", "webhook_secret_invalid"),
    ("dingtalk", "SEC" + "a" * 129, "webhook_secret_invalid"),           # too long
    ("dingtalk", "", "webhook_secret_invalid"),
    ("json", "whsec_not*base64!at#all$$$$$$$$$$$$", "webhook_secret_invalid"),
    ("json", "whsec_" + base64.b64encode(b"k" * 24).decode() + "@", "webhook_secret_invalid"),
    ("json", base64.b64encode(b"k" * 24).decode(), "webhook_secret_invalid"),     # no whsec_ prefix
    ("json", "whsec_" + base64.b64encode(b"k" * 8).decode(), "webhook_secret_invalid"),   # too short
    ("json", "whsec_" + base64.b64encode(b"k" * 65).decode(), "webhook_secret_invalid"),  # too long
    ("json", "whsec_" + "A" * 300, "webhook_secret_invalid"),
    ("json", "whsec_", "webhook_secret_invalid"),
    ("wecom", "SEC0123456789abcdef", "webhook_secret_unsupported"),      # WeCom robots have no signing
])
def test_webhooks_add_refuses_a_bad_secret(cli, session, world, receiver, kind, secret, code):
    result = cli.invoke(args=["webhooks", "add", "--town", world.town.code, "--url", receiver.url(), "--kind", kind,
                              "--secret", secret])
    assert result.exit_code == 1 and f"error {code}" in result.output, result.output
    assert {"dingtalk": "SEC", "json": "whsec_", "wecom": "WeCom"}[kind] in result.output  # says what is wanted
    assert session.scalars(select(Webhook)).all() == []
    with pytest.raises(GridsysError) as err:
        webhooks.add_webhook(session, world.town, receiver.url(), kind, secret)
    assert err.value.code == code
    assert session.scalars(select(Webhook)).all() == []


def test_webhook_secrets_that_are_not_text_are_refused(session, world, receiver):
    for secret in (123, b"SEC0123456789", ["whsec_x"]):
        with pytest.raises(GridsysError) as err:
            webhooks.add_webhook(session, world.town, receiver.url(), "json", secret)
        assert err.value.code == "webhook_secret_invalid"


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
    incident = report(session, world.safety1, "g11", "0201")
    with app.app_context():  # FlaskGroup pushes one for `flask --app gridsys escalate`
        result = cli.invoke(args=["escalate", "--now", "2030-01-01T00:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "escalated 1; webhooks 1 delivered, 0 to retry, 0 failed" in result.output
    assert [p["body"]["data"]["id"] for p in receiver.posts] == [incident.id]


def test_a_failing_webhook_does_not_fail_the_sweep(app, cli, session, world, closed_port):
    hook(session, world, f"http://127.0.0.1:{closed_port}/hook")
    incident = report(session, world.safety1, "g11", "0201")
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
