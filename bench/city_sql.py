"""What every step of the city build shares: its parameters, the scratch schema, and the seeded
randomness written into SQL (a hash of a row's key and a salt, so a value never depends on the
plan, on parallel workers or on the order rows come in)."""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SCRATCH = "city_build"          # unlogged working tables, dropped before the dump
TOWNS, AREAS_PER_TOWN, GRIDS_PER_AREA = 1_000, 5, 20
INCIDENTS = 2_000_000
DENSE_OPEN = 100_000            # open incidents in the one dense area, at scale 1
YEAR_DAYS = 365


@dataclass(frozen=True)
class Params:
    scale: float
    seed: int
    towns: int
    incidents: int
    dense_open: int
    built_at: datetime          # the dataset's "now": nothing happens at or after it
    timezone: str
    password_hash: str

    @classmethod
    def of(cls, scale: float, seed: int, built_at: datetime, timezone: str, password_hash: str) -> "Params":
        towns = max(1, round(TOWNS * scale))
        incidents = max(200, round(INCIDENTS * scale))
        return cls(scale, seed, towns, incidents, max(50, round(DENSE_OPEN * scale)), built_at, timezone,
                   password_hash)

    @property
    def dense_total(self) -> int:
        """The dense area's incidents: its open backlog and a fifth as many closed beside it."""
        return self.dense_open + self.dense_open // 5

    @property
    def local_midnight(self) -> datetime:
        """Today's midnight in the towns' time zone, as a naive local time (days count back from it)."""
        local = self.built_at.astimezone(ZoneInfo(self.timezone))
        return local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)

    @property
    def start(self) -> datetime:
        return self.built_at - timedelta(days=YEAR_DAYS)


def u(key: str, salt: int, seed: int) -> str:
    """SQL for a uniform number in [0, 1) drawn from ``key`` (an integer expression) and ``salt``."""
    return (f"(((hashint8extended(({key})::bigint, {seed * 1000 + salt}) >> 11) & 9007199254740991)::float8"
            " / 9007199254740992.0)")


def normal(key: str, salt: int, seed: int) -> str:
    """SQL for a standard normal number (Box-Muller over two of ``u``)."""
    return f"(sqrt(-2 * ln(1 - {u(key, salt, seed)})) * cos(2 * pi() * {u(key, salt + 1, seed)}))"


def pick(array: list[str], key: str, salt: int, seed: int) -> str:
    """SQL for one element of a literal text array, chosen by ``u``."""
    items = ", ".join("'" + item.replace("'", "''") + "'" for item in array)
    return f"(ARRAY[{items}])[1 + floor({u(key, salt, seed)} * {len(array)})::int]"


def iso(expr: str) -> str:
    """SQL for a timestamptz as Python's ``isoformat()`` writes it in UTC (what the app puts in event data)."""
    return f"""to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def hours(expr: str) -> str:
    """SQL for an interval of ``expr`` hours (a float expression)."""
    return f"make_interval(secs => ({expr}) * 3600.0)"


def run(conn, label: str, sql: str, params=None, timings: dict | None = None) -> None:
    """Execute one build statement and add how long it took to ``label``. A scratch table is
    analysed as soon as it is made (the next statement's plan depends on it). With
    GRIDSYS_CITY_VERBOSE set, each statement's time is printed."""
    started = time.perf_counter()
    conn.execute(sql, params)
    made = re.match(r"\s*CREATE UNLOGGED TABLE (\S+)", sql)
    if made:
        conn.execute(f"ANALYZE {made.group(1)}")
    took = time.perf_counter() - started
    if timings is not None:
        timings[label] = timings.get(label, 0.0) + took
    if os.environ.get("GRIDSYS_CITY_VERBOSE"):
        print(f"  {took:8.1f} s  {label}: {' '.join(sql.split())[:90]}", flush=True)
