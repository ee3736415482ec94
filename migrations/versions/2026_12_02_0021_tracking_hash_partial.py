"""The residents' tracking hash is indexed only where there is one. Staff reports have none (85 %
of the city's incidents), yet each of their rows had an entry in this unique index, written again
on every update that is not HOT (an escalation, a status change). Lookups by hash
(``tracking_hash = :h``) imply it is not null, so they use the partial index; uniqueness is the same
(nulls never conflicted).

Revision ID: 0021_tracking_hash_partial
Revises: 0020_event_places_unchecked
Create Date: 2026-12-02
"""
from alembic import op

revision = "0021_tracking_hash_partial"
down_revision = "0020_event_places_unchecked"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_incidents_tracking_hash", table_name="incidents")
    op.execute("CREATE UNIQUE INDEX ix_incidents_tracking_hash ON incidents (tracking_hash) "
               "WHERE tracking_hash IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_incidents_tracking_hash", table_name="incidents")
    op.execute("CREATE UNIQUE INDEX ix_incidents_tracking_hash ON incidents (tracking_hash)")
