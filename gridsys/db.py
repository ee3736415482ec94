"""Engine, per-request session and the declarative base.

Services flush; the request or CLI command commits once (STYLE.md "One commit per request").
"""
from __future__ import annotations

import select
import time

from flask import Flask, current_app, g
from sqlalchemy import MetaData, create_engine, event, exc, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from . import outbox, settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Before each use a pooled connection is checked without a round trip: if the server closed it (a
# restart, an administrator's kill), the socket has something to read (its farewell, or the end of
# the stream) and the pool replaces it. One idle longer than PING_IDLE_SECONDS is pinged as well
# (a firewall may have dropped it silently). The ping on every checkout that this replaces was a
# round trip on every API call.
PING_IDLE_SECONDS = 30.0


def make_engine(url: str, **kwargs):
    kwargs.setdefault("pool_size", 10)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkin", _mark_idle)
        event.listen(engine, "checkout", _check_alive)
    event.listen(engine, "connect", _for_short_statements)
    return engine


def _for_short_statements(dbapi_connection, record) -> None:
    """This app's statements read a few thousand rows by index, many at once from many requests.
    PostgreSQL's JIT (on once a plan's estimated cost is high) cost 25-75 ms more than running them,
    and parallel workers cost more to start than they save and take the cores other requests need
    (both measured on the city dataset). Off for every connection the app makes."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET jit = off; SET max_parallel_workers_per_gather = 0")
    finally:
        cursor.close()
    dbapi_connection.commit()


def planned_for_parameters(session: Session) -> None:
    """For the rest of this transaction, plan each statement for its own parameters. psycopg
    prepares a statement once a connection has run it five times, and PostgreSQL may then keep one
    generic plan for every parameter: right for a report's lookup (planning it each time cost
    about 1.5 ms a report), wrong for a count or a list over a person's scope, whose best plan
    depends on who asks (the dense area leader's unread count went from 2 ms to 400 ms on a
    connection's sixth call). Those call this first; once per transaction."""
    transaction = session.get_transaction()
    if transaction is None or session.info.get("planned_for_parameters") is not transaction:
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        session.info["planned_for_parameters"] = session.get_transaction()


def first_row(session: Session, sql: str, parameters: dict):
    """The first row of ``sql`` (the driver's own text: ``%(name)s`` parameters) on the session's
    connection, read through the DBAPI cursor. For the one statement every API call runs (token
    authentication), where SQLAlchemy's result layer cost 0.07 ms of the 0.19 the lookup took. Its
    errors come out as SQLAlchemy's own (an unreachable database is a 503 here too), and a lost
    connection is invalidated, as SQLAlchemy does for the statements it runs."""
    connection = session.connection()
    dbapi_connection = connection.connection.dbapi_connection
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = None
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute(sql, parameters)
        return cursor.fetchone()
    except dbapi_error as error:
        lost = connection.dialect.is_disconnect(error, dbapi_connection, cursor)
        if lost:    # (the pool's other connections are checked when next taken: _check_alive)
            connection.invalidate(error)
        raise exc.DBAPIError.instance(sql, parameters, error, dbapi_error, hide_parameters=True,
                                      connection_invalidated=lost, dialect=connection.dialect) from error
    except BaseException:   # interrupted mid-statement (a worker's timeout): the connection's state is unknown
        connection.invalidate()
        raise
    finally:
        if cursor is not None:
            cursor.close()


def _mark_idle(dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _check_alive(dbapi_connection, record, proxy) -> None:
    """SQLAlchemy's pessimistic disconnect handling: a dead connection raises DisconnectionError,
    and the pool retries the checkout with a fresh one."""
    try:
        if dbapi_connection.closed or dbapi_connection.broken:
            raise exc.DisconnectionError()
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
        if readable:                    # an idle connection is sent nothing unless it is going away
            raise exc.DisconnectionError()
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since > PING_IDLE_SECONDS:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
    except exc.DisconnectionError:
        raise
    except Exception as failure:
        raise exc.DisconnectionError() from failure


def init_app(app: Flask) -> None:
    factory = app.config.get("SESSION_FACTORY")
    if factory is None:
        engine = make_engine(app.config["DATABASE_URL"])
        factory = sessionmaker(engine, expire_on_commit=False)
        app.extensions["gridsys.engine"] = engine
    app.extensions["gridsys.session_factory"] = factory
    # Read-heavy answers (map data, exports) may come from a replica: its own engine, else the primary.
    replica = app.config.get("DATABASE_REPLICA_URL")
    if replica and app.config.get("SESSION_FACTORY") is None:
        engine = make_engine(replica)
        app.extensions["gridsys.replica_engine"] = engine
        app.extensions["gridsys.read_factory"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["gridsys.settings"] = settings.Settings.from_config(app.config)

    @app.teardown_appcontext
    def close_session(exc):
        reading = g.pop("db_read_session", None)
        if reading is not None:
            reading.close()
        session = g.pop("db_session", None)
        if session is not None and app.config.get("SESSION_FACTORY") is None:
            session.close()
        elif session is not None and exc is not None:
            session.rollback()


def session() -> Session:
    """The session of the current request or CLI command, carrying the app's settings for the
    rules and its outbox courier (if any) for after the commit."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def new_session() -> Session:
    """A session of its own with the app's settings and outbox courier, not the request's: for work
    on other threads (a parallel sweep), each thread its own. The caller closes it."""
    made = current_app.extensions["gridsys.session_factory"]()
    settings.attach(made, current_app.extensions["gridsys.settings"])
    return outbox.carry(made, current_app.extensions.get("gridsys.courier"))


def read_session() -> Session:
    """A session for read-heavy answers that may lag a moment behind (maps, exports): on the replica
    (DATABASE_REPLICA_URL) where one is configured, else the request's own session."""
    factory = current_app.extensions.get("gridsys.read_factory")
    if factory is None:
        return session()
    if "db_read_session" not in g:
        made = factory()
        settings.attach(made, current_app.extensions["gridsys.settings"])
        g.db_read_session = made
    return g.db_read_session
