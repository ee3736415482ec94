"""Residents' contacts to forget, by when their incident ended: the sweep's purge asks for the
closed or cancelled ones held past the retention time, which the former index (every incident
holding a contact, by closed_at, with the cancelled ones' updated_at in an OR beside it) could only
answer by reading all of them: 40 000 rows and 31 ms on every sweep at city scale, every minute,
for nothing to do. The index now holds only ended incidents with a contact, keyed by when they
ended (closed_at, or updated_at for a cancelled one), so the purge reads just what it forgets.

Revision ID: 0017_contact_held_by_end
Revises: 0016_list_order
Create Date: 2026-12-02
"""
from alembic import op

revision = "0017_contact_held_by_end"
down_revision = "0016_list_order"
branch_labels = None
depends_on = None

HELD = "(contact_phone IS NOT NULL OR contact_name IS NOT NULL)"


def upgrade() -> None:
    op.drop_index("ix_incidents_contact_held", table_name="incidents")
    op.execute("CREATE INDEX ix_incidents_contact_held ON incidents ((coalesce(closed_at, updated_at))) "
               f"WHERE {HELD} AND status IN ('closed', 'cancelled')")


def downgrade() -> None:
    op.drop_index("ix_incidents_contact_held", table_name="incidents")
    op.execute(f"CREATE INDEX ix_incidents_contact_held ON incidents (closed_at) WHERE {HELD}")
