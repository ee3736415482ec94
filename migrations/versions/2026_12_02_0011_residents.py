"""Residents' voice (诉求表达) and Open311: the channel a report came by, the resident's contact
for a call back (purged after closure), a private tracking link (only its SHA-256), 立案 and
不予受理/合并 (cancel reason, duplicate link), 回访 ratings and the leader's review of an
unsatisfied one, public replies and photos, resident-facing category fields, workers who publish
their phone on the grid's notice, Open311 API keys (hashed), and the resident rate limits.

Revision ID: 0011_residents
Revises: 0010_browser_sessions
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = "0011_residents"
down_revision = "0010_browser_sessions"
branch_labels = None
depends_on = None

OPEN = "('reported', 'assigned', 'in_progress', 'reopened')"


def upgrade() -> None:
    op.add_column("categories", sa.Column("resident_choice", sa.Boolean, server_default="false", nullable=False))
    op.add_column("categories", sa.Column("plain_zh", sa.String(100)))
    op.add_column("categories", sa.Column("plain_en", sa.String(100)))
    op.add_column("categories", sa.Column("response_hours", sa.Integer, server_default="24", nullable=False))
    op.create_check_constraint(op.f("ck_categories_response_hours_positive"), "categories", "response_hours > 0")

    op.add_column("users", sa.Column("phone_public", sa.Boolean, server_default="false", nullable=False))

    op.add_column("incidents", sa.Column("channel", sa.String(10), server_default="staff", nullable=False))
    op.add_column("incidents", sa.Column("contact_phone", sa.String(20)))
    op.add_column("incidents", sa.Column("contact_name", sa.String(60)))
    op.add_column("incidents", sa.Column("tracking_hash", sa.String(64)))
    op.add_column("incidents", sa.Column("registered_at", sa.DateTime(timezone=True)))
    op.add_column("incidents", sa.Column("cancel_reason", sa.String(12)))
    op.add_column("incidents", sa.Column("duplicate_of_id", sa.Integer,
                                         sa.ForeignKey("incidents.id", name="fk_incidents_duplicate_of_id_incidents")))
    op.add_column("incidents", sa.Column("rating", sa.String(12)))
    op.add_column("incidents", sa.Column("rating_comment", sa.Text))
    op.add_column("incidents", sa.Column("rated_at", sa.DateTime(timezone=True)))
    op.add_column("incidents", sa.Column("rated_via", sa.String(10)))
    op.add_column("incidents", sa.Column("review", sa.String(10)))
    op.add_column("incidents", sa.Column("reviewed_at", sa.DateTime(timezone=True)))
    op.create_check_constraint(op.f("ck_incidents_channel_known"), "incidents",
                               "channel IN ('staff', 'resident', 'phone', 'open311')")
    op.create_check_constraint(op.f("ck_incidents_rating_known"), "incidents",
                               "rating IS NULL OR rating IN ('satisfied', 'basically', 'unsatisfied')")
    op.create_check_constraint(op.f("ck_incidents_cancel_reason_known"), "incidents",
                               "cancel_reason IS NULL OR cancel_reason IN ('declined', 'duplicate', 'other')")
    op.create_index("ix_incidents_tracking_hash", "incidents", ["tracking_hash"], unique=True)
    op.create_index("ix_incidents_to_register", "incidents", ["assignee_id", "area_id"],
                    postgresql_where=sa.text("status = 'reported' AND channel <> 'staff'"))
    op.create_index("ix_incidents_unsatisfied", "incidents", ["area_id"],
                    postgresql_where=sa.text("status = 'closed' AND rating = 'unsatisfied' AND review IS NULL"))
    op.create_index("ix_incidents_grid_created", "incidents", ["grid_id", "created_at"])
    op.create_index("ix_incidents_contact_held", "incidents", ["closed_at"],
                    postgresql_where=sa.text("contact_phone IS NOT NULL OR contact_name IS NOT NULL"))

    op.add_column("incident_events", sa.Column("public", sa.Boolean, server_default="false", nullable=False))
    op.add_column("incident_photos", sa.Column("public", sa.Boolean, server_default="false", nullable=False))

    op.create_table(
        "open311_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_open311_keys_key_hash", "open311_keys", ["key_hash"], unique=True)
    op.create_table(
        "resident_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_resident_attempts_subject", "resident_attempts", ["subject", "at"])
    op.create_table(
        "proofs_spent",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("proofs_spent")
    op.drop_index("ix_resident_attempts_subject", table_name="resident_attempts")
    op.drop_table("resident_attempts")
    op.drop_index("ix_open311_keys_key_hash", table_name="open311_keys")
    op.drop_table("open311_keys")
    op.drop_column("incident_photos", "public")
    op.drop_column("incident_events", "public")
    for index in ("ix_incidents_contact_held", "ix_incidents_grid_created", "ix_incidents_unsatisfied",
                  "ix_incidents_to_register", "ix_incidents_tracking_hash"):
        op.drop_index(index, table_name="incidents")
    for check in ("cancel_reason_known", "rating_known", "channel_known"):
        op.drop_constraint(op.f(f"ck_incidents_{check}"), "incidents", type_="check")
    for column in ("reviewed_at", "review", "rated_via", "rated_at", "rating_comment", "rating", "duplicate_of_id",
                   "cancel_reason", "registered_at", "tracking_hash", "contact_name", "contact_phone", "channel"):
        op.drop_column("incidents", column)
    op.drop_column("users", "phone_public")
    op.drop_constraint(op.f("ck_categories_response_hours_positive"), "categories", type_="check")
    for column in ("response_hours", "plain_en", "plain_zh", "resident_choice"):
        op.drop_column("categories", column)
