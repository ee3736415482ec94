"""GET /api/v1/me for a phone about to work offline: a CSRF token for its browser session, the
caller's duties per grid, and the categories the caller reports most (one GROUP BY query)."""
import re
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import event, select

from gridsys.incidents import reporting_aids, services
from gridsys.incidents.models import Category
from gridsys.people import services as people
from gridsys.people.models import GridAssignment
from tests.incidents.helpers import bearer, csrf_token, login, lonlat, new_report


def me(client, headers=None):
    response = client.get("/api/v1/me", headers=headers or {})
    assert response.status_code == 200, response.get_json()
    return response


def test_browser_session_gets_a_csrf_token_that_works(client, session, world):
    login(client, "general1")
    token = me(client).get_json()["csrf_token"]
    assert isinstance(token, str) and len(token) > 20
    lon, lat = lonlat("g11")
    sent = {"client_uuid": str(uuid.uuid4()), "lon": lon, "lat": lat, "category": "0201", "description": "离线上报"}
    assert client.post("/api/v1/incidents", json=sent).status_code == 400  # without it: refused
    response = client.post("/api/v1/incidents", json=sent, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_json()


def test_bearer_token_gets_no_csrf_token_and_no_cookie(client, session, world):
    response = me(client, bearer(session, world.general1))
    assert response.get_json()["csrf_token"] is None
    assert "Set-Cookie" not in response.headers


def test_duties_are_the_current_ones_per_grid(client, session, world):
    people.assign_grid(session, world.general1, world.g12.code, "safety", backup=True)
    people.assign_grid(session, world.general1, world.g21.code, "culture")
    ended = session.scalar(select(GridAssignment).where(GridAssignment.user_id == world.general1.id,
                                                        GridAssignment.duty == "culture"))
    people.end_assignment(session, "grid", ended.id)
    session.commit()
    duties = me(client, bearer(session, world.general1)).get_json()["duties"]
    assert duties == [{"grid": world.g11.code, "duty": "general", "backup": False},
                      {"grid": world.g12.code, "duty": "safety", "backup": True}]
    assert me(client, bearer(session, world.leader1)).get_json()["duties"] == []


def log(session, user, category, times=1, at=None, spot="g11"):
    for _ in range(times):
        services.create_incident(session, user, new_report(spot, category), at=at)
    session.commit()


def test_frequent_categories_most_used_first(client, session, world):
    log(session, world.general1, "0101", 2)
    log(session, world.general1, "0201", 3)
    log(session, world.general1, "0301", 1, spot="g12")
    log(session, world.general1, "0103", 2)                   # ties with 0101: by code
    log(session, world.safety1, "0501", 5)                    # someone else's
    log(session, world.general1, "0502", 4, at=datetime.now(timezone.utc) - timedelta(days=91))  # too long ago
    frequent = me(client, bearer(session, world.general1)).get_json()["frequent_categories"]
    assert frequent == ["0201", "0101", "0103", "0301"]


def test_frequent_categories_leave_retired_ones_out_and_stop_at_eight(client, session, world):
    codes = ["0101", "0102", "0103", "0104", "0105", "0106", "0107", "0201", "0203", "0204"]
    for n, code in enumerate(codes):
        log(session, world.general1, code, len(codes) - n)
    session.get(Category, "0102").active = False
    session.commit()
    frequent = me(client, bearer(session, world.general1)).get_json()["frequent_categories"]
    assert frequent == ["0101", "0103", "0104", "0105", "0106", "0107", "0201", "0203"]


def test_frequent_categories_is_one_query(session, world):
    log(session, world.general1, "0101", 2)
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(session.bind, "before_cursor_execute", seen)
    try:
        assert reporting_aids.frequent_categories(session, world.general1) == ["0101"]
    finally:
        event.remove(session.bind, "before_cursor_execute", seen)
    queries = [s for s in statements if not s.startswith("SAVEPOINT")]  # the test's own transaction
    assert len(queries) == 1 and "GROUP BY" in queries[0]


def test_new_worker_has_no_frequent_categories(client, session, world):
    body = me(client, bearer(session, world.worker21)).get_json()
    assert body["frequent_categories"] == [] and body["username"] == "worker21"


def test_favourites_are_the_most_used_then_the_own_duties(client, session, world):
    log(session, world.safety1, "0301", 2)    # reported most, though not their duty
    log(session, world.safety1, "0201", 1)
    body = me(client, bearer(session, world.safety1)).get_json()
    safety = list(session.scalars(select(Category.code).where(Category.duty == "safety", Category.active)
                                  .order_by(Category.code)))
    assert body["favourite_categories"] == (["0301", "0201"] + [c for c in safety if c != "0201"])[:8]
    # A general worker has no duty of their own to offer: only what they reported.
    assert me(client, bearer(session, world.worker21)).get_json()["favourite_categories"] == []


def test_the_report_page_lists_the_favourites_first(client, session, world):
    log(session, world.safety1, "0301", 1)
    text = login(client, "safety1").get("/report").get_data(as_text=True)
    favourites = text[text.index('id="favourites"'):text.index('id="all-categories"')]
    assert re.findall(r'name="category" value="(\d{4})"', favourites)[:2] == ["0301", "0201"]
    rest = text[text.index('id="all-categories"'):]
    assert 'value="0301"' not in rest and 'value="0101"' in rest, "each category once"


def test_the_browser_knows_who_logged_in_until_they_log_out(client, session, world):
    login(client, "general1")
    assert client.get_cookie("gridsys_user").value == "general1"
    client.get("/api/v1/me")
    assert client.get_cookie("gridsys_user").value == "general1"
    people.set_password(session, world.general1, "a different password 1")   # the session ends
    session.commit()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get_cookie("gridsys_user").value == "general1", "their queue waits for them"
    login(client, "safety1")
    assert client.get_cookie("gridsys_user").value == "safety1"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/report")})
    assert client.get_cookie("gridsys_user") is None
