"""Routing a point to its grid (target, issue 12: p50 <= 1 ms in the database, <= 5 ms over HTTP).

Demo scale: 10 000 lattice grids, in the database and through locate() from Python. Beside it, in
the same run: the same query with index scans disabled (a sequential scan).

GRIDSYS_BENCH_SCALE=city: the city's 100 000 irregular grids (about 100 vertices each), random
points inside random grids (seeded); the same figures plus GET /api/v1/locate?lon=&lat= with a
bearer token, server time (bench/lists.py's timed server on a copy of the city) and the round trip
on loopback; every answer checked against the grid the point was drawn in."""
from __future__ import annotations

import random
import re
import time

from sqlalchemy import text

from gridsys.geo import STORAGE_SRID
from gridsys.zones.services import locate

from . import lists
from .common import bench_database, engine_and_session, header, percentile, scale, summary
from .seed import seed_town

QUERY = ("SELECT id FROM grids WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), "
         f"{STORAGE_SRID})) ORDER BY code LIMIT 1")
SEQ_POINTS = {"demo": 100, "city": 20}   # a sequential scan of the city's grids takes a while
HTTP_POINTS = 1000


def execution_ms(session, lon, lat) -> float:
    plan = session.execute(text("EXPLAIN (ANALYZE, TIMING OFF) " + QUERY), {"lon": lon, "lat": lat}).scalars().all()
    return float(re.search(r"Execution Time: ([0-9.]+)", "\n".join(plan)).group(1))


def in_the_database(session, points, grid_ids=None) -> dict:
    """The query's execution time (GiST), locate() from Python, and the sequential-scan baseline."""
    for lon, lat in points[:50]:  # warm up caches
        locate(session, lon, lat)
    db_ms = [execution_ms(session, lon, lat) for lon, lat in points]
    round_trip, wrong = [], 0
    for i, (lon, lat) in enumerate(points):
        start = time.perf_counter()
        where = locate(session, lon, lat)
        round_trip.append((time.perf_counter() - start) * 1000)
        assert where.grid is not None
        wrong += grid_ids is not None and where.grid.id != grid_ids[i]
    session.execute(text("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off"))
    seq_ms = [execution_ms(session, lon, lat) for lon, lat in points[:SEQ_POINTS[scale()]]]
    session.rollback()
    print(summary("database, GiST index (ST_Covers)", db_ms) + f"  target p50 <= 1 ms: "
          f"{'met' if percentile(db_ms, .5) <= 1 else 'MISSED'}")
    print(summary("locate() round trip from Python (3 levels)", round_trip))
    print(summary("baseline: database, sequential scan", seq_ms))
    if grid_ids is not None:
        print(f"{len(points) - wrong} of {len(points)} points located in the grid they were drawn in"
              f"{' (the others lie on a shared edge)' if wrong else ''}")
    return {"db_p50_ms": percentile(db_ms, .5), "db_p99_ms": percentile(db_ms, .99),
            "roundtrip_p50_ms": percentile(round_trip, .5), "seq_p50_ms": percentile(seq_ms, .5)}


def run(n_points: int = 2000) -> dict:
    return run_city(n_points) if scale() == "city" else run_demo(n_points)


def run_demo(n_points: int) -> dict:
    header("locate: point -> grid at 10 000 grids")
    url = bench_database()
    engine, session = engine_and_session(url)
    box = seed_town(session, 10_000)
    session.commit()
    rng = random.Random(7)
    points = [(rng.uniform(box["x0"], box["x1"]), rng.uniform(box["y0"], box["y1"])) for _ in range(n_points)]
    figures = in_the_database(session, points)
    engine.dispose()
    return figures


def run_city(n_points: int) -> dict:
    url, what = lists.dataset()
    header(f"locate: point -> grid, the {what}'s grids, in the database and over HTTP")
    with lists.served_copy(url, "locate") as served:
        session = served.session
        grids = session.execute(text("SELECT count(*) FROM grids WHERE retired_at IS NULL")).scalar_one()
        print(f"{grids:,} grids in service; {n_points:,} points, each in a random grid")
        drawn = session.execute(text("""
            SELECT id, ST_X(p), ST_Y(p) FROM (
              SELECT id, (ST_Dump(ST_GeneratePoints(geom, 1, id))).geom p
              FROM (SELECT id, geom FROM grids WHERE retired_at IS NULL ORDER BY hashint4(id + 7), id LIMIT :n) g
            ) s ORDER BY hashint4(id + 11), id"""), {"n": n_points}).all()
        session.rollback()
        points = [(lon, lat) for _, lon, lat in drawn]
        figures = in_the_database(session, points, [grid_id for grid_id, _, _ in drawn])
        credential = served.bearer("admin")
        for lon, lat in points[:20]:
            served.fetch(f"/api/v1/locate?lon={lon}&lat={lat}", credential)
        server, trips = [], []
        for lon, lat in points[:HTTP_POINTS]:
            ms, trip = served.fetch(f"/api/v1/locate?lon={lon}&lat={lat}", credential)
            server.append(ms)
            trips.append(trip)
        print(lists.figure("GET /api/v1/locate, bearer token (server time)", server, 5, trips, on="p50"))
    return {**figures, "http_p50_ms": percentile(server, .5), "http_p99_ms": percentile(server, .99),
            "http_round_trip_p50_ms": percentile(trips, .5)}
