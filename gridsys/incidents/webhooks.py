"""Town webhooks: the generic JSON webhook and the WeCom / DingTalk group robots.

Messages are rows (an outbox) written in the same transaction as the notice they carry; a
deliverer (``deliver_pending``: after a request commits, and on every sweep pass) sends them
with retries and back-off, logging every attempt. A failing receiver never loses the notice.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import geo
from ..clock import now
from ..errors import GridsysError
from .models import WEBHOOK_KINDS, Incident, Webhook, WebhookAttempt, WebhookDelivery

MAX_ATTEMPTS = 8
TIMEOUT_S = 5
LEVEL_ZH = {0: "网格员", 1: "包片领导", 2: "镇管理员"}
TRIGGER_ZH = {"overdue": "超期未办结", "urgent": "紧急事件", "manual": "网格员申请升级", "stale": "升级后未处理"}


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min … capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


# --- webhooks: configuration -------------------------------------------------------------

def add_webhook(session: Session, town, url: str, kind: str) -> Webhook:
    if kind not in WEBHOOK_KINDS:
        raise GridsysError("webhook_kind_unknown", f"kind is one of {', '.join(WEBHOOK_KINDS)}")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 500:
        raise GridsysError("webhook_url_invalid", "the URL must start with http:// or https:// "
                                                  "(at most 500 characters)")
    hook = Webhook(town_id=town.id, url=url, kind=kind)
    session.add(hook)
    session.flush()
    return hook


# --- webhooks: messages ----------------------------------------------------------------------

def base_url() -> str:
    if has_app_context():
        return current_app.config.get("BASE_URL", "").rstrip("/")
    return ""


def payload(kind: str, incident: Incident, data: dict, *, notice: str = "escalated", people=()) -> dict:
    point = geo.from_db(incident.geom)
    link = f"{base_url()}/incidents/{incident.id}"
    place = incident.address or (incident.grid.name if incident.grid else
                                 incident.area.name if incident.area else incident.town.name)
    level = data.get("level", incident.escalation_level)
    if kind == "json":
        return {"event": "incident.escalated", "incident": {
            "id": incident.id, "code": incident.code, "category": incident.category_code,
            "category_name": incident.category.name_zh, "status": incident.status, "priority": incident.priority,
            "lon": point.x, "lat": point.y, "place": place, "grid": incident.grid.code if incident.grid else None,
            "area": incident.area.code if incident.area else None, "town": incident.town.code,
            "level": level, "trigger": data.get("trigger"), "holders": data.get("holders", []),
            "due_at": incident.due_at.isoformat() if incident.due_at else None, "url": link}}
    title = f"事件升级：{incident.code}"
    lines = [f"### {title}", f"> 类别：{_md(incident.category.name_zh)}", f"> 地点：{_md(place)}",
             f"> 级别：{level}（{LEVEL_ZH.get(level, level)}）", f"> 原因：{TRIGGER_ZH.get(data.get('trigger'), '')}",
             f"> 处理人：{', '.join(data.get('holders', [])) or '—'}", f"[查看详情]({link})"]
    text = "\n".join(lines)
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def _md(text: str) -> str:
    """User text inside robot markdown: no link or heading syntax can be injected."""
    return "".join(" " if c in "\r\n" else ("\\" + c if c in "[]()#*_`>" else c) for c in (text or ""))[:200]


def town_webhooks(session: Session, town_id: int) -> list[Webhook]:
    cache = session.info.get("town_webhooks")  # set for the length of a sweep
    if cache is not None and town_id in cache:
        return cache[town_id]
    hooks = list(session.scalars(select(Webhook).where(Webhook.town_id == town_id, Webhook.active)))
    if cache is not None:
        cache[town_id] = hooks
    return hooks


def queue(session: Session, incident: Incident, kind: str, people, data: dict) -> None:
    """One message per active town webhook about this notice (``kind``, to ``people``)."""
    for hook in town_webhooks(session, incident.town_id):
        session.add(WebhookDelivery(webhook_id=hook.id, incident_id=incident.id,
                                    payload=payload(hook.kind, incident, data, notice=kind, people=people), next_attempt_at=now()))
        if has_app_context():
            from flask import g
            g.webhooks_queued = True


# --- webhooks: delivery --------------------------------------------------------------------

def _post(url: str, body: dict, kind: str) -> tuple[int | None, str | None]:
    """POST the message; (status code, error or None). Robots answer 200 with an errcode."""
    request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode(),
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "gridsys-webhook/1"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (configured URL)
            answer = response.read(4096)
            if kind in ("wecom", "dingtalk"):
                try:
                    errcode = json.loads(answer or b"{}").get("errcode", 0)
                except (ValueError, AttributeError):
                    errcode = 0
                if errcode:
                    return response.status, f"robot errcode {errcode}"
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))[:500]


def deliver_pending(session: Session, *, limit: int = 100, as_of: datetime | None = None) -> dict:
    """Send due webhook messages, one row lock each (SKIP LOCKED, so several deliverers share the
    work), committing after each. Returns counts."""
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for _ in range(limit):
        delivery = session.scalar(select(WebhookDelivery).where(
            WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= (as_of or now()))
            .order_by(WebhookDelivery.next_attempt_at).limit(1).with_for_update(skip_locked=True,
                                                                                of=WebhookDelivery))
        if delivery is None:
            break
        if not delivery.webhook.active:  # switched off after the message was queued: not sent
            delivery.status = "dropped"
            session.commit()
            continue
        started = time.monotonic()
        status_code, error = _post(delivery.webhook.url, delivery.payload, delivery.webhook.kind)
        ok = error is None and status_code is not None and 200 <= status_code < 300
        session.add(WebhookAttempt(delivery_id=delivery.id, status_code=status_code, error=error,
                                   duration_ms=int((time.monotonic() - started) * 1000)))
        delivery.attempts += 1
        if ok:
            delivery.status, delivery.delivered_at = "delivered", now()
            counts["delivered"] += 1
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
            counts["failed"] += 1
        else:
            delivery.next_attempt_at = now() + backoff(delivery.attempts)
            counts["retry"] += 1
        session.commit()
    return counts


def deliver_in_background(app) -> None:
    """After a request committed an escalation: send its webhooks without making it wait."""
    if not app.config.get("WEBHOOKS_IN_BACKGROUND", True):
        return

    def run():
        with app.app_context():
            from .. import db
            deliver_pending(db.session(), limit=20)
    threading.Thread(target=run, name="gridsys-webhooks", daemon=True).start()
