"""Migration 0015 backfills the coverage figures of the zones already there, as coverage() computes them."""
from __future__ import annotations

import os

from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

from gridsys.cli import upgrade_database
from gridsys.geo import STORAGE_SRID
from gridsys.zones import services

SCRATCH_DB = f"gridsys_coverage_migration_{os.getpid()}"
ZONES = ("""
    INSERT INTO towns (code, name, geom) VALUES
        ('500106904', '甲镇', ST_Multi(ST_MakeEnvelope(106, 29, 106.2, 29.1, :srid))),
        ('500106905', '乙镇', ST_Multi(ST_MakeEnvelope(106.2, 29, 106.3, 29.1, :srid)))""", """
    INSERT INTO areas (code, town_id, name, geom)
        SELECT '500106904' || lpad(n::text, 3, '0'), t.id, '片区' || n,
               ST_Multi(ST_MakeEnvelope(106 + (n - 1) * 0.1, 29, 106 + n * 0.1, 29.1, :srid))
        FROM generate_series(1, 2) n, towns t WHERE t.code = '500106904'""", """
    INSERT INTO grids (code, area_id, name, geom, retired_at)   -- area 1: 3 grids and a gap; one retired
        SELECT a.code || lpad(n::text, 3, '0'), a.id, '网格' || n,
               ST_MakeEnvelope(106 + (n - 1) * 0.02, 29, 106 + n * 0.02, 29.1, :srid),
               CASE WHEN n = 4 THEN now() END
        FROM generate_series(1, 4) n, areas a WHERE a.code = '500106904001'""")


def test_the_migration_fills_in_the_figures_of_existing_zones(scratch_url):
    upgrade_database(scratch_url, "0014_open_geom")
    engine = create_engine(scratch_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in ZONES:
                conn.execute(text(statement), {"srid": STORAGE_SRID})
        upgrade_database(scratch_url, "0015_stored_coverage")
        with Session(engine) as session:
            stored = services.stored_coverage(session, ["500106904", "500106905", "500106904001", "500106904002"])
            assert [(r.code, r.children, round(r.coverage_pct)) for r in stored] == [
                ("500106904", 2, 100), ("500106904001", 3, 60), ("500106904002", 0, 0), ("500106905", 0, 0)]
            assert stored == services.coverage(session)
    finally:
        engine.dispose()
