"""Shared set-up for benchmarks: a fresh database in the private cluster (or
GRIDSYS_BENCH_DATABASE_URL), migrated, and small timing helpers."""
from __future__ import annotations

import os
import statistics
import time
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gridsys import localdb
from gridsys.cli import upgrade_database
from gridsys.db import make_engine

from . import city


def bench_database(name: str = "gridsys_bench") -> str:
    url = os.environ.get("GRIDSYS_BENCH_DATABASE_URL")
    if not url:
        localdb.start()
        url = localdb.ensure_database(name, recreate=True)
    upgrade_database(url)
    return url


SCALES = ("demo", "city")


def scale() -> str:
    """The dataset the benchmarks run on: "demo" (the default) or "city" (issue 12's city of 1 000 towns
    and 2 000 000 incidents, bench/city.py), from GRIDSYS_BENCH_SCALE (``make bench SCALE=city``)."""
    value = (os.environ.get("GRIDSYS_BENCH_SCALE") or "demo").strip().lower()
    if value not in SCALES:
        raise SystemExit(f"GRIDSYS_BENCH_SCALE={value!r}: choose one of {', '.join(SCALES)}")
    return value


def city_database() -> str:
    """The URL of the city dataset's database: reused, restored from var/bench/, or built (city.ensure)."""
    return city.ensure()


@contextmanager
def database_copy(source_url: str, name: str):
    """A copy of ``source_url``'s database (CREATE DATABASE ... TEMPLATE, a file copy: 5 to 30 s for
    the city), yielded as a URL and dropped afterwards, so a benchmark that writes (logins, tokens,
    a sweep) never changes the dataset. The source may have no other session meanwhile: benchmarks on
    the city run one after another."""
    source = make_url(source_url)
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with stopwatch() as took, admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}" STRATEGY FILE_COPY'))
        print(f"working on {name}, a copy of {source.database} ({took['s']:.0f} s to copy)")
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed_demo_town(session: Session) -> None:
    """The demo town (5 areas, 32 irregular grids), the category catalogue and the demo people
    (random passwords: a benchmark that logs in sets its own)."""
    from pathlib import Path
    from gridsys.incidents.catalogue import load_catalogue
    from gridsys.people.demo import load_demo_people
    from gridsys.zones.transfer import import_zones, load_json
    data = Path(__file__).resolve().parent.parent / "data"
    import_zones(session, load_json((data / "demo_town.geojson").read_bytes()), actor="bench")
    load_catalogue(session, (data / "categories.json").read_bytes())
    load_demo_people(session, "500106110")


def engine_and_session(url: str):
    engine = make_engine(url)
    return engine, Session(engine, expire_on_commit=False)


def percentile(values, p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summary(label: str, ms: list[float]) -> str:
    return (f"{label:<48} n={len(ms):>6}  p50={percentile(ms, .5):8.3f} ms  p99={percentile(ms, .99):8.3f} ms  "
            f"mean={statistics.fmean(ms):8.3f} ms")


@contextmanager
def stopwatch():
    result = {}
    start = time.perf_counter()
    yield result
    result["s"] = time.perf_counter() - start


def timed(fn, repeat: int = 5) -> list[float]:
    """Milliseconds of each of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def header(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))
