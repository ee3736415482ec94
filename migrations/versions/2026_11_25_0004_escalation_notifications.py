"""Escalation schedule on incidents; in-app notifications; town webhooks with an outbox of
deliveries and a log of every attempt.

Revision ID: 0004_escalation
Revises: 0003_incidents
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0004_escalation"
down_revision = "0003_incidents"
branch_labels = None
depends_on = None

OPEN = "('reported', 'assigned', 'in_progress', 'reopened')"


def upgrade() -> None:
    op.add_column("incidents", sa.Column("escalation_trigger", sa.String(12)))
    op.add_column("incidents", sa.Column("next_escalation_at", sa.DateTime(timezone=True)))
    op.execute(f"UPDATE incidents SET next_escalation_at = due_at WHERE status IN {OPEN} AND escalation_level = 0")
    op.create_index("ix_incidents_next_escalation", "incidents", ["next_escalation_at"],
                    postgresql_where=sa.text(f"status IN {OPEN} AND next_escalation_at IS NOT NULL"))

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE",
                                                       name="fk_notifications_user_id_users"), nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id",
                                                           name="fk_notifications_incident_id_incidents")),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("data", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_notifications_user_unread", "notifications", ["user_id"],
                    postgresql_where=sa.text("read_at IS NULL"))
    op.create_index("ix_notifications_user_id", "notifications", ["user_id", "id"])

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("town_id", sa.Integer, sa.ForeignKey("towns.id", ondelete="CASCADE",
                                                       name="fk_webhooks_town_id_towns"), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('json', 'wecom', 'dingtalk')", name="kind_known"),
    )
    op.create_index("ix_webhooks_town_id", "webhooks", ["town_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("webhook_id", sa.Integer, sa.ForeignKey("webhooks.id", ondelete="CASCADE",
                                                          name="fk_webhook_deliveries_webhook_id_webhooks"),
                  nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id",
                                                           name="fk_webhook_deliveries_incident_id_incidents")),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_webhook_deliveries_webhook_id", "webhook_deliveries", ["webhook_id"])
    op.create_index("ix_webhook_deliveries_pending", "webhook_deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE",
                                                           name="fk_webhook_attempts_delivery_id_webhook_deliveries"),
                  nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("notifications")
    op.drop_index("ix_incidents_next_escalation", "incidents")
    op.drop_column("incidents", "next_escalation_at")
    op.drop_column("incidents", "escalation_trigger")
