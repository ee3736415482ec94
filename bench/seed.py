"""Bulk data for benchmarks, generated in SQL: a lattice town of N grids and M incidents.

The town is a 100 x (N/100) lattice of 0.002° cells (about 200 m) at 106.0°E 29.0°N, split
into areas of 5 columns; incident points are uniform over the town (seeded).
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridsys.geo import STORAGE_SRID

TOWN = "500106901"
X0, Y0, CELL = 106.0, 29.0, 0.002
COLS_PER_AREA = 5


def seed_town(session: Session, n_grids: int = 10_000) -> dict:
    rows = n_grids // 100
    cols = 100
    x1, y1 = X0 + cols * CELL, Y0 + rows * CELL
    p = {"srid": STORAGE_SRID, "x0": X0, "y0": Y0, "x1": x1, "y1": y1, "cell": CELL, "rows": rows,
         "cpa": COLS_PER_AREA, "town": TOWN}
    session.execute(text("INSERT INTO towns (code, name, geom) VALUES "
                         "(:town, '基准镇', ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, :srid)))"), p)
    session.execute(text("""
        INSERT INTO areas (code, name, town_id, geom)
        SELECT :town || lpad((a + 1)::text, 3, '0'), '片区' || (a + 1), (SELECT id FROM towns WHERE code = :town),
               ST_Multi(ST_MakeEnvelope(:x0 + a * :cpa * :cell, :y0, :x0 + (a + 1) * :cpa * :cell, :y1, :srid))
        FROM generate_series(0, 100 / :cpa - 1) a"""), p)
    session.execute(text("""
        INSERT INTO grids (code, name, area_id, geom)
        SELECT :town || lpad((c / :cpa + 1)::text, 3, '0') || lpad(((c % :cpa) * :rows + r + 1)::text, 3, '0'),
               '网格' || c || '-' || r,
               (SELECT id FROM areas WHERE code = :town || lpad((c / :cpa + 1)::text, 3, '0')),
               ST_MakeEnvelope(:x0 + c * :cell, :y0 + r * :cell, :x0 + (c + 1) * :cell, :y0 + (r + 1) * :cell, :srid)
        FROM generate_series(0, 99) c, generate_series(0, :rows - 1) r"""), p)
    session.execute(text("ANALYZE towns; ANALYZE areas; ANALYZE grids"))
    return {"x0": X0, "y0": Y0, "x1": x1, "y1": y1}


def seed_incidents(session: Session, n: int, *, due_fraction: float = 0.0, seed: float = 0.42,
                   open_fraction: float = 0.3, bbox=None, prefix: str = "B") -> None:
    """n incidents in the lattice town: the first ``due_fraction`` of them open and past their
    deadline, up to ``open_fraction`` open and not due, the rest closed. Points uniform in
    ``bbox`` (default the whole town); each gets its lattice grid by arithmetic, not a lookup."""
    rows = session.execute(text("SELECT count(*) FROM grids")).scalar() // 100
    x0, y0, x1, y1 = bbox or (X0, Y0, X0 + 100 * CELL, Y0 + rows * CELL)
    session.execute(text("SELECT setseed(:s)"), {"s": seed})
    session.execute(text("""
        INSERT INTO incidents (code, client_uuid, geom, category_code, description, priority, status, town_id,
                               area_id, grid_id, created_at, updated_at, dispatched_at, due_at, next_escalation_at,
                               routing)
        SELECT :prefix || i, gen_random_uuid(), ST_SetSRID(ST_MakePoint(x, y), :srid), '0101', '基准事件 ' || i,
               'normal', st, t.id, g.area_id, g.id, now() - interval '3 days', now(), now() - interval '3 days', due,
               CASE WHEN st IN ('reported', 'assigned', 'in_progress', 'reopened') THEN due END, '{}'
        FROM (
            SELECT i, x, y, :town || lpad((c / :cpa + 1)::text, 3, '0')
                            || lpad(((c % :cpa) * :rows + r + 1)::text, 3, '0') AS grid_code, st, due
            FROM (
                SELECT i, x, y, least(floor((x - :gx) / :cell)::int, 99) c,
                       least(floor((y - :gy) / :cell)::int, :rows - 1) r,
                       CASE WHEN i <= :n_due THEN 'assigned' WHEN i <= :n_open THEN 'in_progress' ELSE 'closed' END st,
                       CASE WHEN i <= :n_due THEN now() - interval '1 hour' ELSE now() + interval '30 days' END due
                FROM (SELECT i, :x0 + random() * (:x1 - :x0) x, :y0 + random() * (:y1 - :y0) y
                      FROM generate_series(1, :n) i) pts
            ) cells
        ) s
        CROSS JOIN (SELECT id FROM towns WHERE code = :town) t
        JOIN grids g ON g.code = s.grid_code
    """), {"prefix": prefix, "x0": x0, "y0": y0, "x1": x1, "y1": y1, "gx": X0, "gy": Y0, "cell": CELL,
           "cpa": COLS_PER_AREA, "rows": rows, "srid": STORAGE_SRID, "n": n, "n_due": int(n * due_fraction),
           "n_open": int(n * open_fraction), "town": TOWN})
    session.execute(text("ANALYZE incidents"))


def seed_catalogue(session: Session) -> None:
    from pathlib import Path
    from gridsys.incidents.catalogue import load_catalogue
    load_catalogue(session, (Path(__file__).resolve().parent.parent / "data/categories.json").read_bytes())
