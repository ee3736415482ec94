"""Coverage figures kept, not computed per request: each town's coverage by its areas and each
area's by its (unretired) grids (children, area, covered area, overlaps; m² on the spheroid), in
town_coverage and area_coverage. /zones read them instead of unioning every child of the page's
zones (city, 100 000 grids of ~100 vertices: 0.35 s of each page).

Statement-level triggers with transition tables refresh them in the statement that changes a
parent's shape or a child's shape, parent or retirement, whatever writes it (the app, an import, a
set-based SQL load): one refresh per affected parent per statement. They live in tables of their
own so that refreshing one never locks the zone's row (a redraw locks grids first, a new grid
locks its area first: the same row, taken in the other order, could deadlock). Backfilled here.

Revision ID: 0015_stored_coverage
Revises: 0014_open_geom
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = "0015_stored_coverage"
down_revision = "0014_open_geom"
branch_labels = None
depends_on = None

# (table, the zones it keeps figures of, its key, their children, the children's key to them, which children count)
KEPT = (("area_coverage", "areas", "area_id", "grids", "area_id", "AND c.retired_at IS NULL"),
        ("town_coverage", "towns", "town_id", "areas", "town_id", ""))


def _refresh_function(table: str, parents: str, key: str, children: str, fk: str, live: str) -> str:
    """refresh_<table>(ids): the figures of these parents, computed as zones.services.coverage does.
    Each row is made if missing, then locked in id order before the figures are read: a concurrent
    change of the same parent waits, and the figures are computed (a new snapshot per statement in
    a volatile function) from what it committed."""
    return f"""
        CREATE FUNCTION refresh_{table}(ids integer[]) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF coalesce(cardinality(ids), 0) = 0 THEN RETURN; END IF;
            INSERT INTO {table} ({key}, children, area_m2, covered_m2, overlap_m2)
                SELECT id, 0, 0, 0, 0 FROM {parents} WHERE id = ANY(ids) ORDER BY id ON CONFLICT DO NOTHING;
            PERFORM 1 FROM {table} WHERE {key} = ANY(ids) ORDER BY {key} FOR UPDATE;
            UPDATE {table} k SET children = f.children, area_m2 = f.area_m2, covered_m2 = f.covered_m2,
                                 overlap_m2 = f.overlap_m2
            FROM (SELECT p.id, count(c.id) AS children, ST_Area(p.geom::geography) AS area_m2,
                         coalesce(ST_Area(ST_Intersection(p.geom, ST_Union(c.geom))::geography), 0) AS covered_m2,
                         greatest(coalesce(sum(ST_Area(c.geom::geography))
                                           - ST_Area(ST_Union(c.geom)::geography), 0), 0) AS overlap_m2
                  FROM {parents} p LEFT JOIN {children} c ON c.{fk} = p.id {live}
                  WHERE p.id = ANY(ids) GROUP BY p.id) f
            WHERE k.{key} = f.id;
        END $$
    """


# What each table's statements change: the parents whose figures are refreshed. Rows whose shape,
# parent or retirement did not change (a rename, a version) refresh nothing.
TRIGGERS = {
    "grids": """
        IF TG_OP = 'INSERT' THEN
            PERFORM refresh_area_coverage(ARRAY(SELECT DISTINCT area_id FROM new_rows));
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM refresh_area_coverage(ARRAY(SELECT DISTINCT area_id FROM old_rows));
        ELSE
            PERFORM refresh_area_coverage(ARRAY(
                SELECT DISTINCT unnest(ARRAY[o.area_id, n.area_id]) FROM old_rows o JOIN new_rows n USING (id)
                WHERE n.geom IS DISTINCT FROM o.geom OR n.area_id <> o.area_id
                   OR n.retired_at IS DISTINCT FROM o.retired_at));
        END IF;""",
    "areas": """
        IF TG_OP = 'INSERT' THEN
            PERFORM refresh_area_coverage(ARRAY(SELECT id FROM new_rows));
            PERFORM refresh_town_coverage(ARRAY(SELECT DISTINCT town_id FROM new_rows));
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM refresh_town_coverage(ARRAY(SELECT DISTINCT town_id FROM old_rows));
        ELSE
            PERFORM refresh_area_coverage(ARRAY(
                SELECT n.id FROM old_rows o JOIN new_rows n USING (id) WHERE n.geom IS DISTINCT FROM o.geom));
            PERFORM refresh_town_coverage(ARRAY(
                SELECT DISTINCT unnest(ARRAY[o.town_id, n.town_id]) FROM old_rows o JOIN new_rows n USING (id)
                WHERE n.geom IS DISTINCT FROM o.geom OR n.town_id <> o.town_id));
        END IF;""",
    "towns": """
        IF TG_OP = 'INSERT' THEN
            PERFORM refresh_town_coverage(ARRAY(SELECT id FROM new_rows));
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM refresh_town_coverage(ARRAY(
                SELECT n.id FROM old_rows o JOIN new_rows n USING (id) WHERE n.geom IS DISTINCT FROM o.geom));
        END IF;""",
}
# PostgreSQL takes transition tables on single-event triggers only: three per table, one function.
EVENTS = (("insert", "INSERT", "NEW TABLE AS new_rows"),
          ("update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
          ("delete", "DELETE", "OLD TABLE AS old_rows"))


def _events(zones: str):
    """A town's figures go with it (ON DELETE CASCADE) and nothing above it has any: no DELETE."""
    return [e for e in EVENTS if not (zones == "towns" and e[1] == "DELETE")]


def _figures(table: str, key: str, parents: str) -> None:
    op.create_table(
        table,
        sa.Column(key, sa.Integer, sa.ForeignKey(f"{parents}.id", ondelete="CASCADE",
                                                 name=f"fk_{table}_{key}_{parents}"), nullable=False),
        sa.Column("children", sa.Integer, nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("covered_m2", sa.Float, nullable=False),
        sa.Column("overlap_m2", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint(key, name=f"pk_{table}"),
    )


def upgrade() -> None:
    for table, parents, key, children, fk, live in KEPT:
        _figures(table, key, parents)
        op.execute(_refresh_function(table, parents, key, children, fk, live))
    for zones, body in TRIGGERS.items():
        op.execute(f"CREATE FUNCTION {zones}_refresh_coverage() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                   f"BEGIN{body}\n    RETURN NULL;\nEND $$")
        for name, event, referencing in _events(zones):
            op.execute(f"CREATE TRIGGER {zones}_{name}_coverage AFTER {event} ON {zones} "
                       f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {zones}_refresh_coverage()")
    op.execute("SELECT refresh_area_coverage(ARRAY(SELECT id FROM areas))")
    op.execute("SELECT refresh_town_coverage(ARRAY(SELECT id FROM towns))")
    op.execute("ANALYZE area_coverage, town_coverage")


def downgrade() -> None:
    for zones in TRIGGERS:
        for name, _event, _referencing in _events(zones):
            op.execute(f"DROP TRIGGER {zones}_{name}_coverage ON {zones}")
        op.execute(f"DROP FUNCTION {zones}_refresh_coverage()")
    for table, *_ in KEPT:
        op.execute(f"DROP FUNCTION refresh_{table}(integer[])")
        op.drop_table(table)
