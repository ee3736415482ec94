"""Browser sessions kept on the server: started at login, ended at logout, alive while used within
the idle time and begun within the absolute lifetime. Only each key's SHA-256 is stored."""
from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..clock import now
from .models import BrowserSession, User
from .services import token_digest

SEEN_EVERY = timedelta(minutes=5)   # last_seen_at is written at most this often per session


def start_session(session: Session, user: User) -> str:
    """A new browser session; returns the key for the cookie (only its SHA-256 is stored)."""
    key = secrets.token_urlsafe(32)
    session.add(BrowserSession(user_id=user.id, key_hash=token_digest(key)))
    session.flush()
    return key


def live_session_user(session: Session, user_id, key, version, *, idle: timedelta, absolute: timedelta) -> User | None:
    """The person of a browser session still alive: not ended (logout), used within ``idle``,
    begun within ``absolute``, its account active and its password unchanged since."""
    if not isinstance(key, str) or not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    at = now()
    row = session.execute(
        select(BrowserSession, User).join(User, User.id == BrowserSession.user_id)
        .where(BrowserSession.key_hash == token_digest(key), BrowserSession.user_id == user_id,
               BrowserSession.ended_at.is_(None), BrowserSession.last_seen_at > at - idle,
               BrowserSession.created_at > at - absolute, User.active)).first()
    if row is None or row[1].session_version != version:
        return None
    browser, user = row
    if browser.last_seen_at < at - SEEN_EVERY:
        browser.last_seen_at = at
        session.commit()
    return user


def end_session(session: Session, key) -> None:
    if isinstance(key, str):
        session.execute(update(BrowserSession).where(BrowserSession.key_hash == token_digest(key),
                                                     BrowserSession.ended_at.is_(None)).values(ended_at=now()))
