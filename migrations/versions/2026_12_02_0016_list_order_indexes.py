"""The incident lists read in their order: open first, by deadline, newest first, one index per
part of a scope (everything, an area, handled by, reported by). A page walks its parts'
indexes and stops after its rows, where the plain indexes gave every row in scope to sort: at
city scale the dense area's leader (120 000 in scope) waited 1.2 s a page, now about 10 ms. The
area, assignee and reporter ones replace the plain indexes of those columns (they answer the same
lookups); each is about 77 MB at 2 000 000 incidents. The escalation inbox, which loaded every
open escalated incident in scope (98 000 for that leader), is paged and read in its order from two
partial indexes of the open escalated ones (level 2 first, the longest waiting first). A person's
unread notifications are indexed with their id, so that the header's count (up to 100) and the five
newest walk them newest first and stop (the dense leader's 195 000: 20 ms to count 100, now 5 ms).

Revision ID: 0016_list_order
Revises: 0015_stored_coverage
Create Date: 2026-12-02
"""
from alembic import op

revision = "0016_list_order"
down_revision = "0015_stored_coverage"
branch_labels = None
depends_on = None

KEY = "(status IN ('reported', 'assigned', 'in_progress', 'reopened')) DESC, due_at, id DESC"
LISTED = {"ix_incidents_listed": "", "ix_incidents_area_listed": "area_id, ",
          "ix_incidents_assignee_listed": "assignee_id, ", "ix_incidents_reporter_listed": "reporter_id, "}
ESCALATED = {"ix_incidents_escalated_listed": "", "ix_incidents_area_escalated_listed": "area_id, "}
ESCALATION_KEY = "escalation_level DESC, escalated_at, id"
ESCALATED_OPEN = "escalation_level > 0 AND status IN ('reported', 'assigned', 'in_progress', 'reopened')"
REPLACED = {"ix_incidents_area_id": "area_id", "ix_incidents_assignee_id": "assignee_id",
            "ix_incidents_reporter_id": "reporter_id"}


def upgrade() -> None:
    for name, first in LISTED.items():
        op.execute(f"CREATE INDEX {name} ON incidents ({first}{KEY})")
    for name, first in ESCALATED.items():
        op.execute(f"CREATE INDEX {name} ON incidents ({first}{ESCALATION_KEY}) WHERE {ESCALATED_OPEN}")
    for name in REPLACED:
        op.drop_index(name, table_name="incidents")
    op.drop_index("ix_notifications_user_unread", table_name="notifications")
    op.create_index("ix_notifications_user_unread", "notifications", ["user_id", "id"],
                    postgresql_where="read_at IS NULL")


def downgrade() -> None:
    op.drop_index("ix_notifications_user_unread", table_name="notifications")
    op.create_index("ix_notifications_user_unread", "notifications", ["user_id"], postgresql_where="read_at IS NULL")
    for name, column in REPLACED.items():
        op.create_index(name, "incidents", [column])
    for name in (*ESCALATED, *LISTED):
        op.drop_index(name, table_name="incidents")
