"""Evaluation (考核): a town's published results for a period, kept as a snapshot that later edits
do not change (a correction is a new, dated publication beside the old one), and the index that
finds a town's incidents by time (the town-wide indicators start from it).

Revision ID: 0013_evaluations
Revises: 0012_event_places
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0013_evaluations"
down_revision = "0012_event_places"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("town_id", sa.Integer, sa.ForeignKey("towns.id", name="fk_evaluations_town_id_towns"),
                  nullable=False),
        sa.Column("period_from", sa.Date, nullable=False),
        sa.Column("period_to", sa.Date, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("published_by_id", sa.Integer,
                  sa.ForeignKey("users.id", name="fk_evaluations_published_by_id_users")),
        sa.Column("note", sa.Text, server_default="", nullable=False),
        sa.Column("figures", postgresql.JSONB, nullable=False),
        sa.Column("supersedes_id", sa.Integer,
                  sa.ForeignKey("evaluations.id",
                                name="fk_evaluations_supersedes_id_evaluations")),
        sa.CheckConstraint("period_from <= period_to", name=op.f("ck_evaluations_period_order")),
    )
    op.create_index("ix_evaluations_town", "evaluations",
                    ["town_id", "period_from", "published_at"])
    op.create_index("ix_incidents_town_created", "incidents", ["town_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_town_created", table_name="incidents")
    op.drop_index("ix_evaluations_town", table_name="evaluations")
    op.drop_table("evaluations")
