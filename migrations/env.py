"""Alembic environment. The URL comes from the caller (gridsys CLI / tests) or the app config."""
from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from gridsys.db import Base
import gridsys.incidents.models  # noqa: F401  (registers tables)
import gridsys.people.models  # noqa: F401
import gridsys.zones.models  # noqa: F401
import gridsys.residents.models  # noqa: F401
import gridsys.evaluation.models  # noqa: F401

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    from gridsys import config as app_config
    return app_config.load()["DATABASE_URL"]


def run_migrations_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=alembic_helpers.include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run `flask --app gridsys db upgrade`")
run_migrations_online()
