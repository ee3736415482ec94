"""Login limits (issue 13 item 3): counted one at a time, so parallel guesses get exactly the
allowed checks; per account and address, so someone elsewhere cannot lock the owner out; a 429
says when to come back. And a new password revokes the person's API tokens (item 2)."""
from __future__ import annotations

import threading
import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gridsys.errors import GridsysError
from gridsys.people import services
from gridsys.people.models import ApiToken, LoginFailure, User
from tests.factories import PASSWORD, login

ADDRESS = "127.0.0.1"


def test_someone_elsewhere_cannot_lock_the_owner_out_of_their_usual_address(client, session, world):
    for _ in range(services.MAX_FAILURES_PER_ACCOUNT * 2):
        try:
            services.authenticate(session, "worker1", "guessing!", "203.0.113.7")
        except GridsysError:
            pass
    session.commit()
    assert login(client, "worker1").status_code == 302, "the owner, from their address, still gets in"
    try:   # the guesser's own address is locked for that account
        services.authenticate(session, "worker1", PASSWORD, "203.0.113.7")
        raise AssertionError("not locked")
    except GridsysError as exc:
        assert exc.code == "login_locked"


def test_many_addresses_still_stop_a_distributed_guess(session, world):
    session.add_all(LoginFailure(username="worker1", address=f"198.51.100.{i}")
                    for i in range(services.MAX_FAILURES_PER_ACCOUNT_ANYWHERE))
    session.commit()
    try:
        services.authenticate(session, "worker1", PASSWORD, "192.0.2.1")
        raise AssertionError("not locked")
    except GridsysError as exc:
        assert exc.code == "login_locked"


def test_a_lockout_says_when_to_come_back(client, session, world):
    for _ in range(services.MAX_FAILURES_PER_ACCOUNT):
        login(client, "worker1", "wrong password!")
    response = login(client, "worker1")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= services.LOCK_WINDOW.total_seconds() + 1


def test_parallel_wrong_passwords_get_exactly_the_allowed_checks(engine):
    name = f"par-{uuid.uuid4().hex[:8]}"
    with Session(engine) as s:
        services.create_user(s, name, roles=["grid_worker"], password=PASSWORD)
        s.commit()
    outcomes, start = [], threading.Barrier(30)

    def guess():
        with Session(engine) as s:
            start.wait()
            try:
                services.authenticate(s, name, "wrong password!", "192.0.2.50")
            except GridsysError as exc:
                outcomes.append(exc.code)
            finally:
                s.commit()
    threads = [threading.Thread(target=guess) for _ in range(30)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        with Session(engine) as s:
            recorded = s.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.username == name))
        assert recorded == services.MAX_FAILURES_PER_ACCOUNT
        assert sorted(outcomes) == sorted(["login_failed"] * 5 + ["login_locked"] * 25)
    finally:
        with Session(engine) as s:
            s.execute(delete(LoginFailure).where(LoginFailure.username == name))
            s.execute(delete(User).where(User.username == name))
            s.commit()


def test_a_new_password_revokes_the_api_tokens(client, session, world):
    user = session.scalar(select(User).where(User.username == "worker1"))
    _row, token = services.create_token(session, user, "phone")
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    services.set_password(session, user, "an admin reset it 1", must_change=True)   # the admin's reset
    session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    services.change_own_password(session, user, "an admin reset it 1", "the person's own new one 2")
    session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401, "not back after the person's change"
    assert session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None),
                                                                            ApiToken.user_id == user.id)) == 0
