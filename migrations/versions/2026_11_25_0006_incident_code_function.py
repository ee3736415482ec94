"""next_incident_seq(prefix, day): the per-zone daily counter as a function, so an incident's
code is numbered inside its own INSERT (one round trip instead of two).

Revision ID: 0006_incident_seq
Revises: 0005_grid_retirement
Create Date: 2026-11-25
"""
from alembic import op

revision = "0006_incident_seq"
down_revision = "0005_grid_retirement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION next_incident_seq(p_prefix text, p_day date) RETURNS integer
        LANGUAGE sql VOLATILE AS $$
            INSERT INTO incident_counters (prefix, day, last) VALUES (p_prefix, p_day, 1)
            ON CONFLICT (prefix, day) DO UPDATE SET last = incident_counters.last + 1
            RETURNING last
        $$
    """)


def downgrade() -> None:
    op.execute("DROP FUNCTION next_incident_seq(text, date)")
