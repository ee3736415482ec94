"""flask --app gridsys escalate / webhooks …"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from .. import applog, db
from ..commands import transactional
from ..errors import GridsysError
from ..inputs import INT4_MAX
from ..zones.services import require_zone
from . import escalation, webhooks
from .models import WEBHOOK_KINDS, Webhook, WebhookDelivery

webhooks_cli = AppGroup("webhooks", help="Town webhooks (generic JSON, WeCom or DingTalk group robots).")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("an ISO time such as 2026-11-30T09:00:00+08:00")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def sweep_once(as_of: datetime | None, workers: int = 1) -> tuple[int, dict]:
    session = db.session()
    try:
        if workers > 1:   # each worker on its own connection, committing batch by batch
            done = escalation.sweep_in_parallel(db.new_session, workers=workers, as_of=as_of)
        else:
            done = escalation.sweep(session, as_of=as_of)
            session.commit()
        sent = webhooks.deliver_pending(session)
        session.commit()   # no transaction (and no connection) held while the loop sleeps
    except BaseException:
        session.rollback()
        raise
    return len(done), sent


def _repeat(interval: int | None, work) -> None:
    """Run ``work`` once, or every ``interval`` seconds for good: a pass that fails (the database
    restarting, say) is logged and rolled back, and the next one tries again."""
    while True:
        if not interval:
            work()
            return
        try:
            work()
        except Exception as exc:  # noqa: BLE001 (a loop that dies stops every later pass)
            db.session().rollback()
            applog.event("pass_failed", level=logging.ERROR, command=click.get_current_context().info_name,
                         error=type(exc).__name__, detail=str(exc)[:300])
            click.echo(f"pass failed ({type(exc).__name__}); trying again in {interval} s", err=True)
        time.sleep(interval)


@click.command("escalate")
@with_appcontext
@click.option("--loop", "interval", type=click.IntRange(min=1), help="Keep sweeping every SECONDS.")
@click.option("--now", "as_of", help="Evaluate deadlines as if it were this ISO time (drills, tests); "
                                     "events still carry the real time.")
@click.option("--workers", type=click.IntRange(1, escalation.MAX_WORKERS), default=1, show_default=True,
              help="Connections raising batches at once (one per spare core); above 1, each batch is "
                   "committed on its own.")
def escalate_command(interval, as_of, workers):
    """Escalate every incident past its deadline, once; then send pending webhooks."""
    as_of_time = _parse_time(as_of)

    def one_pass():
        count, sent = sweep_once(as_of_time, workers)
        click.echo(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} escalated {count}; webhooks "
                   f"{sent['delivered']} delivered, {sent['retry']} to retry, {sent['failed']} failed")
    _repeat(interval, one_pass)


@webhooks_cli.command("add")
@click.option("--town", "town_code", required=True, help="Town code (9 digits).")
@click.option("--url", required=True)
@click.option("--kind", type=click.Choice(WEBHOOK_KINDS), default="json", show_default=True)
@click.option("--secret", help="DingTalk: the robot's 加签 secret (SEC…). JSON: a Standard Webhooks secret "
                                "(whsec_…); left out, one is made and printed once. WeCom: none (the key is "
                                "in the URL).")
@transactional
def webhooks_add(town_code, url, kind, secret):
    session = db.session()
    hook = webhooks.add_webhook(session, require_zone(session, "town", town_code), url, kind, secret)
    signed = "signed" if hook.secret else "unsigned"
    click.echo(f"webhook #{hook.id} ({kind}, {signed}) for town {town_code}")
    if kind == "json" and secret is None:
        click.echo(f"secret: {hook.secret}\n(shown once: give it to the receiver, which verifies the "
                   "webhook-signature header with it)")


@webhooks_cli.command("remove")
@click.argument("webhook_id", type=int)
@transactional
def webhooks_remove(webhook_id):
    hook = db.session().get(Webhook, webhook_id) if 0 < webhook_id <= INT4_MAX else None
    if hook is None:
        raise GridsysError("webhook_not_found", f"no webhook #{webhook_id}")
    hook.active = False
    click.echo(f"webhook #{webhook_id} switched off (its delivery log is kept)")


@webhooks_cli.command("list")
def webhooks_list():
    for hook in db.session().scalars(select(Webhook).order_by(Webhook.id)):
        click.echo(f"#{hook.id}\t{hook.town.code}\t{hook.kind}\t{'on' if hook.active else 'off'}\t{hook.url}\t"
                   f"{'signed' if hook.secret else 'unsigned'}")


@webhooks_cli.command("deliver")
@click.option("--loop", "interval", type=click.IntRange(min=1), help="Keep delivering every SECONDS.")
def webhooks_deliver(interval):
    """Send pending webhook messages (the sweep does this too)."""
    def one_pass():
        session = db.session()
        sent = webhooks.deliver_pending(session)
        session.commit()
        click.echo(f"delivered {sent['delivered']}, to retry {sent['retry']}, failed {sent['failed']}")
    _repeat(interval, one_pass)


@webhooks_cli.command("log")
@click.option("--limit", default=20, show_default=True)
def webhooks_log(limit):
    """The latest deliveries with their attempts."""
    rows = db.session().scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit))
    for d in rows:
        click.echo(f"#{d.id}\twebhook #{d.webhook_id}\tincident {d.incident_id}\t{d.status}\t"
                   f"{d.attempts} attempt(s)")


@webhooks_cli.command("receive")
@click.option("--port", default=9000, show_default=True)
@click.option("--secret", help="The JSON webhook's whsec_… secret: check each message's signature.")
def webhooks_receive(port, secret):
    """A local receiver that prints what webhooks send (for trying notices out; Ctrl-C stops)."""
    import http.server
    import json as json_module

    import standardwebhooks

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                shown = json_module.dumps(json_module.loads(body), ensure_ascii=False, indent=2)
            except ValueError:
                shown = body.decode(errors="replace")
            verdict = ""
            if secret and self.headers.get("webhook-id"):
                try:
                    standardwebhooks.Webhook(secret).verify(body, dict(self.headers))
                    verdict = " (signature ok)"
                except standardwebhooks.WebhookVerificationError as exc:
                    verdict = f" (signature REFUSED: {exc})"
            click.echo(f"--- {self.path} {self.headers.get('webhook-id') or ''}{verdict}\n{shown}")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode": 0}')

        def log_message(self, *args):
            pass

    click.echo(f"listening on http://127.0.0.1:{port}/ (add it with: flask --app gridsys webhooks add "
               f"--town CODE --url http://127.0.0.1:{port}/ --kind json)")
    http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
