"""The browser session cookie, sent only when it changed (and renewed at most once a day).

Flask re-sends a permanent session's cookie on every response (SESSION_REFRESH_EACH_REQUEST),
which makes every page, JSON answer and asset a fresh, uncacheable download on a phone. Here the
cookie goes out when the session changed (login, logout, a new CSRF token, a flash message) or,
for a permanent session, when the cookie in hand was signed more than RENEW_AFTER ago: an active
user still stays logged in for PERMANENT_SESSION_LIFETIME after their last day of use.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

RENEW_AFTER = timedelta(days=1)


class QuietSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app, request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or datetime.now(timezone.utc) - signed_at > RENEW_AFTER
