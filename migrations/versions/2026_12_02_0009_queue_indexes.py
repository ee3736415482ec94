"""Indexes for the queue counts every page header shows: each queue is counted from an index
of its own (a handler's open work, the resolved awaiting verification, the escalated and the
unassigned open ones), so the counts cost what the queues hold, not what the scope holds.

Revision ID: 0009_queue_indexes
Revises: 0008_queues_notifications
Create Date: 2026-12-02
"""
from alembic import op

revision = "0009_queue_indexes"
down_revision = "0008_queues_notifications"
branch_labels = None
depends_on = None

OPEN = "status IN ('reported', 'assigned', 'in_progress', 'reopened')"


def upgrade() -> None:
    op.create_index("ix_incidents_handler_work", "incidents", ["assignee_id", "status"],
                    postgresql_where="status IN ('assigned', 'in_progress', 'reopened')")
    op.create_index("ix_incidents_resolved_area", "incidents", ["area_id"], postgresql_where="status = 'resolved'")
    op.create_index("ix_incidents_escalated_open", "incidents", ["escalation_level", "area_id"],
                    postgresql_where=f"escalation_level > 0 AND {OPEN}")
    op.create_index("ix_incidents_unassigned_open", "incidents", ["town_id"],
                    postgresql_where=f"assignee_id IS NULL AND {OPEN}")


def downgrade() -> None:
    for name in ("ix_incidents_unassigned_open", "ix_incidents_escalated_open", "ix_incidents_resolved_area",
                 "ix_incidents_handler_work"):
        op.drop_index(name, table_name="incidents")
