"""Flask CLI: database, demo data, catalogue; each domain adds its own group.

Every command commits once at the end, or rolls back and exits non-zero with the error code.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import db
from .errors import GridsysError

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"


def transactional(fn):
    """Run a command in one transaction; a GridsysError becomes 'error <code>: message', exit 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        session = db.session()
        try:
            result = fn(*args, **kwargs)
            session.commit()
            return result
        except GridsysError as exc:
            session.rollback()
            click.echo(f"error {exc.code}: {exc.message}", err=True)
            sys.exit(1)
        except BaseException:
            session.rollback()
            raise
    return wrapper


def alembic_config(url: str | None = None):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO / "migrations"))
    cfg.attributes["database_url"] = url or current_app.config["DATABASE_URL"]
    return cfg


def upgrade_database(url: str) -> None:
    from alembic import command
    command.upgrade(alembic_config(url), "head")


db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply all migrations."""
    upgrade_database(current_app.config["DATABASE_URL"])
    click.echo("database is at the latest migration")


@db_cli.command("is-empty")
def db_is_empty():
    """Exit 0 when no town exists yet (used by `make run` to load the demo once)."""
    from sqlalchemy import select
    from .zones.models import Town
    sys.exit(0 if db.session().scalar(select(Town.id).limit(1)) is None else 1)


categories_cli = AppGroup("categories", help="The incident category catalogue.")


@categories_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False), default=str(DATA / "categories.json"))
@transactional
def categories_load(path):
    """Load (upsert) the catalogue from a JSON file; absent categories are retired."""
    from .incidents.catalogue import load_catalogue
    counts = load_catalogue(db.session(), Path(path).read_bytes())
    click.echo(f"categories: {counts['created']} created, {counts['updated']} updated, "
               f"{counts['retired']} retired")


demo_cli = AppGroup("demo", help="Demo data (Zengjia town, Shapingba, Chongqing).")


@demo_cli.command("load")
@transactional
def demo_load():
    """Load the demo town, its areas and grids, and the category catalogue."""
    from .incidents.catalogue import load_catalogue
    from .zones.transfer import import_zones, load_json
    session = db.session()
    counts = import_zones(session, load_json((DATA / "demo_town.geojson").read_bytes()),
                          actor="demo", reason="demo data")
    load_catalogue(session, (DATA / "categories.json").read_bytes())
    click.echo("demo town loaded: " + ", ".join(
        f"{level} {c['created']} new/{c['updated']} updated" for level, c in counts.items()))


def register(app: Flask) -> None:
    from .zones.cli import zones_cli
    for group in (db_cli, categories_cli, demo_cli, zones_cli):
        app.cli.add_command(group)
