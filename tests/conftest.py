"""A real PostGIS for the whole test session; every test runs in a transaction rolled back
at the end (join_transaction_mode="create_savepoint"), so commits in views are savepoints."""
from __future__ import annotations

import os

import pytest
from sqlalchemy.orm import Session

from gridsys import create_app, localdb
from gridsys.cli import upgrade_database
from gridsys.db import make_engine

# One database per test run, so runs side by side never drop each other's tables.
TEST_DB = f"gridsys_test_{os.getpid()}"


@pytest.fixture(scope="session")
def database_url():
    url = os.environ.get("GRIDSYS_TEST_DATABASE_URL")
    if url:
        upgrade_database(url)
        yield url
        return
    localdb.start()
    url = localdb.ensure_database(TEST_DB, recreate=True)
    upgrade_database(url)
    yield url
    localdb.drop_database(TEST_DB)


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def private_cluster(engine):
    """For a test of how ``localdb.start`` runs the server: skipped where GRIDSYS_TEST_DATABASE_URL
    points at another PostgreSQL."""
    if engine.url.port != (localdb.read_state() or {}).get("port"):
        pytest.skip("the test database is not on the private cluster")


@pytest.fixture
def connection(engine):
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session(connection):
    s = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield s
    s.close()


@pytest.fixture
def catalogue(session):
    """The category catalogue of data/, committed (a savepoint of the test)."""
    from gridsys.cli import DATA
    from gridsys.incidents.catalogue import load_catalogue
    counts = load_catalogue(session, (DATA / "categories.json").read_bytes())
    session.commit()
    return counts


@pytest.fixture
def app(database_url, session):
    # No app context is held across requests: each request gets its own g (user, scope, locale).
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                       "SESSION_FACTORY": lambda: session, "TILES_URL": "", "WEBHOOKS_IN_BACKGROUND": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


@pytest.fixture
def scratch_url(request):
    """A throwaway database of the private cluster named by the test module's SCRATCH_DB, made
    empty, dropped afterwards (migration tests upgrade it from nothing, or from a revision)."""
    if os.environ.get("GRIDSYS_TEST_DATABASE_URL"):
        pytest.skip("needs the private cluster to create throwaway databases")
    name = request.module.SCRATCH_DB
    localdb.start()
    url = localdb.ensure_database(name, recreate=True)
    yield url
    localdb.drop_database(name)
