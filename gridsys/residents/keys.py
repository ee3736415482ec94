"""Open311 client keys: one per client application, issued by an administrator (CLI or page), shown
once, stored as its SHA-256, revocable. Flush, never commit."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import now
from ..errors import GridsysError, NotFound
from ..inputs import INT4_MAX, check_text, has_visible
from .models import Open311Key

KEY_PREFIX = "o311_"
MAX_NAME = 80
MAX_KEY = 100            # longer input is no key of ours: not even hashed
USED_EVERY = timedelta(minutes=5)   # last_used_at is written at most this often per key


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_name(name) -> str:
    """The client application's name: 1 to 80 visible characters."""
    if not isinstance(name, str):
        raise GridsysError("key_name_invalid", "name the client application (1 to 80 characters)")
    name = check_text(name, "the name").strip()
    if not has_visible(name) or len(name) > MAX_NAME:
        raise GridsysError("key_name_invalid", f"name the client application in 1 to {MAX_NAME} characters",
                           max_length=MAX_NAME)
    return name


def create(session: Session, name) -> tuple[Open311Key, str]:
    """A new key for the client application ``name``: (row, the key itself, shown once)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = Open311Key(name=check_name(name), key_hash=digest(key))
    session.add(row)
    session.flush()
    return row, key


def verify(session: Session, key) -> Open311Key | None:
    """The live (not revoked) key row for ``key``, or None for anything else."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        return None
    return session.scalar(select(Open311Key).where(Open311Key.key_hash == digest(key),
                                                   Open311Key.revoked_at.is_(None)))


def mark_used(row: Open311Key) -> None:
    """Coarse bookkeeping of a key that just did something (not on every call of a busy client)."""
    at = now()
    if row.last_used_at is None or row.last_used_at < at - USED_EVERY:
        row.last_used_at = at


def revoke(session: Session, key_id: int) -> Open311Key:
    row = session.get(Open311Key, key_id) if isinstance(key_id, int) and 0 < key_id <= INT4_MAX else None
    if row is None or row.revoked_at is not None:
        raise NotFound("key_not_found", "no active Open311 key with that id", key_id=key_id)
    row.revoked_at = now()
    session.flush()
    return row


def listing(session: Session) -> list[Open311Key]:
    """Every key, live ones first, newest first."""
    return list(session.scalars(select(Open311Key).order_by(Open311Key.revoked_at.is_not(None),
                                                            Open311Key.id.desc())))
