"""Security headers on every response (issue 13 item 5): CSP with a fresh nonce per request and
the tile servers for images, no framing, nosniff, referrer and permissions policies, COOP; HSTS
behind TLS; no-store on a logged-in person's pages and data while assets and the offline shell
keep their caching; WWW-Authenticate on 401, Allow on 405."""
from __future__ import annotations

import re

import pytest

from gridsys import create_app
from gridsys.headers import tile_origins
from gridsys.basemaps import TileSource
from tests.factories import login_as, make_user

COMMON = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
          "Cross-Origin-Opener-Policy": "same-origin"}


@pytest.fixture
def person(session, catalogue):
    user = make_user(session, "hdr-worker", ["grid_worker"])
    session.commit()
    return user


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/openapi.json", "/static/app.css",
                                  "/vendor/leaflet/dist/leaflet.js", "/no/such/page", "/api/v1/me"])
def test_every_response_carries_the_headers(client, path):
    response = client.get(path)
    response.close()
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (path, name)
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert re.search(r"script-src 'self' 'nonce-[\w-]{16,}'", policy)
    assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
    assert "geolocation=(self)" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers, "only behind TLS"


def test_each_page_gets_its_own_nonce_and_uses_it(client, person):
    login_as(client, person)
    first, second = client.get("/map"), client.get("/map")
    nonces = [re.search(r"'nonce-([\w-]+)'", r.headers["Content-Security-Policy"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1]
    html = first.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", html)
    assert inline and all(f'nonce="{nonces[0]}"' in attrs for attrs in inline), inline
    assert " onsubmit=" not in html and " onclick=" not in html


def test_images_may_come_from_the_tile_servers():
    assert tile_origins(type("B", (), {"sources": (TileSource("https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
                                                 TileSource("https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}"),
                                                 TileSource("https://webrd0{s}.is.autonavi.com/a?x={x}"))})()) == [
        "https://tile.openstreetmap.org", "https://*.tianditu.gov.cn", "https://*.is.autonavi.com"]


def test_behind_tls_hsts_is_sent(database_url, session):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "k", "TILES_URL": "",
                      "SESSION_FACTORY": lambda: session, "SESSION_COOKIE_SECURE": True})
    assert app.test_client().get("/login").headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_persons_pages_and_data_are_not_stored_but_assets_and_the_shell_are_cached(client, person):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    login_as(client, person)
    for path in ("/", "/incidents", "/inbox", "/api/v1/incidents", "/api/v1/notifications"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    with client.get("/static/app.css") as asset:
        assert "no-store" not in asset.headers.get("Cache-Control", "")
    assert client.get("/report/shell").headers["Cache-Control"] == "no-cache"
    assert client.get("/sw.js").headers["Cache-Control"] == "no-cache"


def test_401_says_how_to_authenticate_and_405_what_is_allowed(client, session, person):
    from gridsys.people import services as people
    _row, secret = people.create_token(session, person, "tests")
    session.commit()
    token = {"Authorization": f"Bearer {secret}"}
    unauthorised = client.get("/api/v1/me")
    assert unauthorised.status_code == 401 and unauthorised.headers["WWW-Authenticate"].startswith("Bearer")
    bad_token = client.get("/api/v1/me", headers={"Authorization": "Basic x"})
    assert bad_token.status_code == 401 and "WWW-Authenticate" in bad_token.headers
    wrong_method = client.delete("/api/v1/me", headers=token)
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    page = client.post("/incidents", headers=token)   # a page that is only read
    assert page.status_code == 405 and "GET" in page.headers["Allow"]
