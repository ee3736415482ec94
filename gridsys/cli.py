"""Flask CLI: database, demo data, catalogue; each domain adds its own group.

Every command commits once at the end, or rolls back and exits non-zero with the error code.
"""
from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from sqlalchemy import select

from . import db
from .commands import transactional
from .evaluation.demo_history import load_history
from .inputs import whole_number
from .incidents.catalogue import load_catalogue
from .incidents.cli import escalate_command, webhooks_cli
from .localdb import var_dir
from .people.cli import tokens_cli, users_cli
from .people.demo import load_demo_people
from .residents.cli import open311_cli, residents_cli
from .zones.cli import zones_cli
from .zones.models import Town
from .zones.transfer import import_zones, load_json

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"


def alembic_config(url: str | None = None):
    from alembic.config import Config
    # sys.stdout read now, not when alembic was imported: `db history` prints through it.
    cfg = Config(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(REPO / "migrations"))
    cfg.attributes["database_url"] = url or current_app.config["DATABASE_URL"]
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    from alembic import command
    command.upgrade(alembic_config(url), revision)


def current_revisions(url: str) -> tuple[str, ...]:
    """The revisions the database is at; empty before the first upgrade."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def describe_revisions(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "base (no migration applied)"


def migration_command(fn):
    """Alembic's refusals (unknown revision, nothing left to undo) print
    'error revision_refused: message' and exit 1; the schema is left as it was."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from alembic.util import CommandError
        try:
            return fn(*args, **kwargs)
        except CommandError as exc:
            click.echo(f"error revision_refused: {exc}", err=True)
            sys.exit(1)
    return wrapper


db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@migration_command
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: all of them)."""
    url = current_app.config["DATABASE_URL"]
    upgrade_database(url, revision)
    click.echo("database is at the latest migration" if revision == "head"
               else f"database is at {describe_revisions(current_revisions(url))}")


# ignore_unknown_options: `downgrade -1` is a revision, not an option.
@db_cli.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision", default="-1")
@migration_command
def db_downgrade(revision):
    """Undo migrations down to REVISION: -1 (default) one step, -N N steps, a revision id,
    or base (every table dropped: the data goes with them)."""
    from alembic import command
    url = current_app.config["DATABASE_URL"]
    command.downgrade(alembic_config(url), revision)
    click.echo(f"database is at {describe_revisions(current_revisions(url))}")


@db_cli.command("current")
@migration_command
def db_current():
    """Print the revision the database is at, marked (head) when no migration is pending."""
    from alembic.script import ScriptDirectory
    url = current_app.config["DATABASE_URL"]
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    revisions = current_revisions(url)
    click.echo(", ".join(f"{rev} (head)" if rev in heads else rev for rev in revisions)
               or describe_revisions(revisions))


@db_cli.command("history")
@click.option("-v", "--verbose", is_flag=True, help="Each migration's full description and date.")
@migration_command
def db_history(verbose):
    """List every migration, newest first; the database's own is marked (current)."""
    from alembic import command
    command.history(alembic_config(), verbose=verbose, indicate_current=True)


@db_cli.command("is-empty")
def db_is_empty():
    """Exit 0 when no town exists yet (used by `make run` to load the demo once)."""
    sys.exit(0 if db.session().scalar(select(Town.id).limit(1)) is None else 1)


categories_cli = AppGroup("categories", help="The incident category catalogue.")


@categories_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False), default=str(DATA / "categories.json"))
@transactional
def categories_load(path):
    """Load (upsert) the catalogue from a JSON file; absent categories are retired."""
    counts = load_catalogue(db.session(), Path(path).read_bytes())
    click.echo(f"categories: {counts['created']} created, {counts['updated']} updated, "
               f"{counts['retired']} retired")


demo_cli = AppGroup("demo", help="Demo data (Zengjia town, Shapingba, Chongqing).")


DEMO_TOWN = "500106110"


def demo_accounts_file() -> Path:
    return var_dir() / "demo-accounts.txt"


@demo_cli.command("load")
@click.option("--history-months", default="4", show_default=True,
              help="months of past incidents (0 to 12, through the real services) so the evaluation has figures")
@transactional
def demo_load(history_months):
    """Load the demo town, its areas and grids, the category catalogue, the demo people and a few
    months of incident history. Their passwords go to var/demo-accounts.txt (mode 600)."""
    history_months = whole_number(history_months, "months_invalid", "--history-months", 0, 12)
    session = db.session()
    counts = import_zones(session, load_json((DATA / "demo_town.geojson").read_bytes()),
                          actor="demo", reason="demo data")
    load_catalogue(session, (DATA / "categories.json").read_bytes())
    people = load_demo_people(session, DEMO_TOWN)
    events_log = logging.getLogger("gridsys.events")
    events_log.disabled = True   # a line per transition of a few months of history would bury the summary
    try:
        history = load_history(session, DEMO_TOWN, history_months)
    finally:
        events_log.disabled = False
    if history:
        click.echo(f"demo history: {history} incidents over the last {history_months} months and this month")
    click.echo("demo town loaded: " + ", ".join(
        f"{level} {c['created']} new/{c['updated']} updated" for level, c in counts.items()))
    lines = []
    for role, info in people.items():
        if info["usernames"]:
            names = info["usernames"]
            shown = ", ".join(names[:6]) + (f" … ({len(names)} in all)" if len(names) > 6 else "")
            lines.append(f"{role}: {shown}\n  password: {info['password']}")
    if lines:
        path = demo_accounts_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text("gridsys demo accounts (one password per role)\n" + "\n".join(lines) + "\n")
        click.echo(f"demo accounts created; passwords in {path}")


@demo_cli.command("accounts")
def demo_accounts():
    """Print the demo accounts and where their passwords are."""
    path = demo_accounts_file()
    click.echo("demo accounts: admin (administrator), leader01…leader05 (area leaders), "
               "w0101a… (grid workers: w<area><grid><a|b|c>)")
    click.echo(f"passwords: {path}" if path.exists() else "passwords: not on this machine "
               "(the demo was loaded elsewhere); reset one with the admin page or the users CLI")


def register(app: Flask) -> None:
    for group in (db_cli, categories_cli, demo_cli, zones_cli, users_cli, tokens_cli, webhooks_cli,
                  escalate_command, open311_cli, residents_cli):
        app.cli.add_command(group)
