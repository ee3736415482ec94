"""Zones (towns, areas, grids), boundary revisions and the category catalogue.

Revision ID: 0001_zones
Revises:
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

revision = "0001_zones"
down_revision = None
branch_labels = None
depends_on = None

SRID = 4326  # frozen copy of gridsys.geo.STORAGE_SRID when this migration was written


def _zone_columns(code_len: int):
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(code_len), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100)),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def _zone_constraints(table: str, code_len: int):
    return [
        sa.CheckConstraint(f"code ~ '^[0-9]{{{code_len}}}$'", name="code_format"),
        sa.CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        sa.UniqueConstraint("code", name=f"uq_{table}_code"),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "towns", *_zone_columns(9),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False),
        *_zone_constraints("towns", 9))
    op.create_table(
        "areas", *_zone_columns(12),
        sa.Column("town_id", sa.Integer, sa.ForeignKey("towns.id", ondelete="RESTRICT",
                                                       name="fk_areas_town_id_towns"), nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False),
        *_zone_constraints("areas", 12))
    op.create_table(
        "grids", *_zone_columns(15),
        sa.Column("area_id", sa.Integer, sa.ForeignKey("areas.id", ondelete="RESTRICT",
                                                       name="fk_grids_area_id_areas"), nullable=False),
        sa.Column("geom", Geometry("POLYGON", srid=SRID, spatial_index=False), nullable=False),
        *_zone_constraints("grids", 15))
    for table in ("towns", "areas", "grids"):
        op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")
    op.create_index("ix_areas_town_id", "areas", ["town_id"])
    op.create_index("ix_grids_area_id", "grids", ["area_id"])

    op.create_table(
        "boundary_revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("zone_code", sa.String(15), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("old_geom", Geometry("GEOMETRY", srid=SRID, spatial_index=False)),
        sa.Column("new_geom", Geometry("GEOMETRY", srid=SRID, spatial_index=False)),
        sa.CheckConstraint("level IN ('town', 'area', 'grid')", name="level_known"),
    )
    op.create_index("ix_boundary_revisions_zone_code", "boundary_revisions", ["zone_code"])

    op.create_table(
        "categories",
        sa.Column("code", sa.String(4), primary_key=True),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("duty", sa.String(20), nullable=False),
        sa.Column("deadline_hours", sa.Integer, nullable=False),
        sa.Column("escalate_after_hours", sa.Integer, nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.CheckConstraint("code ~ '^[0-9]{4}$'", name="code_format"),
        sa.CheckConstraint("duty IN ('civilization', 'safety', 'civil_affairs', 'culture', 'legal', "
                           "'counseling')", name="duty_known"),
        sa.CheckConstraint("priority IN ('normal', 'urgent')", name="priority_known"),
        sa.CheckConstraint("deadline_hours > 0 AND escalate_after_hours > 0", name="hours_positive"),
    )


def downgrade() -> None:
    # The postgis extension stays: it may predate this migration or serve other schemas.
    op.drop_table("categories")
    op.drop_table("boundary_revisions")
    op.drop_table("grids")
    op.drop_table("areas")
    op.drop_table("towns")
