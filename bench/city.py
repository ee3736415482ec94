"""The city-scale dataset of issue 12: 1 000 towns, 5 000 areas, 100 000 irregular grids, their
workers, leaders and administrators, the real catalogue, 2 000 000 incidents over the last twelve
months with their events and notices, and one dense area whose leader has 100 000 open incidents.

``ensure(scale)`` returns the URL of a database holding it, at the least cost: the database as it
is when its ``bench_meta`` says it was built by this generator version and seed at this scale;
else restored from the dump under ``var/bench/``; else built (seeded, set-based SQL; see
city_build) and dumped for next time. ``scale`` shrinks every count (0.01: 10 towns, 1 000 grids,
20 000 incidents) into a database of its own. Timestamps are relative to the build: the dataset's
"now" is ``bench_meta.built_at``. Every account's password is ``PASSWORD``.

``python -m bench city-build [--scale S] [--rebuild]`` builds or restores it and prints a summary.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from gridsys import localdb, settings
from gridsys.cli import upgrade_database
from gridsys.people.services import hash_password

from . import city_build
from .city_sql import Params

GENERATOR = 2        # bump whenever the data made changes: dumps and databases of older versions are rebuilt
#                      (2: incidents written with fillfactor 85 and incident_escalations, migration 0022)
SEED = 12
PASSWORD = "city-bench-password"
DATABASE = "gridsys_city"
DENSE_AREA_SEQ = "001"   # the dense area: the first area of the first (central) town


def database_name(scale: float = 1.0) -> str:
    return DATABASE if scale == 1 else f"{DATABASE}_{_tag(scale).replace('.', '_')}"


def key(scale: float = 1.0) -> str:
    return f"v{GENERATOR}-seed{SEED}-scale{_tag(scale)}"


def dump_path(scale: float = 1.0) -> Path:
    return localdb.var_dir() / "bench" / f"city-{key(scale)}.dump"


def _tag(scale: float) -> str:
    if not 0 < scale <= 1:
        raise ValueError(f"scale is in (0, 1], got {scale}")
    return format(scale, "g")


def ensure(scale: float = 1.0, *, database: str | None = None, dump: bool = True, rebuild: bool = False) -> str:
    """The URL of a database with the city dataset at ``scale`` (reused, restored or built; see the
    module's docstring). ``database``: another name (a test's own); ``dump``: keep and reuse a dump
    under var/bench/; ``rebuild``: build even when a database or dump is there."""
    localdb.start()
    name = database or database_name(scale)
    url = localdb.url(name)
    if not rebuild and (meta(name) or {}).get("key") == key(scale):
        upgrade_database(url)
        print(f"city dataset {key(scale)}: database {name} reused")
        return url
    path = dump_path(scale)
    if dump and not rebuild and path.exists():
        localdb.ensure_database(name, recreate=True)
        started = time.perf_counter()
        _pg("pg_restore", "-j", "2", "--no-owner", "-d", name, str(path))
        _settle(name)
        took = time.perf_counter() - started
        if (meta(name) or {}).get("key") == key(scale):
            _note(name, "restore_seconds", round(took, 1))
            upgrade_database(url)
            print(f"city dataset {key(scale)}: restored {path} ({_mb(path.stat().st_size)}) in {took:.0f} s")
            return url
        print(f"city dataset: {path} holds something else; building instead")
    localdb.ensure_database(name, recreate=True)
    tz = settings.DEFAULTS.timezone
    built_at = datetime.now(timezone.utc).replace(microsecond=0)
    params = Params.of(scale, SEED, built_at, tz, hash_password(PASSWORD))
    dense = _dense_area_code(params)
    print(f"city dataset {key(scale)}: building {params.towns} towns, {params.incidents:,} incidents into {name} …")
    timings = city_build.build(url, params, dense)
    _write_meta(url, {"key": key(scale), "generator": GENERATOR, "seed": SEED, "scale": scale,
                      "built_at": built_at.isoformat(), "build_seconds": round(timings["total"], 1),
                      "timings": {k: round(v, 1) for k, v in timings.items()}, "dense_area": dense,
                      "dense_leader": f"l{dense}", "dense_open_target": params.dense_open, "password": PASSWORD})
    print(f"city dataset {key(scale)}: built in {timings['total']:.0f} s ("
          + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if k != "total") + ")")
    if dump:
        _dump(name, path)
    return url


def _dense_area_code(p: Params) -> str:
    from .city_zones import town_rows
    return town_rows(p)[0]["code"] + DENSE_AREA_SEQ


def _pg(tool: str, *args: str, capture: bool = False) -> str:
    state = localdb.read_state()
    env = {**os.environ, "PGPASSWORD": state["password"]}
    cmd = [str(localdb.pg_bindir() / tool), "-h", "127.0.0.1", "-p", str(state["port"]), "-U", localdb.ROLE, *args]
    done = subprocess.run(cmd, env=env, check=True, capture_output=capture, text=True)
    return done.stdout if capture else ""


def _dump(name: str, path: Path) -> None:
    """pg_dump -Fc into ``path`` (written beside it, then renamed: a dump that exists is whole); older
    dumps of the same scale go, so the disk holds one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    _pg("pg_dump", "-Fc", "-Z", "1", "-f", str(partial), name)
    partial.rename(path)
    scale_part = path.name.rsplit("-scale", 1)[1]
    for old in path.parent.glob(f"city-*-scale{scale_part}"):
        if old != path:
            old.unlink()
    took = time.perf_counter() - started
    _note(name, "dump_seconds", round(took, 1))
    print(f"city dataset: dumped to {path} ({_mb(path.stat().st_size)}) in {took:.0f} s")


def _settle(name: str) -> None:
    """A restored database has no planner statistics and no visibility map: both made now, so the
    benchmarks measure the plans and index-only scans a live database has."""
    with city_build.connect(localdb.url(name)) as conn:
        city_build.share_niceness(conn)
        conn.execute("VACUUM (ANALYZE)")


def _sql(name: str, query: str, params=None) -> list[tuple]:
    with city_build.connect(localdb.url(name)) as conn:
        return conn.execute(query, params).fetchall()


def meta(name: str) -> dict | None:
    """The dataset's ``bench_meta`` (None when the database is missing or was never finished)."""
    found = _sql("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", (name,))
    if not found or not _sql(name, "SELECT to_regclass('bench_meta')")[0][0]:
        return None
    return {k: v for k, v in _sql(name, "SELECT key, value FROM bench_meta")}


def _write_meta(url: str, values: dict) -> None:
    with city_build.connect(url) as conn:
        conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)")
        for k, v in values.items():
            conn.execute("INSERT INTO bench_meta VALUES (%s, %s)", (k, json.dumps(v)))


def _note(name: str, k: str, value) -> None:
    with city_build.connect(localdb.url(name)) as conn:
        conn.execute("INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     (k, json.dumps(value)))


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def describe(name: str) -> str:
    """What the dataset holds, for people: counts, the dense area, unread notices, time and size."""
    m = meta(name) or {}
    tables = ("towns", "areas", "grids", "users", "grid_assignments", "area_leaders", "town_admins", "categories",
              "incidents", "incident_events", "notifications", "incident_counters")
    counts = {t: _sql(name, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    statuses = _sql(name, "SELECT status, count(*) FROM incidents GROUP BY 1 ORDER BY 2 DESC")
    dense_open = _sql(name, """SELECT count(*) FROM incidents i JOIN areas a ON a.id = i.area_id
                               WHERE a.code = %s AND i.status IN ('reported', 'assigned', 'in_progress', 'reopened')""",
                      (m.get("dense_area"),))[0][0]
    unread = _sql(name, """SELECT u.username, count(*) FROM notifications n JOIN users u ON u.id = n.user_id
                           JOIN user_roles r ON r.user_id = u.id AND r.role = 'area_leader'
                           WHERE n.read_at IS NULL GROUP BY 1 ORDER BY 2 DESC""")
    urgent = _sql(name, "SELECT round(100.0 * avg((priority = 'urgent')::int), 1) FROM incidents")[0][0]
    size = _sql(name, "SELECT pg_database_size(current_database())")[0][0]
    path = dump_path(m["scale"]) if "scale" in m else None
    lines = [f"city dataset {m.get('key')} in database {name} (built {m.get('built_at')})",
             "  " + ", ".join(f"{t} {n:,}" for t, n in counts.items()),
             "  statuses: " + ", ".join(f"{s} {n:,}" for s, n in statuses) + f"; urgent {urgent} %",
             f"  dense area {m.get('dense_area')} (leader {m.get('dense_leader')}): {dense_open:,} open incidents",
             f"  unread notices of leaders: max {unread[0][1] if unread else 0:,} ({unread[0][0] if unread else '-'}), "
             f"{sum(1 for _, n in unread if n >= 1000)} leaders with 1 000 or more",
             f"  build {m.get('build_seconds')} s; database {_mb(size)}"
             + (f"; dump {path} {_mb(path.stat().st_size)}" if path and path.exists() else "")
             + (f" (written in {m['dump_seconds']} s)" if "dump_seconds" in m else "")
             + (f"; restored in {m['restore_seconds']} s" if "restore_seconds" in m else "")]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench city-build",
                                     description="Build (or restore, or reuse) the city dataset and summarise it.")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the city (default 1: the whole)")
    parser.add_argument("--rebuild", action="store_true", help="build even when a database or dump is there")
    args = parser.parse_args(argv)
    ensure(args.scale, rebuild=args.rebuild)
    print(describe(database_name(args.scale)))
    return 0
