"""flask --app gridsys users … / tokens …"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .. import db
from ..commands import transactional
from ..errors import GridsysError
from . import roster, services
from ..vocabulary import ASSIGNABLE_DUTIES, ROLES
from .models import ApiToken, User

users_cli = AppGroup("users", help="Accounts, roles and assignments.")
tokens_cli = AppGroup("tokens", help="API tokens (shown once, stored hashed).")


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), help="Repeat for several roles.")
@click.option("--name", "display_name", help="Display name (default: the username).")
@click.option("--phone")
@click.option("--phone-public", is_flag=True, help="Show the phone on the grid's public notice (网格公示): only "
                                                 "with the person's agreement.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input; otherwise "
                                                   "one is generated and must be changed at first login.")
@transactional
def users_create(username, roles, display_name, phone, phone_public, password_stdin):
    """Create an account."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    user, generated = services.create_user(db.session(), username, display_name=display_name, roles=roles,
                                           phone=phone, password=password)
    if phone_public:
        services.set_phone(db.session(), user, user.phone, public=True)
    click.echo(f"created {user.username} ({', '.join(sorted(user.roles)) or 'no role'})")
    if generated:
        click.echo(f"one-time password: {generated}  (must be changed at first login)")


@users_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@transactional
def users_import(path):
    """Create accounts from CSV: username,display_name,phone,roles (roles separated by ';')."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GridsysError("file_unreadable", f"cannot read {path} as UTF-8 text: {exc}")
    for user, generated in roster.import_users_csv(db.session(), text):
        click.echo(f"{user.username}\t{generated}")
    click.echo("each password above must be changed at first login", err=True)


@users_cli.command("assign")
@click.argument("username")
@click.option("--grid", help="Grid code (15 digits), with --duty.")
@click.option("--duty", type=click.Choice(ASSIGNABLE_DUTIES))
@click.option("--backup", is_flag=True, help="As a backup worker for the duty.")
@click.option("--replace", is_flag=True, help="Replace the current primary worker (kept in history).")
@click.option("--area", help="Area code (12 digits): make the user its responsible leader.")
@click.option("--town", help="Town code (9 digits): make the user one of its administrators.")
@transactional
def users_assign(username, grid, duty, backup, replace, area, town):
    """Assign a person to a grid by duty, to an area as leader, or to a town as administrator."""
    session = db.session()
    user = services.get_user(session, username)
    if sum(bool(x) for x in (grid, area, town)) != 1:
        raise GridsysError("assignment_target", "give exactly one of --grid (with --duty), --area, --town")
    if grid:
        if not duty:
            raise GridsysError("duty_missing", "--grid needs --duty")
        services.assign_grid(session, user, grid, duty, backup=backup, replace=replace)
        click.echo(f"{user.username} serves grid {grid} for {duty}{' (backup)' if backup else ''}")
    elif area:
        services.set_area_leader(session, user, area)
        click.echo(f"{user.username} leads area {area}")
    else:
        services.add_town_admin(session, user, town)
        click.echo(f"{user.username} administers town {town}")


@users_cli.command("phone")
@click.argument("username")
@click.argument("number", required=False)
@click.option("--public/--private", default=False, help="Show the number on the grid's public notice (网格公示): "
                                                        "only with the person's agreement. Default: private.")
@transactional
def users_phone(username, number, public):
    """Set a person's phone number (kept when NUMBER is left out) and whether the public notice shows it."""
    session = db.session()
    user = services.get_user(session, username)
    services.set_phone(session, user, user.phone if number is None else number, public=public)
    click.echo(f"{user.username}: {user.phone or 'no phone'}, {'public' if user.phone_public else 'private'}")


@users_cli.command("deactivate")
@click.argument("username")
@transactional
def users_deactivate(username):
    """Deactivate an account: its sessions and tokens stop working; history stays."""
    session = db.session()
    services.set_active(session, services.get_user(session, username), False)
    click.echo(f"{username} deactivated")


@users_cli.command("list")
def users_list():
    for user in db.session().scalars(select(User).order_by(User.username)):
        click.echo(f"{user.username}\t{','.join(sorted(user.roles))}\t{'active' if user.active else 'inactive'}"
                   f"\t{user.display_name}")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", default="api", help="What the token is for.")
@transactional
def tokens_create(username, name):
    """Create an API token and print it once."""
    session = db.session()
    row, token = services.create_token(session, services.get_user(session, username), name)
    click.echo(token)
    click.echo(f"token #{row.id} for {username}: store it now, it cannot be shown again", err=True)


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
@transactional
def tokens_revoke(token_id):
    services.revoke_token(db.session(), token_id)
    click.echo(f"token #{token_id} revoked")


@tokens_cli.command("list")
@click.argument("username", required=False)
def tokens_list(username):
    query = select(ApiToken).order_by(ApiToken.id)
    if username:
        query = query.join(User).where(User.username == username)
    for t in db.session().scalars(query):
        state = "revoked" if t.revoked_at else "active"
        click.echo(f"#{t.id}\t{t.user.username}\t{t.name}\t{t.prefix}…\t{state}")
