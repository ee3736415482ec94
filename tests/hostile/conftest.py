"""One app and one small town for the whole hostile-input corpus, built once per module inside a
transaction rolled back at the end; each case then runs inside a savepoint of its own, between two
fingerprints of every table.

The town is the one of tests/incidents/conftest.py (grids 1-1, 1-2, 2-1, 2-2 in areas 1 and 2),
with open, urgent and closed incidents, a notification, a photo, a town webhook, API tokens
(one revoked, one of a deactivated account) and logged-in browsers with their CSRF tokens.
"""
from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridsys import create_app
from gridsys.cli import DATA
from gridsys.incidents import photos, webhooks
from gridsys.incidents.catalogue import load_catalogue
from gridsys.people import browser_sessions, services as people
from gridsys.residents import keys as open311_keys
from tests.factories import cell, csrf_token, login_as, make_area, make_grid, make_town, make_user
from tests.incidents.helpers import act, report

# Columns written by merely using a credential (at most every 5 minutes), whatever the request
# asks: bookkeeping of a token or session still valid, not data a refused request changed.
TOUCHED = {"api_tokens": ("last_used_at",), "browser_sessions": ("last_seen_at",)}
NOT_DATA = ("spatial_ref_sys", "alembic_version")   # PostGIS's reference table, the schema version


@pytest.fixture(scope="module")
def corpus_connection(engine):
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture(scope="module")
def corpus_session(corpus_connection):
    s = Session(bind=corpus_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield s
    s.close()


@pytest.fixture(scope="module")
def corpus_app(database_url, corpus_session):
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                       "SESSION_FACTORY": lambda: corpus_session, "TILES_URL": "",
                       "WEBHOOKS_IN_BACKGROUND": False})


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    return out.getvalue()


def _build(session):
    load_catalogue(session, (DATA / "categories.json").read_bytes())
    town = make_town(session, geom=cell(0, 0, 10, 10))
    a1 = make_area(session, town, 1, cell(0, 0, 5, 10))
    a2 = make_area(session, town, 2, cell(5, 0, 10, 8))
    g11 = make_grid(session, a1, 1, cell(0, 0, 5, 5))
    g12 = make_grid(session, a1, 2, cell(0, 5, 5, 10))
    g21 = make_grid(session, a2, 1, cell(5, 0, 10, 4))
    make_grid(session, a2, 2, cell(5, 4, 10, 6))
    users = {name: make_user(session, name, roles) for name, roles in (
        ("admin", ["admin"]), ("leader1", ["area_leader"]), ("leader2", ["area_leader"]),
        ("safety1", ["grid_worker"]), ("general1", ["grid_worker"]), ("worker12", ["grid_worker"]),
        ("worker21", ["grid_worker"]), ("pw", ["grid_worker"]), ("inactive", ["grid_worker"]))}
    people.assign_grid(session, users["safety1"], g11.code, "safety")
    people.assign_grid(session, users["general1"], g11.code, "general")
    people.assign_grid(session, users["worker12"], g12.code, "general")
    people.assign_grid(session, users["worker21"], g21.code, "general")
    people.set_area_leader(session, users["leader1"], a1.code)
    people.set_area_leader(session, users["leader2"], a2.code)
    people.add_town_admin(session, users["admin"], town.code)
    session.commit()

    mine = report(session, users["safety1"], "g11", "0201")           # handled by safety1
    urgent = report(session, users["safety1"], "g11", "0202")         # leader1 is notified
    theirs = report(session, users["worker21"], "g21", "0101")        # area 2, outside area 1's scope
    closed = report(session, users["safety1"], "g11", "0201")
    for actor, action, note in (("safety1", "accept", ""), ("safety1", "resolve", "修好了"),
                                ("leader1", "close", "")):
        act(session, closed, users[actor], action, note=note)
    photo = photos.add_photo(session, mine, users["safety1"], small_jpeg())
    webhooks.add_webhook(session, town, "http://127.0.0.1:9/hook", "json")   # deliveries would show

    tokens = {name: people.create_token(session, users[name], "corpus")[1]
              for name in ("admin", "leader1", "safety1", "general1", "worker21", "inactive")}
    revoked_row, tokens["revoked"] = people.create_token(session, users["admin"], "revoked")
    people.revoke_token(session, revoked_row.id)
    people.set_active(session, users["inactive"], False)   # its token stops working too
    _key_row, open311_key = open311_keys.create(session, "corpus client")
    revoked_key_row, revoked_open311_key = open311_keys.create(session, "revoked client")
    open311_keys.revoke(session, revoked_key_row.id)
    session.commit()
    notice = session.execute(text("SELECT min(id) FROM notifications WHERE user_id = :u"),
                             {"u": users["leader1"].id}).scalar_one()
    assert notice is not None, "the urgent report notifies the area leader"
    g11_revision = session.execute(text("SELECT max(id) FROM boundary_revisions WHERE zone_code = :c"),
                                   {"c": g11.code}).scalar_one()
    return SimpleNamespace(users=users, tokens=tokens, ids={
        "inc": mine.id, "urgent": urgent.id, "inc21": theirs.id, "closed": closed.id, "photo": photo.id,
        "notice": notice, "inc21_uuid": str(theirs.client_uuid), "g11_revision": g11_revision,
        "open311_key": open311_key, "open311_revoked_key": revoked_open311_key})


@pytest.fixture(scope="module")
def town(corpus_app, corpus_session):
    """The world, and a logged-in browser per person (with its CSRF token); every credential is
    used once here, so the corpus itself never writes last_used_at / last_seen_at."""
    world = _build(corpus_session)
    world.browsers, world.csrf = {}, {}
    for name in ("admin", "leader1", "safety1", "worker21", "pw"):
        client = corpus_app.test_client()
        login_as(client, world.users[name])
        world.browsers[name] = client
        world.csrf[name] = csrf_token(client, "/")
    anon = corpus_app.test_client()
    world.browsers["anon"], world.csrf["anon"] = anon, csrf_token(anon, "/login")
    world.stolen = corpus_app.test_client()   # its cookie was copied before the session ended (logout elsewhere)
    login_as(world.stolen, world.users["leader2"])
    with world.stolen.session_transaction() as cookie:
        browser_sessions.end_session(corpus_session, cookie["sid"])
    world.bare = corpus_app.test_client(use_cookies=False)
    for name, token in world.tokens.items():
        world.bare.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    corpus_session.commit()
    return world


def data_tables(connection) -> list[str]:
    """Every table the migrations made (not only the models'): a new one is fingerprinted too."""
    return list(connection.execute(text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' AND NOT (table_name = ANY(:skip)) ORDER BY table_name"),
        {"skip": list(NOT_DATA)}).scalars())


@pytest.fixture(scope="module")
def fingerprint(corpus_connection):
    """table -> (row count, md5 of its rows in order): one query over every data table."""
    tables = data_tables(corpus_connection)
    assert {"incidents", "incident_events", "notifications", "incident_photos", "webhook_deliveries", "users",
            "api_tokens", "grids", "grid_assignments", "browser_sessions", "login_failures"} <= set(tables)
    parts = []
    for table in tables:
        row = f"(to_jsonb(t) - CAST(ARRAY[{', '.join(repr(c) for c in TOUCHED.get(table, ()))}] AS text[]))::text"
        parts.append(f"SELECT '{table}', count(*), md5(coalesce(string_agg({row}, ',' ORDER BY {row}), '')) "
                     f"FROM {table} t")
    query = text(" UNION ALL ".join(parts))

    def take() -> dict[str, tuple[int, str]]:
        return {name: (count, digest) for name, count, digest in corpus_connection.execute(query)}
    return take
