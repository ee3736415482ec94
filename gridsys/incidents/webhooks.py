"""Town webhooks: the generic JSON webhook and the WeCom / DingTalk group robots.

Messages are rows (an outbox) written in the same transaction as the notice they carry; a
deliverer (``deliver_pending``: the session's courier after the commit, see gridsys/outbox.py,
every sweep pass, ``flask webhooks deliver``) sends them
with retries and back-off, logging every attempt. A failing receiver never loses the notice.
Each attempt is signed when it is sent (DingTalk's 加签; Standard Webhooks headers for JSON).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import quote_plus

import standardwebhooks
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from .. import applog, geo, outbox, settings, wording
from ..clock import now
from ..errors import GridsysError
from ..wording import N_
from .models import WEBHOOK_KINDS, Incident, Webhook, WebhookAttempt, WebhookDelivery
from .wording import LEVEL_NAMES, NOTICES, TRIGGER_NAMES

MAX_ATTEMPTS = 8
TIMEOUT_S = 5


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min … capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


# --- webhooks: configuration -------------------------------------------------------------

DINGTALK_SECRET = re.compile(r"SEC[0-9A-Za-z]{8,128}")
JSON_SECRET_PREFIX = "whsec_"
JSON_SECRET_BYTES = (24, 64)  # the Standard Webhooks range; new secrets get 24 random bytes


def add_webhook(session: Session, town, url: str, kind: str, secret: str | None = None) -> Webhook:
    """A town's webhook. A JSON webhook given no secret gets a new one (read it off
    ``hook.secret`` to show it once); a WeCom robot takes none (its key is in the URL)."""
    if kind not in WEBHOOK_KINDS:
        raise GridsysError("webhook_kind_unknown", f"kind is one of {', '.join(WEBHOOK_KINDS)}")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 500:
        raise GridsysError("webhook_url_invalid", "the URL must start with http:// or https:// "
                                                  "(at most 500 characters)")
    if secret is not None:
        check_secret(kind, secret)
    elif kind == "json":
        secret = new_json_secret()
    hook = Webhook(town_id=town.id, url=url, kind=kind, secret=secret)
    session.add(hook)
    session.flush()
    return hook


def new_json_secret() -> str:
    return JSON_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(JSON_SECRET_BYTES[0])).decode()


def check_secret(kind: str, secret) -> None:
    """Refuse a secret the receiver could never verify: wrong kind, shape or length."""
    if kind == "wecom":
        raise GridsysError("webhook_secret_unsupported", "WeCom group robots have no signing (the key in "
                                                         "the URL is the secret): leave out the secret")
    if not isinstance(secret, str):
        raise GridsysError("webhook_secret_invalid", "the secret is text")
    if kind == "dingtalk":
        if not DINGTALK_SECRET.fullmatch(secret):
            raise GridsysError("webhook_secret_invalid", "a DingTalk 加签 secret is SEC followed by 8 to 128 "
                                                         "letters and digits: copy it from the robot's security "
                                                         "settings (加签)")
        return
    rest = secret[len(JSON_SECRET_PREFIX):] if secret.startswith(JSON_SECRET_PREFIX) else None
    try:
        key = base64.b64decode(rest + "=" * (-len(rest) % 4), validate=True) if rest and len(rest) <= 100 \
            else None
    except ValueError:
        key = None
    low, high = JSON_SECRET_BYTES
    if key is None or not low <= len(key) <= high:
        raise GridsysError("webhook_secret_invalid", f"a JSON webhook secret is whsec_ followed by the base64 "
                                                     f"of {low} to {high} random bytes (leave it out to get one)")


# --- webhooks: messages ----------------------------------------------------------------------

ROBOT_LOCALE = "zh"  # group robots post to Chinese group chats: their words come from the zh catalogue
WECOM_TEXT_BYTES = 2048  # WeCom refuses a longer text message


def _zh(msgid: str, **values) -> str:
    return wording.text(ROBOT_LOCALE, msgid, **values)


def payload(kind: str, incident: Incident, data: dict, *, notice: str = "escalated", people=()) -> dict:
    """The body one webhook of ``kind`` gets about a notice to ``people``. A sensitive category's
    message names only the code, the category and the link (and mentions whom it asks to act)."""
    people = list(people)
    rules = settings.of(object_session(incident))
    link = f"{rules.base_url}/incidents/{incident.id}"
    sensitive = bool(incident.category.sensitive)
    if kind == "json":
        return _json_event(notice, incident, data, people, link, sensitive)
    phones = [p for p in (mobile(person.phone) for person in people) if p]
    title = _zh(N_("%(notice)s: %(code)s"), notice=_zh(NOTICES[notice].title), code=incident.code)
    lines = [_zh(N_("Category: %(name)s"), name=incident.category.name_zh)]
    if not sensitive:
        lines += _details(notice, incident, data, people, rules)
    lines.append(_zh(NOTICES[notice].ask))
    if kind == "wecom":  # a text message: WeCom's markdown cannot mention by phone
        content = "\n".join([f"【{title}】", *(_plain(line) for line in lines), _zh(N_("Details: %(url)s"), url=link)])
        return {"msgtype": "text", "text": {"content": _fit(content, WECOM_TEXT_BYTES),
                                            "mentioned_mobile_list": phones}}
    # DingTalk shows a mention only where its @phone is written in the text
    details = _zh(N_("See the details"))
    text = "\n\n".join([f"#### {title}", *(_md(line) for line in lines), f"[{details}]({link})",
                         *([" ".join(f"@{p}" for p in phones)] if phones else [])])
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text},
            "at": {"atMobiles": phones, "isAtAll": False}}


def _place(incident: Incident) -> str:
    return incident.address or (incident.grid.name if incident.grid else
                                incident.area.name if incident.area else incident.town.name)


def _details(notice: str, incident: Incident, data: dict, people: list, rules: settings.Settings) -> list[str]:
    """What a group may read about a non-sensitive incident: place, description, the notice's own facts."""
    lines = [_zh(N_("Place: %(place)s"), place=_place(incident)),
             _zh(N_("Description: %(text)s"), text=_cut(incident.description, 100))]
    if notice == "escalated":
        level = data.get("level", incident.escalation_level)
        lines += [_zh(N_("Level: %(n)s (%(holder)s)"), n=level, holder=wording.name(ROBOT_LOCALE, LEVEL_NAMES, level)),
                  _zh(N_("Reason: %(trigger)s"),
                      trigger=wording.name(ROBOT_LOCALE, TRIGGER_NAMES, data.get("trigger"), "—"))]
    if data.get("note"):
        lines.append(_zh(NOTICES[notice].note, note=_cut(str(data["note"]), 100)))
    if notice == "extended" and isinstance(data.get("hours"), int):
        lines.append(_zh(N_("Extended by: %(h)d hours"), h=data["hours"]))
    if incident.due_at is not None and notice != "to_verify":
        lines.append(_zh(N_("Due: %(t)s"), t=_local(incident.due_at, rules)))
    names = _zh(N_(", ")).join(p.display_name or p.username for p in people)
    lines.append(_zh(N_("Told: %(names)s"), names=names or "—"))
    return lines


def _json_event(notice: str, incident: Incident, data: dict, people: list, link: str, sensitive: bool) -> dict:
    """``{"type": "incident.<notice>", "timestamp", "data"}``, the Standard Webhooks payload shape."""
    body = {"id": incident.id, "code": incident.code, "category": incident.category_code,
            "category_name": incident.category.name_zh, "sensitive": sensitive, "status": incident.status,
            "priority": incident.priority, "town": incident.town.code,
            "due_at": incident.due_at.isoformat() if incident.due_at else None, "url": link}
    if notice == "escalated":
        body.update(level=data.get("level", incident.escalation_level), trigger=data.get("trigger"))
    if not sensitive:   # who is told and who holds it are people's names: not for a sensitive case
        body["to"] = [p.username for p in people]
        if notice == "escalated":
            body["holders"] = data.get("holders", [])
    if notice == "extended" and isinstance(data.get("hours"), int):
        body["hours"] = data["hours"]
    if not sensitive:
        point = geo.from_db(incident.geom)
        body.update(lon=point.x, lat=point.y, place=_place(incident), description=incident.description,
                    grid=incident.grid.code if incident.grid else None,
                    area=incident.area.code if incident.area else None)
        body.update({key: str(data[key]) for key in ("note", "by") if data.get(key)})
    return {"type": f"incident.{notice}", "timestamp": now().isoformat(), "data": body}


def mobile(phone: str | None) -> str | None:
    """A mainland mobile number as the robots' mention lists want it (11 digits), else None."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if re.fullmatch(r"1\d{10}", digits) else None


def _local(value: datetime, rules: settings.Settings) -> str:
    return value.astimezone(rules.zone).strftime("%Y-%m-%d %H:%M")


def _cut(text: str, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _plain(text: str) -> str:
    """User text inside a robot's text message: one line each, so no line can pose as another."""
    return "".join(" " if c in "\r\n" else c for c in text)


def _md(text: str) -> str:
    """User text inside robot markdown: no link or heading syntax can be injected."""
    return "".join(" " if c in "\r\n" else ("\\" + c if c in "[]()#*_`>" else c) for c in (text or ""))[:300]


def _fit(text: str, limit: int) -> str:
    encoded = text.encode()
    return text if len(encoded) <= limit else encoded[:limit - 3].decode(errors="ignore") + "…"


def _hooks_of(session: Session, town_ids) -> dict[int, list[Webhook]]:
    """The active webhooks of each of these towns, in one query (a town without any: [])."""
    found: dict[int, list[Webhook]] = {town_id: [] for town_id in town_ids}
    for hook in session.scalars(select(Webhook).where(Webhook.town_id.in_(sorted(found)), Webhook.active)
                                .order_by(Webhook.id)):
        found[hook.town_id].append(hook)
    return found


def town_webhooks(session: Session, town_id: int) -> list[Webhook]:
    cache = session.info.get("town_webhooks")  # set for the length of a sweep
    if cache is not None and town_id in cache:
        return cache[town_id]
    hooks = _hooks_of(session, [town_id])[town_id]
    if cache is not None:
        cache[town_id] = hooks
    return hooks


def prefetch_town_webhooks(session: Session, town_ids) -> None:
    """Fill the sweep's cache of ``town_webhooks`` for many towns in one query."""
    cache = session.info.get("town_webhooks")
    wanted = set(town_ids) - cache.keys() if cache is not None else set()
    if wanted:
        cache.update(_hooks_of(session, wanted))


def queue(session: Session, incident: Incident, kind: str, people, data: dict) -> None:
    """One message per active town webhook about this notice (``kind``, to ``people``)."""
    for hook in town_webhooks(session, incident.town_id):
        session.add(WebhookDelivery(webhook_id=hook.id, incident_id=incident.id, next_attempt_at=now(),
                                    payload=payload(hook.kind, incident, data, notice=kind, people=people)))
        outbox.recorded(session)


# --- webhooks: delivery --------------------------------------------------------------------

def signed_request(delivery: WebhookDelivery, at: datetime) -> tuple[str, bytes, dict]:
    """URL, body and headers of one attempt, signed now: DingTalk refuses a timestamp over an
    hour old, and a retry may come later than that. The body sent is the body signed."""
    hook = delivery.webhook
    text = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"))
    url, headers = hook.url, {"Content-Type": "application/json; charset=utf-8", "User-Agent": "gridsys-webhook/1"}
    if hook.kind == "dingtalk" and hook.secret:  # 加签
        timestamp = str(int(at.timestamp() * 1000))
        digest = hmac.new(hook.secret.encode(), f"{timestamp}\n{hook.secret}".encode(), hashlib.sha256).digest()
        url += ("&" if "?" in url else "?") + f"timestamp={timestamp}&sign={quote_plus(base64.b64encode(digest))}"
    elif hook.kind == "json":  # Standard Webhooks: the id stays the same across retries, for de-duplication
        msg_id, seconds = f"msg_{delivery.id}", int(at.timestamp())
        headers.update({"webhook-id": msg_id, "webhook-timestamp": str(seconds)})
        if hook.secret:
            headers["webhook-signature"] = standardwebhooks.Webhook(hook.secret).sign(
                msg_id, datetime.fromtimestamp(seconds, timezone.utc), text)
    return url, text.encode(), headers


def _post(url: str, body: bytes, headers: dict, kind: str) -> tuple[int | None, str | None]:
    """POST the message; (status code, error or None). Robots answer 200 with an errcode."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
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
        status_code, error = _post(*signed_request(delivery, now()), delivery.webhook.kind)
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
        # Not the URL: a WeCom robot's key is in it.
        applog.event("webhook_delivery", delivery=delivery.id, webhook=delivery.webhook_id,
                     kind=delivery.webhook.kind, status_code=status_code, error=error, outcome=delivery.status,
                     attempts=delivery.attempts)
        session.commit()
    return counts


def deliver_all(session: Session) -> dict:
    """Send everything due now, in batches, until nothing is left (the after-commit courier's work)."""
    total = {"delivered": 0, "retry": 0, "failed": 0}
    while True:
        counts = deliver_pending(session, limit=100)
        for key in total:
            total[key] += counts[key]
        if sum(counts.values()) < 100:
            return total
