"""flask --app gridsys open311 keys … / residents purge-contacts"""
from __future__ import annotations

import click
from flask.cli import AppGroup

from .. import db, settings
from ..commands import transactional
from ..incidents import privacy
from ..inputs import whole_number
from . import keys

open311_cli = AppGroup("open311", help="Open311 GeoReport v2 (/open311/v2/).")
keys_cli = AppGroup("keys", help="Client applications' API keys (shown once, stored hashed, revocable).")
open311_cli.add_command(keys_cli)
residents_cli = AppGroup("residents", help="The residents' channel.")


@keys_cli.command("create")
@click.argument("name")
@transactional
def keys_create(name):
    """Issue a key to the client application NAME and print it once."""
    row, key = keys.create(db.session(), name)
    click.echo(key)
    click.echo(f"key #{row.id} for {row.name}: give it to the client now, it cannot be shown again", err=True)


@keys_cli.command("list")
def keys_list():
    for row in keys.listing(db.session()):
        used = row.last_used_at.isoformat(timespec="minutes") if row.last_used_at else "never used"
        click.echo(f"#{row.id}\t{row.name}\t{'revoked' if row.revoked_at else 'active'}\t"
                   f"created {row.created_at.isoformat(timespec='minutes')}\t{used}")


@keys_cli.command("revoke")
@click.argument("key_id", type=int)
@transactional
def keys_revoke(key_id):
    """Revoke key ID: that client can no longer post requests."""
    row = keys.revoke(db.session(), key_id)
    click.echo(f"key #{row.id} ({row.name}) revoked")


@residents_cli.command("purge-contacts")
@click.option("--days", help="Days after closure (default: GRIDSYS_CONTACT_RETENTION_DAYS).")
@transactional
def purge_contacts(days):
    """Forget residents' phone numbers and names DAYS after their report was closed or cancelled
    (the escalation sweep does it too)."""
    session = db.session()
    days = settings.of(session).contact_retention_days if days is None else \
        whole_number(days, "days_invalid", "--days", 0, 36_500)
    count = privacy.purge_contacts(session, days=days)
    click.echo(f"contacts forgotten: {count} report(s) closed more than {days} days ago")
