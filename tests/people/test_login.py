"""Login, logout, rate limits, deactivation, forced and voluntary password changes (HTTP)."""
from datetime import timedelta

import pytest

from sqlalchemy import func, select

from gridsys.people import auth, services
from gridsys.people.models import LoginFailure, User
from tests.factories import PASSWORD, csrf_token, login, post_form

ADDRESS = "127.0.0.1"  # what the Flask test client reports as remote_addr


def failures(session, **where):
    query = select(func.count()).select_from(LoginFailure)
    for key, value in where.items():
        query = query.where(getattr(LoginFailure, key) == value)
    return session.scalar(query)


def error_code(response):
    """The data-code of the login/password page's error line (None when there is none)."""
    import re
    match = re.search(r'role="alert" data-code="([a-z_]+)"', response.get_data(as_text=True))
    return match.group(1) if match else None


def landing(app, user):
    """Where the app says a user lands (the start page; the incident pages once they exist)."""
    with app.test_request_context():
        return auth.landing_page(user)


def is_logged_in(client):
    return client.get("/api/v1/me").status_code == 200


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="password"' in html and 'name="csrf_token"' in html


def test_admin_lands_on_people_page(client, world):
    response = login(client, "admin1")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/people"
    assert client.get("/api/v1/me").get_json()["username"] == "admin1"


@pytest.mark.parametrize("who", ["worker", "leader"])
def test_non_admins_land_on_their_start_page_and_last_login_is_kept(client, app, world, who):
    user = getattr(world, who)
    assert user.last_login_at is None
    response = login(client, user.username)
    assert response.status_code == 302
    assert response.headers["Location"] == landing(app, user) != "/admin/people"
    assert client.get(response.headers["Location"]).status_code == 200
    assert user.last_login_at is not None
    assert user.display_name in client.get("/").get_data(as_text=True)


def test_login_follows_a_local_next_but_not_an_external_one(client, app, world):
    token = csrf_token(client, "/login")
    data = {"username": "worker1", "password": PASSWORD, "csrf_token": token}
    response = client.post("/login?next=//evil.example/x", data=data)
    assert response.headers["Location"] == landing(app, world.worker)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    data["csrf_token"] = csrf_token(client, "/login")
    assert client.post("/login?next=/zones", data=data).headers["Location"] == "/zones"


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0d/evil.example", "/%0a/evil.example"])
def test_login_next_with_control_characters_stays_on_this_site(client, app, world, target):
    """A tab is dropped by browsers (/<TAB>/evil.example would become //evil.example); CR/LF made
    werkzeug raise (a 500) before safe_next refused non-printable targets."""
    token = csrf_token(client, "/login")
    response = client.post(f"/login?next={target}",
                           data={"username": "worker1", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert not response.headers["Location"].startswith("//")
    assert response.headers["Location"] == landing(app, world.worker)


def test_wrong_password_is_401_with_an_error_and_is_recorded(client, session, world):
    response = login(client, "worker1", "wrong password!")
    assert response.status_code == 401
    assert error_code(response) == "login_failed"
    assert failures(session, username="worker1", address=ADDRESS) == 1
    assert not is_logged_in(client)


def test_unknown_username_looks_like_a_wrong_password(client, session, world):
    response = login(client, "nobody", "wrong password!")
    assert response.status_code == 401 and error_code(response) == "login_failed"
    assert failures(session, username="nobody") == 1


def test_successful_login_clears_the_accounts_failures(client, session, world):
    login(client, "worker1", "wrong password!")
    assert login(client, "worker1").status_code == 302
    assert failures(session, username="worker1") == 0


def test_five_failures_lock_the_account_even_for_the_right_password(client, session, world):
    for _ in range(services.MAX_FAILURES_PER_ACCOUNT):
        assert login(client, "worker1", "wrong password!").status_code == 401
    assert failures(session, username="worker1") == 5
    response = login(client, "worker1")
    assert response.status_code == 429 and error_code(response) == "login_locked"
    assert not is_logged_in(client)
    assert failures(session, username="worker1") == 5  # a refused attempt while locked is not counted

    # the lock is per account: another account from the same address still gets in
    assert login(client, "leader1").status_code == 302


def test_lock_cannot_be_dodged_by_spelling_the_username_differently(client, session, world):
    for spelling in ("worker1", "WORKER1", " Worker1 ", "worker1", "wOrKeR1"):
        assert login(client, spelling, "wrong password!").status_code == 401
    assert failures(session, username="worker1") == 5
    assert login(client, "Worker1").status_code == 429


def test_address_is_locked_after_twenty_failures(client, session, world):
    # 19 failures from this address on other accounts: leader1 still gets in ...
    session.add_all(LoginFailure(username=f"ghost{i}", address=ADDRESS) for i in range(19))
    session.commit()
    assert login(client, "leader1").status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    # ... the 20th locks the address for every account
    assert login(client, "ghost19", "wrong password!").status_code == 401
    response = login(client, "leader1")
    assert response.status_code == 429 and error_code(response) == "login_locked"
    # the same failures from another address do not lock it (the lock is not global)
    assert services.authenticate(session, "leader1", PASSWORD, "10.9.9.9").username == "leader1"


def test_failures_older_than_the_window_do_not_count(client, session, world):
    old = services.now() - services.LOCK_WINDOW - timedelta(minutes=1)
    session.add_all(LoginFailure(username="worker1", address=ADDRESS, at=old) for _ in range(25))
    session.commit()
    assert login(client, "worker1").status_code == 302


def test_login_without_csrf_token_is_400_and_does_nothing(client, session, world):
    client.get("/login")
    response = client.post("/login", data={"username": "worker1", "password": PASSWORD})
    assert response.status_code == 400
    assert not is_logged_in(client)
    response = client.post("/login", data={"username": "worker1", "password": "wrong password!"})
    assert response.status_code == 400
    assert failures(session) == 0


def test_login_with_a_forged_csrf_token_is_400(client, world):
    client.get("/login")
    response = client.post("/login", data={"username": "worker1", "password": PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400 and not is_logged_in(client)


def test_logout_needs_post_with_csrf(client, world):
    login(client, "worker1")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert is_logged_in(client)
    response = client.post("/logout", headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not is_logged_in(client)


def test_deactivated_user_cannot_log_in(client, session, world):
    services.set_active(session, world.worker, False)
    session.commit()
    response = login(client, "worker1")
    assert response.status_code == 403 and error_code(response) == "account_inactive"
    assert not is_logged_in(client)


def test_deactivation_ends_an_open_browser_session(client, session, world):
    login(client, "worker1")
    assert is_logged_in(client)
    services.set_active(session, world.worker, False)
    session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "网格员一" not in html and 'href="/login"' in html
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "login_required"
    # reactivating does not bring the old session back (its session version is gone)
    services.set_active(session, world.worker, True)
    session.commit()
    assert not is_logged_in(client)


def test_session_cookie_is_httponly_and_samesite_lax(client, world):
    response = login(client, "worker1")
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("session="))
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"


# --- forced password change ------------------------------------------------------------------

def generated_user(session):
    user, generated = services.create_user(session, "fresh", roles=["grid_worker"])
    session.commit()
    return user, generated


def test_generated_password_forces_a_change_before_anything_else(client, session, world):
    user, generated = generated_user(session)
    response = login(client, "fresh", generated)
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    for path in ("/", "/zones", "/admin/people", "/login"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/account/password", path
    response = client.get("/api/v1/me")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "password_change_required"
    assert client.get("/account/password").status_code == 200


def test_token_of_a_user_who_must_change_the_password_is_refused(client, session, world):
    user, _ = generated_user(session)
    _row, token = services.create_token(session, user)
    session.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "password_change_required"


def change(client, current, new, confirm=None):
    return post_form(client, "/account/password", {"current_password": current, "new_password": new,
                                                   "confirm": new if confirm is None else confirm},
                     token_page="/account/password")


def test_forced_change_refuses_wrong_current_and_mismatch(client, session, world):
    _user, generated = generated_user(session)
    login(client, "fresh", generated)
    response = change(client, "not the password", "a brand new secret")
    assert response.status_code == 422 and error_code(response) == "password_wrong"
    response = change(client, generated, "a brand new secret", "a different secret")
    assert response.status_code == 422 and error_code(response) == "password_mismatch"
    response = change(client, generated, "short")
    assert response.status_code == 422 and error_code(response) == "password_too_short"
    assert client.get("/").headers["Location"] == "/account/password"
    assert session.get(User, _user.id).must_change_password is True


def test_forced_change_then_pages_open_and_the_new_password_works(client, app, session, world):
    user, generated = generated_user(session)
    login(client, "fresh", generated)
    response = change(client, generated, "a brand new secret")
    assert response.status_code == 302 and response.headers["Location"] == landing(app, user)
    assert client.get(response.headers["Location"]).status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").get_json()["username"] == "fresh"
    assert user.must_change_password is False
    other = app.test_client()
    assert login(other, "fresh", generated).status_code == 401
    assert login(other, "fresh", "a brand new secret").status_code == 302


def test_password_change_logs_out_other_browsers(client, app, session, world):
    other = app.test_client()
    login(client, "worker1")
    login(other, "worker1")
    assert is_logged_in(other)
    response = change(client, PASSWORD, "another good secret")
    assert response.status_code == 302
    assert is_logged_in(client)
    assert not is_logged_in(other)
    assert "网格员一" not in other.get("/").get_data(as_text=True)


def test_password_change_to_the_same_password_is_refused(client, world):
    login(client, "worker1")
    response = change(client, PASSWORD, PASSWORD)
    assert response.status_code == 422 and error_code(response) == "password_unchanged"


def test_password_page_needs_a_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
