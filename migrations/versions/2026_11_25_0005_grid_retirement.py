"""Grids retired by a delete or merge keep their row (closed incidents point at them).

Revision ID: 0005_grid_retirement
Revises: 0004_escalation
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_grid_retirement"
down_revision = "0004_escalation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("grids", sa.Column("retired_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("grids", "retired_at")
