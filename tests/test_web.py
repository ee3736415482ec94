"""App-wide pages through the HTTP client: health, language, errors, vendor assets, locate, zones."""
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from shapely.geometry import shape

from gridsys import create_app
from gridsys.zones.transfer import import_zones, load_json
from tests.factories import login, make_user

DEMO_PATH = Path(__file__).resolve().parent.parent / "data" / "demo_town.geojson"
DEMO_TOWN = "500106110"


@pytest.fixture
def app(database_url, session):
    """No app context held open across requests: each request gets its own ``g`` (user, locale)."""
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                       "SESSION_FACTORY": lambda: session, "TILES_URL": ""})


@pytest.fixture
def demo(session):
    """The demo town, committed (a view's rollback cannot undo it); returns its features."""
    import_zones(session, load_json(DEMO_PATH.read_bytes()), actor="t")
    session.commit()
    return json.loads(DEMO_PATH.read_text(encoding="utf-8"))["features"]


@pytest.fixture
def worker(session, client):
    make_user(session, "worker1", ["grid_worker"])
    session.commit()
    assert login(client, "worker1").status_code == 302
    return client


@pytest.fixture
def admin(session, client):
    make_user(session, "admin1", ["admin"])
    session.commit()
    assert login(client, "admin1").status_code == 302
    return client


def error(response):
    return response.get_json()["error"]["code"]


# --- health ------------------------------------------------------------------------------------

def test_healthz_reports_ok_as_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert body["postgis"].split(".")[0] == "3"


# --- language ------------------------------------------------------------------------------------

def test_start_page_is_chinese_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "网格化管理" in html and 'lang="zh-CN"' in html
    assert "Grid management" not in html


def test_language_switch_sets_a_cookie_and_the_page_turns_english(client):
    response = client.get("/lang/en")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    assert client.get_cookie("lang").value == "en"
    html = client.get("/").get_data(as_text=True)
    assert "Grid management" in html and 'lang="en"' in html
    assert "网格化管理" not in html


def test_language_switch_back_to_chinese(client):
    client.get("/lang/en")
    client.get("/lang/zh")
    assert "网格化管理" in client.get("/").get_data(as_text=True)


def test_language_switch_returns_to_a_local_page(client):
    response = client.get("/lang/en?next=/zones")
    assert response.status_code == 302 and response.headers["Location"] == "/zones"


def test_unknown_language_is_404(client):
    response = client.get("/lang/xx")
    assert response.status_code == 404
    assert client.get_cookie("lang") is None


def _stays_on_site(location: str) -> bool:
    # What a browser does with the Location: drop tabs and newlines, read backslashes as slashes.
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    parts = urlsplit(cleaned)
    return not parts.scheme and not parts.netloc and cleaned.startswith("/")


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/zones", "https://evil.example/",
                                    "evil.example", "/\\evil.example", "\\\\evil.example"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert _stays_on_site(response.headers["Location"]), response.headers["Location"]


@pytest.mark.parametrize("target", [
    pytest.param("/\t/evil.example"),
    pytest.param("/\n/evil.example"),
], ids=["tab", "newline"])
def test_language_switch_never_redirects_off_site_with_control_characters(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert _stays_on_site(response.headers["Location"]), response.headers["Location"]


# --- errors -------------------------------------------------------------------------------------

def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404 and response.is_json
    assert error(response) == "not_found"
    assert response.get_json()["error"]["message"]


def test_unknown_page_is_an_html_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# --- vendor assets -----------------------------------------------------------------------------------

def test_leaflet_is_served_from_node_modules(client):
    with client.get("/vendor/leaflet/dist/leaflet.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert b"Leaflet" in response.get_data()[:200]


@pytest.mark.parametrize("path", [
    "/vendor/../setup.cfg",
    "/vendor/leaflet/../../setup.cfg",
    "/vendor/leaflet/%2e%2e/%2e%2e/setup.cfg",
    "/vendor/lodash/package.json",     # installed, but not a front-end package we serve
    "/vendor/leaflet/dist/nope.js",
    "/vendor/leaflet",
])
def test_vendor_serves_nothing_else(client, path):
    with client.get(path) as response:
        assert response.status_code == 404


@pytest.mark.parametrize("path", ["/vendor/leaflet/../lodash/package.json",
                                  "/vendor/leaflet/%2e%2e/lodash/package.json"])
def test_vendor_allow_list_cannot_be_walked_around(client, path):
    with client.get(path) as response:
        assert response.status_code == 404


# --- locate ---------------------------------------------------------------------------------------

def test_locate_needs_a_login(client, demo):
    response = client.get("/api/v1/locate?lon=106.33&lat=29.62")
    assert response.status_code == 401 and error(response) == "login_required"


def test_locate_returns_the_grid_area_and_town(worker, demo):
    grid = next(f for f in demo if f["properties"]["level"] == "grid")
    inside = shape(grid["geometry"]).representative_point()
    response = worker.get(f"/api/v1/locate?lon={inside.x!r}&lat={inside.y!r}")
    assert response.status_code == 200
    code = grid["properties"]["code"]
    assert response.get_json() == {"level": "grid", "grid": code, "area": code[:12], "town": DEMO_TOWN}


def test_locate_finds_every_demo_grid(worker, demo):
    for grid in (f for f in demo if f["properties"]["level"] == "grid"):
        inside = shape(grid["geometry"]).representative_point()
        body = worker.get("/api/v1/locate", query_string={"lon": inside.x, "lat": inside.y}).get_json()
        assert body["grid"] == grid["properties"]["code"]


@pytest.mark.parametrize("query", ["lon=abc&lat=29.6", "lat=29.6", "lon=106.3", "lon=&lat=29.6", ""])
def test_locate_refuses_missing_or_unreadable_coordinates(worker, demo, query):
    response = worker.get(f"/api/v1/locate?{query}")
    assert response.status_code == 400 and error(response) == "coordinates_invalid"


def test_locate_refuses_out_of_range_coordinates(worker, demo):
    response = worker.get("/api/v1/locate?lon=200&lat=29.6")
    assert response.status_code == 422 and error(response) == "coordinates_out_of_range"


def test_locate_refuses_a_point_outside_every_town(worker, demo):
    response = worker.get("/api/v1/locate?lon=116.4&lat=39.9")
    assert response.status_code == 422 and error(response) == "point_outside_towns"
    assert response.get_json()["error"]["location"] == [116.4, 39.9]


# --- zones overview ----------------------------------------------------------------------------------

def test_zones_page_lists_coverage_of_every_parent(admin, demo):
    response = admin.get("/zones")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    parents = [f["properties"]["code"] for f in demo if f["properties"]["level"] in ("town", "area")]
    assert len(parents) == 6
    for code in parents:
        assert f'<td class="code">{code}</td>' in html
    assert html.count("100.00%") == 6
    assert 'class="area gap"' not in html and 'class="town gap"' not in html


def test_zones_page_needs_a_login(client, demo):
    response = client.get("/zones")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_zones_page_is_refused_to_a_grid_worker(worker, demo):
    assert worker.get("/zones").status_code == 403


def test_behind_a_proxy_the_forwarded_address_is_the_client(database_url, session):
    from flask import request
    from gridsys import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "SESSION_FACTORY": lambda: session, "TRUSTED_PROXIES": "10.0.0.1"})
    seen = {}

    @app.get("/_addr")
    def addr():
        seen["addr"] = request.remote_addr
        return "ok"
    app.test_client().get("/_addr", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                          headers={"X-Forwarded-For": "203.0.113.9"})
    assert seen["addr"] == "203.0.113.9"


def _seen_address(database_url, session, environ, headers, trusted="10.0.0.0/8"):
    from flask import request
    from gridsys import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "SESSION_FACTORY": lambda: session, "TRUSTED_PROXIES": trusted})
    seen = {}

    @app.get("/_addr")
    def addr():
        seen.update(addr=request.remote_addr, scheme=request.scheme,
                    forwarded=request.headers.get("X-Forwarded-For"))
        return "ok"
    app.test_client().get("/_addr", environ_base=environ, headers=headers)
    return seen


def test_a_forwarded_address_from_anyone_but_a_trusted_proxy_is_ignored(database_url, session):
    """The app reachable directly: a rotating X-Forwarded-For must not dodge the login limit."""
    for fake in ("203.0.113.1", "203.0.113.2, 10.0.0.1"):
        seen = _seen_address(database_url, session, {"REMOTE_ADDR": "198.51.100.7"},
                             {"X-Forwarded-For": fake, "X-Forwarded-Proto": "https"})
        assert seen == {"addr": "198.51.100.7", "scheme": "http", "forwarded": None}


def test_through_trusted_hops_the_client_is_the_first_untrusted_address(database_url, session):
    seen = _seen_address(database_url, session, {"REMOTE_ADDR": "10.0.0.1"},
                         {"X-Forwarded-For": "1.2.3.4, 203.0.113.9, 10.0.0.2", "X-Forwarded-Proto": "https"})
    assert seen == {"addr": "203.0.113.9", "scheme": "https", "forwarded": None}


@pytest.mark.parametrize("env, message", [({"GRIDSYS_TRUSTED_PROXIES": "10.0.0.0/33"}, "GRIDSYS_TRUSTED_PROXIES"),
                                          ({"GRIDSYS_TRUSTED_PROXIES": "nginx"}, "GRIDSYS_TRUSTED_PROXIES"),
                                          ({"GRIDSYS_PROXY_COUNT": "1"}, "GRIDSYS_TRUSTED_PROXIES")])
def test_proxy_settings_are_checked(monkeypatch, env, message):
    from gridsys.config import ConfigError, load
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load({"DATABASE_URL": "postgresql://x/y", "SECRET_KEY": "k"})
