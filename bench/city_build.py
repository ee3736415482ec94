"""Building the city dataset into an empty database: the schema from the migrations, the catalogue,
then zones, people, incidents, events and notices, each a few set-based statements.

The bulk-loaded tables lose their foreign keys, unique constraints and secondary indexes while
they are filled, and get them back (the definitions read from the catalogue, so a newer migration's
index comes back too) before ``ANALYZE``: each is built once, and every foreign key and unique
constraint is checked over the whole table as it is re-added. CHECK constraints and triggers stay
on throughout.
"""
from __future__ import annotations

import os
import time

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gridsys.cli import DATA, upgrade_database
from gridsys.db import make_engine
from gridsys.incidents.catalogue import load_catalogue

from . import city_events, city_incidents, city_people, city_story, city_zones
from .city_sql import SCRATCH, Params, run

BULK = ("incidents", "incident_events", "notifications", "incident_counters", "grid_assignments", "user_roles",
        "area_leaders", "town_admins")
# One server process does the work (no parallel workers: the machine may be shared, and this process
# takes the caller's niceness), with memory enough to sort and index in few passes.
SESSION = ("SET work_mem = '512MB'", "SET maintenance_work_mem = '1GB'", "SET synchronous_commit = off",
           "SET max_parallel_workers_per_gather = 0", "SET max_parallel_maintenance_workers = 0",
           "SET TimeZone = 'UTC'")


def connect(url: str) -> psycopg.Connection:
    u = make_url(url)
    return psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database,
                           autocommit=True)


def build(url: str, p: Params, dense_area: str) -> dict:
    """Fill the (empty) database at ``url``; returns the seconds each part took."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    upgrade_database(url)
    categories = _catalogue(url)
    timings["schema and catalogue"] = time.perf_counter() - started
    with connect(url) as conn:
        share_niceness(conn)
        for statement in SESSION:
            conn.execute(statement)
        conn.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCRATCH}")
        restore = set_aside(conn, BULK)
        city_zones.build(conn, p, timings)
        city_people.build(conn, p, timings)
        city_story.build(conn, p, dense_area, categories, timings)
        city_incidents.build(conn, p, timings)
        city_events.build(conn, p, timings)
        conn.execute(f"DROP SCHEMA {SCRATCH} CASCADE")
        for statement in restore:
            run(conn, "indexes and constraints", statement, None, timings)
        run(conn, "analyze", "VACUUM (ANALYZE)", None, timings)
    timings["total"] = time.perf_counter() - started
    return timings


def _catalogue(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            load_catalogue(session, (DATA / "categories.json").read_bytes())
            session.commit()
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.exec_driver_sql(
                "SELECT code, active FROM categories ORDER BY code")]
    finally:
        engine.dispose()


def set_aside(conn, tables: tuple[str, ...]) -> list[str]:
    """Drop the foreign keys, unique constraints and secondary indexes of ``tables`` (primary keys and
    CHECK constraints stay); return the statements that put them back, indexes first."""
    names = list(tables)
    constraints = conn.execute("""
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint
        WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u') ORDER BY contype DESC, conname
    """, (names,)).fetchall()
    indexes = conn.execute("""
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND i.indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))
        ORDER BY 1
    """, (names,)).fetchall()
    for table, name, _, _ in sorted(constraints, key=lambda c: c[3]):     # foreign keys first
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    return ([definition for _, definition in indexes]
            + [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
               for table, name, definition, kind in sorted(constraints, key=lambda c: c[3], reverse=True)])


def share_niceness(conn) -> None:
    """Run the server process doing the build at this process's niceness (``nice python -m bench
    city-build`` then yields the CPU to others, on a shared machine), where we may."""
    niceness = os.nice(0)
    if niceness <= 0:
        return
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        os.setpriority(os.PRIO_PROCESS, pid, niceness)
    except OSError:   # another user's process (a server we do not own): it keeps its priority
        pass
