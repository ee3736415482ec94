"""Tables of the residents' channel: Open311 client keys and the limits on anonymous reports."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Open311Key(Base):
    """An Open311 client application's API key: only its SHA-256 is stored; revocable."""

    __tablename__ = "open311_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_open311_keys_key_hash", "key_hash", unique=True),)


class ResidentAttempt(Base):
    """One anonymous report (or tracking-link recovery) counted against its address and device."""

    __tablename__ = "resident_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80))   # "addr:<address>", "dev:<device id hash>", "recover:…"
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_resident_attempts_subject", "subject", "at"),)


class ProofSpent(Base):
    """A proof of work already used: each challenge buys one report."""

    __tablename__ = "proofs_spent"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
