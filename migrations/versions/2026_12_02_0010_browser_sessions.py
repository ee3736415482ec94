"""Browser sessions kept on the server, so logging out ends a session for good (a cookie copied
before logout no longer works) and idle and absolute lifetimes hold whatever the cookie says.
Only the SHA-256 of each session's key is stored.

Revision ID: 0010_browser_sessions
Revises: 0009_queue_indexes
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_browser_sessions"
down_revision = "0009_queue_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_browser_sessions_key_hash", "browser_sessions", ["key_hash"], unique=True)
    op.create_index("ix_browser_sessions_user_id", "browser_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_browser_sessions_user_id", table_name="browser_sessions")
    op.drop_index("ix_browser_sessions_key_hash", table_name="browser_sessions")
    op.drop_table("browser_sessions")
