"""People: users, roles, grid/area/town assignments with history, API tokens, login failures.

Revision ID: 0002_people
Revises: 0001_zones
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_people"
down_revision = "0001_zones"
branch_labels = None
depends_on = None

DUTIES = "('civilization', 'safety', 'civil_affairs', 'culture', 'legal', 'counseling', 'general')"


def _term_columns():
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("valid_to", sa.DateTime(timezone=True)),
    ]


def _user_fk(table):
    return sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="RESTRICT",
                                                          name=f"fk_{table}_user_id_users"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(60), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("session_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint("username ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name="username_format"),
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE",
                                                       name="fk_user_roles_user_id_users"), primary_key=True),
        sa.Column("role", sa.String(20), primary_key=True),
        sa.CheckConstraint("role IN ('admin', 'area_leader', 'grid_worker')", name="role_known"),
    )
    op.create_table(
        "grid_assignments", *_term_columns(), _user_fk("grid_assignments"),
        sa.Column("grid_id", sa.Integer, sa.ForeignKey("grids.id", ondelete="CASCADE",
                                                       name="fk_grid_assignments_grid_id_grids"), nullable=False),
        sa.Column("duty", sa.String(20), nullable=False),
        sa.Column("backup", sa.Boolean, nullable=False, server_default="false"),
        sa.CheckConstraint(f"duty IN {DUTIES}", name="duty_known"),
    )
    op.create_index("ix_grid_assignments_user_id", "grid_assignments", ["user_id"])
    op.create_index("ix_grid_assignments_grid_id", "grid_assignments", ["grid_id"])
    op.create_index("uq_grid_assignments_primary", "grid_assignments", ["grid_id", "duty"], unique=True,
                    postgresql_where=sa.text("valid_to IS NULL AND NOT backup"))
    op.create_index("uq_grid_assignments_current", "grid_assignments", ["grid_id", "duty", "user_id"],
                    unique=True, postgresql_where=sa.text("valid_to IS NULL"))
    op.create_table(
        "area_leaders", *_term_columns(), _user_fk("area_leaders"),
        sa.Column("area_id", sa.Integer, sa.ForeignKey("areas.id", ondelete="CASCADE",
                                                       name="fk_area_leaders_area_id_areas"), nullable=False),
    )
    op.create_index("ix_area_leaders_user_id", "area_leaders", ["user_id"])
    op.create_index("ix_area_leaders_area_id", "area_leaders", ["area_id"])
    op.create_index("uq_area_leaders_current", "area_leaders", ["area_id"], unique=True,
                    postgresql_where=sa.text("valid_to IS NULL"))
    op.create_table(
        "town_admins", *_term_columns(), _user_fk("town_admins"),
        sa.Column("town_id", sa.Integer, sa.ForeignKey("towns.id", ondelete="CASCADE",
                                                       name="fk_town_admins_town_id_towns"), nullable=False),
    )
    op.create_index("ix_town_admins_user_id", "town_admins", ["user_id"])
    op.create_index("ix_town_admins_town_id", "town_admins", ["town_id"])
    op.create_index("uq_town_admins_current", "town_admins", ["town_id", "user_id"], unique=True,
                    postgresql_where=sa.text("valid_to IS NULL"))
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE",
                                                       name="fk_api_tokens_user_id_users"), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    for col in ("username", "address", "at"):
        op.create_index(f"ix_login_failures_{col}", "login_failures", [col])


def downgrade() -> None:
    for table in ("login_failures", "api_tokens", "town_admins", "area_leaders", "grid_assignments",
                  "user_roles", "users"):
        op.drop_table(table)
