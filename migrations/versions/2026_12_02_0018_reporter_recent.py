"""A person's reports by time, with their category: what the phone offers first (/api/v1/me's
frequent categories: the caller's reports of the last 90 days, counted by category) is read from
this index alone. Through the reporter's list index it visited every one of their reports of the
year in the table (5 000 heap pages for the dense area's leader: 11-22 ms of /api/v1/me at city
scale).

Revision ID: 0018_reporter_recent
Revises: 0017_contact_held_by_end
Create Date: 2026-12-02
"""
from alembic import op

revision = "0018_reporter_recent"
down_revision = "0017_contact_held_by_end"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_incidents_reporter_created ON incidents (reporter_id, created_at) "
               "INCLUDE (category_code)")


def downgrade() -> None:
    op.drop_index("ix_incidents_reporter_created", table_name="incidents")
