"""Incidents: cases with location, routing and deadlines; the append-only event log; photos;
per-zone daily counters for human codes.

Revision ID: 0003_incidents
Revises: 0002_people
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0003_incidents"
down_revision = "0002_people"
branch_labels = None
depends_on = None

SRID = 4326  # frozen copy of gridsys.geo.STORAGE_SRID when this migration was written
OPEN = "('reported', 'assigned', 'in_progress', 'reopened')"
STATUSES = "('reported', 'assigned', 'in_progress', 'resolved', 'closed', 'reopened', 'cancelled')"


def _fk(column, table, name_table="incidents", **kw):
    return sa.Column(column, sa.Integer, sa.ForeignKey(f"{table}.id", name=f"fk_{name_table}_{column}_{table}"), **kw)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("client_uuid", sa.Uuid, nullable=False),
        sa.Column("geom", Geometry("POINT", srid=SRID, spatial_index=False), nullable=False),
        sa.Column("address", sa.String(200)),
        sa.Column("category_code", sa.String(4), sa.ForeignKey("categories.code",
                                                               name="fk_incidents_category_code_categories"),
                  nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        _fk("town_id", "towns", nullable=False), _fk("area_id", "areas"), _fk("grid_id", "grids"),
        _fk("reporter_id", "users"), _fk("assignee_id", "users"),
        sa.Column("assigned_as", sa.String(20)),
        sa.Column("routing", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("dispatched_at", sa.DateTime(timezone=True)),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("escalation_level", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("code", name="uq_incidents_code"),
        sa.UniqueConstraint("client_uuid", name="uq_incidents_client_uuid"),
        sa.CheckConstraint(f"status IN {STATUSES}", name="status_known"),
        sa.CheckConstraint("priority IN ('normal', 'urgent')", name="priority_known"),
    )
    op.create_index("ix_incidents_geom", "incidents", ["geom"], postgresql_using="gist")
    op.create_index("ix_incidents_grid_open", "incidents", ["grid_id"], postgresql_where=sa.text(f"status IN {OPEN}"))
    op.create_index("ix_incidents_area_id", "incidents", ["area_id"])
    op.create_index("ix_incidents_assignee_id", "incidents", ["assignee_id"])
    op.create_index("ix_incidents_reporter_id", "incidents", ["reporter_id"])
    op.create_index("ix_incidents_due_open", "incidents", ["due_at"], postgresql_where=sa.text(f"status IN {OPEN}"))

    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="RESTRICT",
                                                           name="fk_incident_events_incident_id_incidents"),
                  nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        _fk("actor_id", "users", name_table="incident_events"),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(12)),
        sa.Column("to_status", sa.String(12)),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("data", postgresql.JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])
    # The audit trail is append-only: the database itself refuses UPDATE and DELETE.
    op.execute("""
        CREATE FUNCTION incident_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'incident_events is append-only'; END $$;
        CREATE TRIGGER incident_events_append_only BEFORE UPDATE OR DELETE ON incident_events
        FOR EACH ROW EXECUTE FUNCTION incident_events_append_only();
    """)

    op.create_table(
        "incident_photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="RESTRICT",
                                                           name="fk_incident_photos_incident_id_incidents"),
                  nullable=False),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("incident_events.id",
                                                        name="fk_incident_photos_event_id_incident_events")),
        _fk("uploaded_by", "users", name_table="incident_photos"),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("thumbnail", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_incident_photos_incident_id", "incident_photos", ["incident_id"])

    op.create_table(
        "incident_counters",
        sa.Column("prefix", sa.String(15), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident_counters")
    op.drop_table("incident_photos")
    op.execute("DROP TRIGGER incident_events_append_only ON incident_events; "
               "DROP FUNCTION incident_events_append_only()")
    op.drop_table("incident_events")
    op.drop_table("incidents")
