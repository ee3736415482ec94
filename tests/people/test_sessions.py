"""Browser sessions end on the server (issue 13 item 2): a cookie copied before logout no longer
works after it; idle and absolute lifetimes hold whatever the cookie says; a password change ends
the person's other sessions. (A worker's offline queue survives an ended session and goes after
the next login: tests/browser/test_offline.py.)"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gridsys.config import ConfigError, load
from gridsys.people import services
from gridsys.people.models import BrowserSession
from tests.factories import csrf_token, login


def me(client):
    return client.get("/api/v1/me").status_code


def copy_cookies(source, target):
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_a_cookie_copied_before_logout_is_dead_after_it(app, client, session, world):
    assert login(client, "worker1").status_code == 302
    thief = app.test_client()
    copy_cookies(client, thief)
    assert me(thief) == 200
    client.post("/logout", headers={"X-CSRFToken": csrf_token(client)})
    assert me(client) == 401 and me(thief) == 401
    [row] = session.scalars(select(BrowserSession)).all()
    assert row.ended_at is not None and len(row.key_hash) == 64   # only the key's hash is kept


def test_another_browsers_session_survives_a_logout_here(app, client, session, world):
    phone = app.test_client()
    login(client, "worker1")
    login(phone, "worker1")
    client.post("/logout", headers={"X-CSRFToken": csrf_token(client)})
    assert me(phone) == 200, "logging out on the laptop leaves the phone logged in"


@pytest.mark.parametrize("column, age", [("last_seen_at", timedelta(hours=7 * 24 + 1)),
                                         ("created_at", timedelta(days=31))])
def test_idle_and_absolute_lifetimes_end_a_session(client, session, world, column, age):
    login(client, "worker1")
    session.execute(update(BrowserSession).values({column: services.now() - age}))
    session.commit()
    assert me(client) == 401


def test_use_keeps_a_session_alive_but_writes_rarely(client, session, world):
    login(client, "worker1")
    earlier = services.now() - timedelta(hours=3)
    session.execute(update(BrowserSession).values(last_seen_at=earlier))
    session.commit()
    assert me(client) == 200
    seen = session.scalar(select(BrowserSession.last_seen_at))
    assert seen > earlier + timedelta(hours=2)
    assert me(client) == 200 and session.scalar(select(BrowserSession.last_seen_at)) == seen, "not on every request"


def test_a_password_change_ends_the_other_sessions(app, client, session, world):
    phone = app.test_client()
    login(phone, "worker1")
    services.set_password(session, world.worker, "a brand new password 9")
    session.commit()
    assert me(phone) == 401


@pytest.mark.parametrize("name, value", [("GRIDSYS_SESSION_IDLE_HOURS", "0"), ("GRIDSYS_SESSION_MAX_DAYS", "400"),
                                         ("GRIDSYS_SESSION_IDLE_HOURS", "soon")])
def test_lifetimes_out_of_range_stop_the_app_with_a_clear_message(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load({"DATABASE_URL": "postgresql://x/y", "SECRET_KEY": "k"})
