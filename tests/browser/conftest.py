"""Browser tests: the OS Chromium, driven by Playwright, against a live gridsys on 127.0.0.1.

They need committed data and a real server, so unlike the rest of the suite they do not use the
rolled-back ``session``: the test session makes a database of its own (``gridsys_browser_<pid>``,
never the suite's ``gridsys_test``; dropped at the end), migrates it, loads the demo town (less
one grid, so the administrators' map has a gap to draw; one grid renamed with markup in its
name), the category catalogue, people with a known password and a few incidents, and serves
the app from a thread. One browser per session, a new context per test.

People (all with ``helpers.PASSWORD``)::

    admin      administrator of the town
    leader01   area 500106110001 (场镇)        leader02   area 500106110002 (白鹤)
    w0101a     grid 500106110001001: general, civilization, safety
    w0101b     grid 500106110001001: civil_affairs, culture
    w0102a     grid 500106110001002: general
    w0105a     grid 500106110001005 (the grid whose name carries markup): general
    w0202a     grid 500106110002002: general
"""
from __future__ import annotations

import json
import os
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session

from gridsys import create_app, localdb
from gridsys.cli import DATA, upgrade_database
from gridsys.db import make_engine
from gridsys.incidents import lifecycle, services as incidents
from gridsys.incidents.catalogue import load_catalogue
from gridsys.people import services as people
from gridsys.zones.transfer import import_zones

from .helpers import GAP_GRID, PASSWORD, SPOTS, TOWN, XSS, XSS_GRID, page_opener, report, served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DB_NAME = f"gridsys_browser_{os.getpid()}"



def _drop_stale_databases() -> None:
    """Drop the databases of browser test runs whose process is gone (killed before teardown)."""
    import psycopg
    state = localdb.read_state()
    with psycopg.connect(host="127.0.0.1", port=state["port"], user=localdb.ROLE, password=state["password"],
                         dbname="postgres", autocommit=True) as conn:
        names = [name for (name,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'gridsys\\_browser\\_%'")]
    for name in names:
        if name != DB_NAME and not _process_alive(name.rsplit("_", 1)[-1]):
            localdb.drop_database(name)


def _process_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ValueError:
        return True  # not one of ours: leave it
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _demo_zones() -> dict:
    data = json.loads((DATA / "demo_town.geojson").read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["code"] != GAP_GRID]
    for f in data["features"]:
        if f["properties"]["code"] == XSS_GRID:
            f["properties"]["name"] += XSS
    return data


def _people(session: Session) -> SimpleNamespace:
    digest = people.hash_password(PASSWORD)

    def user(username, role, display_name):
        made, _ = people.create_user(session, username, display_name=display_name, roles=[role],
                                     password_hash=digest, must_change_password=False)
        return made
    found = SimpleNamespace(
        admin=user("admin", "admin", "镇管理员"),
        leader01=user("leader01", "area_leader", "场镇包片领导"),
        leader02=user("leader02", "area_leader", "白鹤包片领导"),
        w0101a=user("w0101a", "grid_worker", "场镇一网格甲"),
        w0101b=user("w0101b", "grid_worker", "场镇一网格乙"),
        w0102a=user("w0102a", "grid_worker", "场镇二网格甲"),
        w0105a=user("w0105a", "grid_worker", "场镇五网格甲"),
        w0202a=user("w0202a", "grid_worker", "白鹤二网格甲"),
    )
    people.add_town_admin(session, found.admin, TOWN)
    people.set_area_leader(session, found.leader01, "500106110001")
    people.set_area_leader(session, found.leader02, "500106110002")
    for duty in ("general", "civilization", "safety"):
        people.assign_grid(session, found.w0101a, "500106110001001", duty)
    for duty in ("civil_affairs", "culture"):
        people.assign_grid(session, found.w0101b, "500106110001001", duty)
    people.assign_grid(session, found.w0102a, "500106110001002", "general")
    people.assign_grid(session, found.w0105a, XSS_GRID, "general")
    people.assign_grid(session, found.w0202a, "500106110002002", "general")
    return found


def _incidents(session: Session, who: SimpleNamespace) -> dict:
    def at(spot, reporter, category, description):
        (lon, lat), grid = SPOTS[spot]
        return report(session, reporter, lon, lat, category, description, grid=grid)

    now = incidents.now()
    made = {
        "garbage": at("g1_a", who.w0101a, "0101", "菜市场门口垃圾堆积"),
        "late_safety": at("g1_b", who.w0101a, "0201", "废弃厂房夜间有人聚集"),
        "relief": at("g1_c", who.w0101a, "0301", "独居老人缺少口粮"),
        "xss": at("g1_d", who.w0101b, "0103", XSS),
        "late_escalated": at("g2_a", who.w0102a, "0104", "路灯损坏一周"),
        "mine_elsewhere": at("g3_a", who.w0101a, "0104", "井盖松动"),
        "other_grid": at("g3_b", who.w0102a, "0101", "垃圾桶满溢"),
        "leader_fallback": at("g4_a", who.w0102a, "0104", "护栏倒塌"),
        "named_grid": at("g5_a", who.w0105a, "0101", "河边垃圾"),
        "other_area_late": at("b2_a", who.w0202a, "0101", "白鹤路口垃圾"),
        "other_area": at("h3_a", who.w0202a, "0201", "虎峰工地围挡缺失"),
        "resolved": at("g1_e", who.w0101a, "0102", "已清理的卫生死角"),
    }
    session.flush()
    for key in ("late_safety", "late_escalated", "other_area_late"):
        made[key].due_at = now - timedelta(hours=2)
        made[key].next_escalation_at = now - timedelta(hours=1)
    lifecycle.escalate(session, made["late_escalated"], now, trigger="overdue")
    lifecycle.transition(session, made["resolved"], who.w0101a, "accept")
    lifecycle.transition(session, made["resolved"], who.w0101a, "resolve", note="已清理")
    session.flush()
    return {key: incident.id for key, incident in made.items()}


@pytest.fixture(scope="session")
def browser_db():
    """A migrated database of the browser tests' own, with the data described above committed."""
    localdb.start()
    _drop_stale_databases()
    url = localdb.ensure_database(DB_NAME, recreate=True)
    upgrade_database(url)
    engine = make_engine(url, pool_size=2)
    seeding = create_app({"DATABASE_URL": url, "SECRET_KEY": "t", "TILES_URL": "",
                          "WEBHOOKS_IN_BACKGROUND": False})
    try:
        with seeding.app_context(), Session(engine, expire_on_commit=False) as session:
            import_zones(session, _demo_zones(), actor="browser-tests", reason="browser test data")
            load_catalogue(session, (DATA / "categories.json").read_bytes())
            who = _people(session)
            ids = _incidents(session, who)
            session.commit()
        yield SimpleNamespace(url=url, engine=engine, incidents=ids)
    finally:
        seeding.extensions["gridsys.engine"].dispose()
        engine.dispose()
        localdb.drop_database(DB_NAME)


@pytest.fixture(scope="session")
def live_server(browser_db):
    with served(browser_db) as server:
        yield server.url


@pytest.fixture
def db(browser_db):
    """A session on the browser tests' database: what a test arranges there it commits itself."""
    with Session(browser_db.engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests drive the OS Chromium. Install it with "
                    "`make setup` (scripts/install-os-deps.sh installs the chromium package); "
                    "never a downloaded browser build.", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_page(browser, live_server):
    """open_page(viewport, user=None, **context_options) -> (page, log): see helpers.page_opener."""
    with page_opener(browser, live_server) as opener:
        yield opener
