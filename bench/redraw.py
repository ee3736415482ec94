"""Redrawing one grid in a town with 100 000 incidents, a change that moves about 1 000 open
incidents to another grid: the preview and the save (checks, geometries, revisions, re-homing with
routing, events and notices). Baseline in the same run (issue 12): the same change done as a
competent engineer's minimum, the two grids' new geometries and ONE set-based UPDATE relocating
the open incidents of the changed strip (no checks, no routing, no events), rolled back.
Targets: preview and save <= 1 s each.

At GRIDSYS_BENCH_SCALE=city, on a copy of the city (2 000 000 incidents, dropped at the end): in
the dense area (100 000 open incidents), the grid with the longest shared edge takes a band of its
irregular neighbour (about 100 vertices each) just wide enough to hold 1 000 of its open incidents."""
from __future__ import annotations

import json
import time

from shapely.geometry import box
from sqlalchemy import func, select, text

from gridsys import geo
from gridsys.incidents.models import OPEN_STATUSES, Incident
from gridsys.people import services as people
from gridsys import boundaries
from gridsys.zones import redraw
from gridsys.zones.models import Area

from .common import bench_database, city_database, database_copy, engine_and_session, header, scale
from .seed import CELL, X0, Y0, seed_catalogue, seed_incidents, seed_town

N = 100_000
DENSE = 1_000   # open incidents in the strip that changes hands
# Grid at lattice column 2, row 4 (area 001, rows 0..9): it takes half of its eastern neighbour.
TARGET = "500106901001" + f"{2 * 10 + 4 + 1:03d}"


OPEN_SQL = "status IN ('reported', 'assigned', 'in_progress', 'reopened')"
BAND = """ST_Intersection(b.geom, ST_Buffer(CAST(a.geom AS geography), :d)::geometry)"""


def run() -> dict:
    if scale() == "city":
        header("redraw one grid in the city's dense area (2 000 000 incidents, 100 000 open in the area)")
        with database_copy(city_database(), "gridsys_city_redraw") as url:
            engine, session = engine_and_session(url)
            try:
                return city_redraw(session)
            finally:
                session.close()
                engine.dispose()
    header(f"redraw one grid in a town with {N:,} incidents")
    url = bench_database("gridsys_bench_redraw")
    engine, session = engine_and_session(url)
    start = time.perf_counter()
    seed_town(session, 1000)
    seed_catalogue(session)
    leader, _ = people.create_user(session, "leader", roles=["area_leader"], password="bench-password-1",
                                   must_change_password=False)
    for code in session.scalars(select(Area.code)):
        people.set_area_leader(session, leader, code)
    seed_incidents(session, N, open_fraction=0.3)
    x0, y0 = X0 + 2 * CELL, Y0 + 4 * CELL
    strip = (x0 + 1.02 * CELL, y0 + 0.02 * CELL, x0 + 1.48 * CELL, y0 + 0.98 * CELL)   # inside the neighbour
    seed_incidents(session, DENSE, open_fraction=1.0, bbox=strip, prefix="D")
    session.commit()
    open_count = session.scalar(select(func.count()).where(Incident.status.in_(OPEN_STATUSES)))
    print(f"seeded {N:,} incidents ({open_count:,} open) over 1 000 grids in {time.perf_counter() - start:.1f} s")

    grown = box(x0, y0, x0 + 1.5 * CELL, y0 + CELL)  # eastern half-cell taken from the neighbour
    neighbour = TARGET[:12] + f"{int(TARGET[12:]) + 10:03d}"
    try:
        return measure(session, TARGET, neighbour, geo.to_geojson(grown))
    finally:
        engine.dispose()


def city_redraw(session) -> dict:
    """The pair of the dense area's grids with the longest shared edge (the neighbour with open
    incidents), and the narrowest band of the neighbour (10 m steps) holding 1 000 of them."""
    area = session.execute(text("SELECT value #>> '{}' FROM bench_meta WHERE key = 'dense_area'")).scalar_one()
    target, neighbour = session.execute(text(f"""
        WITH g AS (SELECT g.id, g.code, g.geom FROM grids g JOIN areas a ON a.id = g.area_id
                   WHERE a.code = :area AND g.retired_at IS NULL)
        SELECT a.code, b.code FROM g a JOIN g b ON a.id <> b.id AND ST_Touches(a.geom, b.geom)
        WHERE (SELECT count(*) FROM incidents WHERE grid_id = b.id AND {OPEN_SQL}) >= 2 * :n
        ORDER BY ST_Length(ST_Intersection(a.geom, b.geom)) DESC, a.code LIMIT 1"""), {"area": area, "n": DENSE}).one()
    pair = "FROM grids a, grids b WHERE a.code = :target AND b.code = :neighbour"
    band = f"SELECT {BAND} AS band {pair}"
    for d in range(10, 2000, 10):
        inside = session.scalar(text(f"SELECT count(*) FROM incidents i, ({band}) s "
                                     f"WHERE ST_Covers(s.band, i.geom) AND i.{OPEN_SQL}"),
                                {"target": target, "neighbour": neighbour, "d": d})
        if inside >= DENSE:
            break
    grown = session.scalar(text(f"SELECT ST_AsGeoJSON(ST_Union(a.geom, {BAND})) {pair}"),
                           {"target": target, "neighbour": neighbour, "d": d})
    session.rollback()
    print(f"grid {target} takes a {d} m band of {neighbour} holding {inside:,} open incidents")
    return measure(session, target, neighbour, json.loads(grown))


def measure(session, target: str, neighbour: str, geometry: dict) -> dict:
    # Baseline: the same change in its barest form (rolled back: the real one starts from the same rows).
    t = time.perf_counter()
    session.execute(text("""
        UPDATE grids SET geom = CASE code WHEN :target THEN ST_GeomFromGeoJSON(:grown)   -- the neighbour keeps its
                                          ELSE (SELECT d.geom FROM ST_Dump(ST_Difference(geom, ST_GeomFromGeoJSON(:grown)))
                                                AS d ORDER BY ST_Area(d.geom) DESC LIMIT 1) END   -- largest piece
        WHERE code IN (:target, :neighbour)"""), {"target": target, "neighbour": neighbour,
                                                  "grown": json.dumps(geometry)})
    moved = session.execute(text(f"""
        UPDATE incidents i SET grid_id = g.id, area_id = g.area_id
        FROM grids g WHERE g.code IN (:target, :neighbour) AND ST_Covers(g.geom, i.geom) AND i.grid_id <> g.id
          AND i.status IN {tuple(OPEN_STATUSES)}"""), {"target": target, "neighbour": neighbour}).rowcount
    baseline_ms = (time.perf_counter() - t) * 1000
    session.rollback()

    t = time.perf_counter()
    effect = boundaries.preview(session, redraw.plan_reshape(session, "grid", target, geometry))
    preview_ms = (time.perf_counter() - t) * 1000
    session.rollback()

    t = time.perf_counter()
    plan = redraw.plan_reshape(session, "grid", target, geometry, lock=True)
    result = boundaries.save(session, plan, actor="bench", reason="benchmark")
    session.commit()
    save_ms = (time.perf_counter() - t) * 1000

    verdict = lambda ms: "met" if ms <= 1000 else "MISSED"   # noqa: E731
    print(f"preview (checks, areas, moves):   {preview_ms:8.0f} ms, {len(effect['moves'])} incidents would move "
          f"(target <= 1000 ms: {verdict(preview_ms)})")
    print(f"save (zones, revisions, re-home): {save_ms:8.0f} ms, {len(result['moves'])} incidents moved "
          f"(target <= 1000 ms: {verdict(save_ms)})")
    print(f"baseline, geometries + one set-based UPDATE: {baseline_ms:8.0f} ms, {moved} incidents moved "
          f"(no checks, routing, events or notices)")
    return {"preview_ms": preview_ms, "save_ms": save_ms, "baseline_ms": baseline_ms, "moved": len(result["moves"])}
