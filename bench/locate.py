"""Routing a point to its grid at 10 000 grids (target: p50 <= 1 ms in the database).

Beside it, in the same run: the same query with index scans disabled (a sequential scan)."""
from __future__ import annotations

import random
import re
import time

from sqlalchemy import text

from gridsys.geo import STORAGE_SRID
from gridsys.zones.services import locate

from .common import bench_database, engine_and_session, header, summary
from .seed import seed_town

QUERY = ("SELECT id FROM grids WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), "
         f"{STORAGE_SRID})) ORDER BY code LIMIT 1")


def execution_ms(session, lon, lat) -> float:
    plan = session.execute(text("EXPLAIN (ANALYZE, TIMING OFF) " + QUERY), {"lon": lon, "lat": lat}).scalars().all()
    return float(re.search(r"Execution Time: ([0-9.]+)", "\n".join(plan)).group(1))


def run(n_points: int = 2000) -> dict:
    header("locate: point -> grid at 10 000 grids")
    url = bench_database()
    engine, session = engine_and_session(url)
    box = seed_town(session, 10_000)
    session.commit()
    rng = random.Random(7)
    points = [(rng.uniform(box["x0"], box["x1"]), rng.uniform(box["y0"], box["y1"])) for _ in range(n_points)]
    for lon, lat in points[:50]:  # warm up caches
        locate(session, lon, lat)
    db_ms = [execution_ms(session, lon, lat) for lon, lat in points]
    round_trip = []
    for lon, lat in points:
        start = time.perf_counter()
        where = locate(session, lon, lat)
        round_trip.append((time.perf_counter() - start) * 1000)
        assert where.grid is not None
    session.execute(text("SET enable_indexscan = off; SET enable_bitmapscan = off"))
    seq_ms = [execution_ms(session, lon, lat) for lon, lat in points[:100]]
    session.rollback()
    print(summary("database, GiST index (ST_Covers)", db_ms))
    print(summary("locate() round trip from Python (3 levels)", round_trip))
    print(summary("baseline: database, sequential scan", seq_ms))
    engine.dispose()
    from .common import percentile
    return {"db_p50_ms": percentile(db_ms, .5), "db_p99_ms": percentile(db_ms, .99),
            "roundtrip_p50_ms": percentile(round_trip, .5), "seq_p50_ms": percentile(seq_ms, .5)}
