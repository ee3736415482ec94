"""Each event records the grid and area the incident was in when it happened (a redraw moves an
incident later): evaluation (考核) counts an event where it happened. Existing events are
backfilled: from the next boundary move's event ('rehome', whose data names the grid and area it
left) where there is one, else from where the incident is now.

Revision ID: 0012_event_places
Revises: 0011_residents
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = "0012_event_places"
down_revision = "0011_residents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incident_events", sa.Column("grid_id", sa.Integer,
                                               sa.ForeignKey("grids.id", name="fk_incident_events_grid_id_grids")))
    op.add_column("incident_events", sa.Column("area_id", sa.Integer,
                                               sa.ForeignKey("areas.id", name="fk_incident_events_area_id_areas")))
    # The log is append-only (a trigger refuses UPDATE): off for this one backfill, in this transaction.
    op.execute("ALTER TABLE incident_events DISABLE TRIGGER incident_events_append_only")
    op.execute("""
        UPDATE incident_events e SET (grid_id, area_id) = (
            SELECT coalesce(g.id, i.grid_id), coalesce(a.id, i.area_id)
            FROM incidents i
            LEFT JOIN LATERAL (   -- the next boundary move after the event: the place it left
                SELECT r.data FROM incident_events r
                WHERE r.incident_id = e.incident_id AND r.action = 'rehome' AND r.id > e.id
                ORDER BY r.id LIMIT 1) moved ON true
            LEFT JOIN grids g ON g.code = moved.data ->> 'from_grid'
            LEFT JOIN areas a ON a.code = moved.data ->> 'from_area'
            WHERE i.id = e.incident_id)
    """)
    op.execute("ALTER TABLE incident_events ENABLE TRIGGER incident_events_append_only")
    op.create_index("ix_incident_events_area_at", "incident_events", ["area_id", "at"])
    op.create_index("ix_incident_events_grid_at", "incident_events", ["grid_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_incident_events_grid_at", table_name="incident_events")
    op.drop_index("ix_incident_events_area_at", table_name="incident_events")
    op.drop_column("incident_events", "area_id")
    op.drop_column("incident_events", "grid_id")
