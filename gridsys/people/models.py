"""People: accounts, roles, duty assignments with history, API tokens, login failures."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from ..db import Base
from ..vocabulary import ASSIGNABLE_DUTIES, ROLES


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(20))
    # The grid's public notice (网格公示) shows this person's phone only when they agreed.
    phone_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Bumped on password change or deactivation: older browser sessions stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    role_rows: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan")
    # The roles' names, when the query that loaded this person read them alongside (an API token's,
    # services.user_for_token: no UserRole objects to build on every call); else None.
    role_names: Mapped[list[str] | None] = query_expression()
    __table_args__ = (
        CheckConstraint("username ~ '^[a-z0-9][a-z0-9._-]{1,39}$'", name="username_format"),
        # The deactivated, few: routing.inactive_people, read whenever every area's leader is checked.
        Index("ix_users_inactive", "id", postgresql_where=text("NOT active")),
    )

    @property
    def roles(self) -> set[str]:
        if "role_rows" not in self.__dict__ and self.role_names is not None:
            return set(self.role_names)   # role_rows not loaded (nor changed) in this session
        return {r.role for r in self.role_rows}

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role_known"),)


class AssignmentMixin:
    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def current(self) -> bool:
        return self.valid_to is None


class GridAssignment(AssignmentMixin, Base):
    """A worker on a grid for one duty: at most one current primary per (grid, duty)."""

    __tablename__ = "grid_assignments"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    duty: Mapped[str] = mapped_column(String(20))
    backup: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    user: Mapped["User"] = relationship()
    grid = relationship("Grid")
    __table_args__ = (
        CheckConstraint(f"duty IN {ASSIGNABLE_DUTIES}", name="duty_known"),
        Index("uq_grid_assignments_primary", "grid_id", "duty", unique=True,
              postgresql_where=text("valid_to IS NULL AND NOT backup")),
        Index("uq_grid_assignments_current", "grid_id", "duty", "user_id", unique=True,
              postgresql_where=text("valid_to IS NULL")),
    )


class AreaLeader(AssignmentMixin, Base):
    """The responsible area leader (包片领导): one current per area."""

    __tablename__ = "area_leaders"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    user: Mapped["User"] = relationship()
    area = relationship("Area")
    __table_args__ = (
        Index("uq_area_leaders_current", "area_id", unique=True, postgresql_where=text("valid_to IS NULL")),
    )


class TownAdmin(AssignmentMixin, Base):
    """An administrator of a town: the last fallback for routing and escalation."""

    __tablename__ = "town_admins"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="CASCADE"), index=True)
    user: Mapped["User"] = relationship()
    town = relationship("Town")
    __table_args__ = (
        Index("uq_town_admins_current", "town_id", "user_id", unique=True,
              postgresql_where=text("valid_to IS NULL")),
    )


class ApiToken(Base):
    """An API token; only its SHA-256 is stored (tokens are 256-bit random, so no KDF needed)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped["User"] = relationship()


class BrowserSession(Base):
    """A logged-in browser: ended at logout (a copied cookie then stops working), and subject to
    the idle and absolute lifetimes. Only the SHA-256 of the key in the cookie is stored."""

    __tablename__ = "browser_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_browser_sessions_key_hash", "key_hash", unique=True),)


class LoginFailure(Base):
    """Failed logins, kept in the database so every app server sees the same rate limit."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
