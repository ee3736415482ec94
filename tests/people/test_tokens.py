"""API tokens: shown once, stored as SHA-256, used as 'Authorization: Bearer', no CSRF."""
import hashlib
import time

import pytest
from sqlalchemy import select, text

from gridsys.people import services
from gridsys.people.models import ApiToken


def create_token_via_cli(cli, username):
    result = cli.invoke(args=["tokens", "create", username])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_cli_token_is_printed_once_and_stored_only_as_sha256(cli, session, world):
    token = create_token_via_cli(cli, "worker1")
    assert token.startswith("gs_") and len(token) > 40 and "\n" not in token
    row = session.scalar(select(ApiToken).where(ApiToken.user_id == world.worker.id))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    dump = session.execute(text("SELECT row_to_json(t)::text FROM api_tokens t")).scalars().all()
    assert len(dump) == 1 and token not in dump[0] and token[3:] not in dump[0]


def test_cli_token_for_unknown_or_inactive_user_is_refused(cli, session, world):
    result = cli.invoke(args=["tokens", "create", "nobody"])
    assert result.exit_code == 1 and "error user_not_found" in result.output
    services.set_active(session, world.worker, False)
    session.commit()
    result = cli.invoke(args=["tokens", "create", "worker1"])
    assert result.exit_code == 1 and "error account_inactive" in result.output
    assert session.scalar(select(ApiToken.id)) is None


def test_bearer_token_authenticates_the_api(client, cli, session, world):
    token = create_token_via_cli(cli, "worker1")
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {"username": "worker1", "display_name": "网格员一",
                                   "roles": ["grid_worker"], "grids": [world.grids[0].code],
                                   "csrf_token": None,  # a bearer token needs none
                                   "duties": [{"grid": world.grids[0].code, "duty": "general", "backup": False}],
                                   "frequent_categories": [], "favourite_categories": [],
                                   "unread": 0, "queues": {"to_accept": 0, "in_progress": 0, "returned": 0,
                                                           "to_register": 0}}
    assert session.scalar(select(ApiToken.last_used_at)) is not None
    assert "Set-Cookie" not in response.headers  # a token request does not open a browser session


def test_scheme_is_case_insensitive(client, session, world):
    _row, token = services.create_token(session, world.leader)
    session.commit()
    assert client.get("/api/v1/me", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_revoked_token_is_refused(client, cli, session, world):
    token = create_token_via_cli(cli, "worker1")
    row_id = session.scalar(select(ApiToken.id))
    result = cli.invoke(args=["tokens", "revoke", str(row_id)])
    assert result.exit_code == 0, result.output
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_invalid"


def test_token_of_a_deactivated_user_is_refused(client, session, world):
    _row, token = services.create_token(session, world.worker)
    session.commit()
    world.worker.active = False  # even without set_active's revocation, an inactive owner is refused
    session.commit()
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_invalid"


@pytest.mark.parametrize("header", ["Basic d29ya2VyMTp4", "Bearer ", "Bearer", "Bearer gs_unknown", "gs_x"])
def test_malformed_or_unknown_authorization_is_401(client, world, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_invalid"


@pytest.mark.parametrize("scheme", ["Basic", "Token", "Bearer:"])
def test_a_valid_token_under_another_scheme_is_refused(client, session, world, scheme):
    _row, token = services.create_token(session, world.worker)
    session.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_invalid"


def test_bearer_requests_skip_csrf(client, session, world):
    _row, token = services.create_token(session, world.worker)
    session.commit()
    response = client.post("/api/v1/me", headers=bearer(token))
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_cookie_requests_to_unsafe_api_methods_need_csrf(client, world):
    from tests.factories import login_as
    login_as(client, world.worker)
    response = client.post("/api/v1/me")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_invalid"


def test_anonymous_api_is_401_json(client, world):
    for path in ("/api/v1/me", f"/api/v1/grids/{world.grids[0].code}", "/api/v1/zones.geojson"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.get_json()["error"]["code"] == "login_required"


def wait_until_gone(conn, where, parameters):
    """pg_terminate_backend signals; the backends end a moment later."""
    for _ in range(200):
        if not conn.execute(text(f"SELECT count(*) FROM pg_stat_activity WHERE {where}"), parameters).scalar():
            return
        conn.rollback()        # a transaction sees one snapshot of pg_stat_activity
        time.sleep(0.05)
    pytest.fail(f"backends where {where} still there after 10 s")


def test_the_tokens_person_is_in_the_session_as_if_loaded(session, world):
    _row, token = services.create_token(session, world.worker)
    session.commit()
    session.expunge_all()
    user = services.user_for_token(session, token)
    assert user.username == "worker1" and user.id == world.worker.id
    assert user in session and user not in session.dirty and not session.new
    assert session.get(type(user), user.id) is user           # the identity map holds it
    assert user.roles == {r for (r,) in session.execute(text(
        "SELECT role FROM user_roles WHERE user_id = :u"), {"u": user.id})}
    assert user.phone is None and user.password_hash        # every column came with it
    user.display_name = "改名"                               # and it saves like any loaded person
    session.flush()
    assert session.scalar(text("SELECT display_name FROM users WHERE id = :u"), {"u": user.id}) == "改名"
    assert services.user_for_token(session, token) is user   # the session's own copy, not a second one


def test_a_token_request_survives_the_servers_connections_being_closed(database_url, engine):
    """A database restart (or an administrator's pg_terminate_backend) closes every pooled
    connection; the next call is answered on a new one, not with 503 (db._check_alive)."""
    from gridsys import create_app, db
    from gridsys.people.models import User
    name = "token_recovery_test"
    url = database_url + ("&" if "?" in database_url else "?") + f"application_name={name}"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "t", "TILES_URL": "",
                      "WEBHOOKS_IN_BACKGROUND": False})
    outside, engine = engine, app.extensions["gridsys.engine"]
    user_id = None
    with app.app_context():
        session = db.session()
        user = User(username="recovery1", display_name="恢复", password_hash="x")
        session.add(user)
        session.flush()
        _row, token = services.create_token(session, user)
        session.commit()
        user_id = user.id
    try:
        client = app.test_client()
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
        assert engine.pool.checkedin() >= 1
        with outside.connect() as other:
            killed = other.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE application_name = :n AND pid <> pg_backend_pid()"), {"n": name}).scalar()
            assert killed >= 1
            wait_until_gone(other, "application_name = :n AND pid <> pg_backend_pid()", {"n": name})
        for _ in range(3):
            answer = client.get("/api/v1/me", headers=bearer(token))
            assert answer.status_code == 200, answer.get_data(as_text=True)
            assert answer.get_json()["username"] == "recovery1"
    finally:
        if user_id is not None:
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})
        engine.dispose()


def test_a_connection_lost_under_the_token_lookup_is_sqlalchemys_error_and_is_replaced(database_url, engine):
    """db.first_row reads through the DBAPI cursor: a lost connection still comes out as SQLAlchemy's
    OperationalError (a 503 for the client) and leaves the pool, like any statement SQLAlchemy runs."""
    from sqlalchemy import exc
    from sqlalchemy.orm import Session
    from gridsys.db import make_engine
    name = "token_lost_test"
    own = make_engine(database_url + ("&" if "?" in database_url else "?") + f"application_name={name}")
    try:
        session = Session(own)
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            wait_until_gone(other, "pid = :p", {"p": pid})
        with pytest.raises(exc.OperationalError) as raised:
            services.user_for_token(session, "gs_" + "x" * 40)
        assert raised.value.connection_invalidated
        assert services.token_digest("gs_" + "x" * 40) not in str(raised.value)   # its parameter is not shown
        session.close()
        again = Session(own)
        assert services.user_for_token(again, "gs_" + "x" * 40) is None   # a new connection, answered
        again.close()
    finally:
        own.dispose()


def test_a_person_deactivated_in_the_database_is_refused_though_this_session_loaded_them(session, world):
    """The lookup reads the account as it is now, not the copy a long-lived session (a CLI, a sweep
    worker) loaded earlier; a data fix that deactivates without revoking still locks the token out."""
    _row, token = services.create_token(session, world.worker)
    session.commit()
    assert services.user_for_token(session, token) is world.worker and world.worker.active
    session.execute(text("UPDATE users SET active = false WHERE id = :u"), {"u": world.worker.id})
    assert world.worker.active                               # the session's copy still says so
    assert services.user_for_token(session, token) is None


def test_the_roles_of_a_person_the_session_already_holds_come_with_the_lookup(session, world):
    _row, token = services.create_token(session, world.leader)
    session.commit()
    session.expunge_all()
    leader = session.get(type(world.leader), world.leader.id)   # loaded, roles not
    assert services.user_for_token(session, token) is leader
    assert "role_names" in leader.__dict__ and "role_rows" not in leader.__dict__
    assert leader.roles == {"area_leader"}


def test_every_column_of_users_comes_from_the_driver_as_the_orm_would_give_it():
    """user_for_token reads users through the DBAPI cursor: a column whose type SQLAlchemy converts
    on the way out (an Enum of a Python enum, a TypeDecorator) would arrive unconverted there."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect
    from gridsys.people.models import User
    for column in User.__table__.columns:
        assert column.type.result_processor(dialect(), None) is None, column.name
