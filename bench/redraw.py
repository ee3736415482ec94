"""Redrawing one grid in a town with 100 000 incidents: the preview and the save (geometries,
revisions, re-homing of the open incidents that changed grid), beside a naive re-homing loop
that locates every open incident of the town again, in the same run.
Target (DESIGN.md): re-homing <= 1 s."""
from __future__ import annotations

import time

from shapely.geometry import box
from sqlalchemy import func, select

from gridsys import geo
from gridsys.incidents.models import OPEN_STATUSES, Incident
from gridsys.people import services as people
from gridsys import boundaries
from gridsys.zones import redraw
from gridsys.zones.models import Area
from gridsys.zones.services import locate

from .common import bench_database, engine_and_session, header
from .seed import CELL, X0, Y0, seed_catalogue, seed_incidents, seed_town

N = 100_000
NAIVE_SAMPLE = 5_000
# Grid at lattice column 2, row 4 (area 001, rows 0..9): it takes half of its eastern neighbour.
TARGET = "500106901001" + f"{2 * 10 + 4 + 1:03d}"


def run() -> dict:
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
    session.commit()
    open_count = session.scalar(select(func.count()).where(Incident.status.in_(OPEN_STATUSES)))
    print(f"seeded {N:,} incidents ({open_count:,} open) over 1 000 grids in {time.perf_counter() - start:.1f} s")

    x0, y0 = X0 + 2 * CELL, Y0 + 4 * CELL
    grown = box(x0, y0, x0 + 1.5 * CELL, y0 + CELL)  # eastern half-cell taken from the neighbour
    geometry = geo.to_geojson(grown)

    t = time.perf_counter()
    effect = boundaries.preview(session, redraw.plan_reshape(session, "grid", TARGET, geometry))
    preview_ms = (time.perf_counter() - t) * 1000
    session.rollback()

    t = time.perf_counter()
    plan = redraw.plan_reshape(session, "grid", TARGET, geometry, lock=True)
    result = boundaries.save(session, plan, actor="bench", reason="benchmark")
    session.commit()
    save_ms = (time.perf_counter() - t) * 1000

    # Naive: locate every open incident of the town again, one by one, and compare.
    rows = session.execute(select(Incident.id, Incident.grid_id, Incident.geom.ST_X(), Incident.geom.ST_Y())
                           .where(Incident.status.in_(OPEN_STATUSES)).order_by(Incident.id)
                           .limit(NAIVE_SAMPLE)).all()
    t = time.perf_counter()
    changed = 0
    for _, grid_id, x, y in rows:
        where = locate(session, x, y)
        changed += (where.grid.id if where.grid else None) != grid_id
    naive_ms = (time.perf_counter() - t) * 1000 * open_count / len(rows)
    session.rollback()
    print(f"preview (checks, areas, moves):   {preview_ms:8.0f} ms, {len(effect['moves'])} incidents would move")
    print(f"save (zones, revisions, re-home): {save_ms:8.0f} ms, {len(result['moves'])} incidents moved "
          f"(target <= 1000 ms)")
    print(f"baseline naive loop:              {naive_ms:8.0f} ms for {open_count:,} open incidents "
          f"(measured on {len(rows):,}, scaled)")
    engine.dispose()
    return {"preview_ms": preview_ms, "save_ms": save_ms, "naive_ms": naive_ms, "moved": len(result["moves"])}
