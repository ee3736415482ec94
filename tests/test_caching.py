"""What a phone downloads again: versioned assets cached for a year, no session cookie where none
is needed, no ``Vary: Cookie`` on files, text compressed (photos never), bodies size-limited."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import time
import uuid

import pytest
from itsdangerous import TimestampSigner
from PIL import Image

from gridsys import create_app
from gridsys.assets import NODE_MODULES, STATIC_DIR
from gridsys.folium_maps import VENDOR_CSS, VENDOR_JS
from gridsys.people import services as people
from tests.factories import cell, login, make_area, make_grid, make_town, make_user

YEAR = "public, max-age=31536000, immutable"
LEAFLET = "leaflet/dist/leaflet.js"


def version(path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:10]


def set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def fetch(client, url, **kw):
    """GET a file and read it whole (file responses are closed after reading)."""
    with client.get(url, **kw) as response:
        response.get_data()
        return response


@pytest.fixture
def worker(session, client):
    make_user(session, "cache-worker", ["grid_worker"])
    session.commit()
    assert login(client, "cache-worker").status_code == 302
    return client


# --- versioned URLs ------------------------------------------------------------------------------

def test_pages_link_static_files_by_their_content_version(client):
    html = client.get("/login").get_data(as_text=True)
    assert f'href="/static/app.css?v={version(STATIC_DIR / "app.css")}"' in html
    assert f'href="/static/favicon.png?v={version(STATIC_DIR / "favicon.png")}"' in html


def test_map_assets_are_linked_by_their_content_version():
    assert VENDOR_JS == [("leaflet", f"/vendor/{LEAFLET}?v={version(NODE_MODULES / LEAFLET)}")]
    css = "leaflet/dist/leaflet.css"
    assert VENDOR_CSS == [("leaflet_css", f"/vendor/{css}?v={version(NODE_MODULES / css)}")]


def test_the_map_page_loads_leaflet_and_its_scripts_by_versioned_urls(worker):
    html = worker.get("/map").get_data(as_text=True)
    assert f'src="/vendor/{LEAFLET}?v={version(NODE_MODULES / LEAFLET)}"' in html
    assert f'src="/static/map.js?v={version(STATIC_DIR / "map.js")}"' in html
    unversioned = [url for url in re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"]+)"', html) if "?v=" not in url]
    assert not unversioned


# --- cache life and cookies on files -------------------------------------------------------------

@pytest.mark.parametrize("path", ["/static/app.css", f"/vendor/{LEAFLET}"])
def test_a_versioned_file_is_cached_for_a_year_without_cookie_or_vary_cookie(client, worker, path):
    root, name = (STATIC_DIR, "app.css") if path.startswith("/static") else (NODE_MODULES, LEAFLET)
    for who in (client.application.test_client(), worker):  # anonymous, then logged in
        response = fetch(who, f"{path}?v={version(root / name)}")
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == YEAR
        assert "cookie" not in response.headers.get("Vary", "").lower()
        assert not set_cookies(response)


@pytest.mark.parametrize("query", ["", "?v=0123456789"])
def test_an_unversioned_or_outdated_url_still_works_with_a_short_cache_life(worker, query):
    response = fetch(worker, f"/vendor/{LEAFLET}{query}")
    assert response.status_code == 200 and b"Leaflet" in response.get_data()[:200]
    assert response.headers["Cache-Control"] == "public, max-age=600"
    assert "cookie" not in response.headers.get("Vary", "").lower() and not set_cookies(response)


def test_a_revalidated_file_keeps_its_cache_life(client):
    url = f"/static/app.css?v={version(STATIC_DIR / 'app.css')}"
    etag = fetch(client, url).headers["ETag"]
    again = fetch(client, url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["Cache-Control"] == YEAR


# --- the session cookie ----------------------------------------------------------------------------

def test_an_anonymous_visitor_gets_one_cookie_for_the_login_form_then_none(client):
    first = client.get("/login")
    assert [c for c in set_cookies(first) if c.startswith("session=")]  # the CSRF token of the form
    for path in ("/login", "/", "/healthz", "/api/v1/categories"):
        assert not set_cookies(client.get(path)), path


def test_a_logged_in_user_gets_no_cookie_on_repeated_pages_and_json(worker):
    worker.get("/")  # the first page after login stores a new CSRF token (login cleared the session)
    for path in ("/", "/report", "/", "/api/v1/me", "/api/v1/categories", "/api/v1/incidents"):
        response = worker.get(path)
        assert response.status_code == 200, path
        assert not set_cookies(response), path
        if path.startswith("/api/"):
            assert response.headers["Vary"].lower().count("cookie") == 1  # a personal answer


def test_a_session_cookie_older_than_a_day_is_renewed_once(client, session, monkeypatch):
    make_user(session, "cache-worker", ["grid_worker"])
    session.commit()
    signed = int(time.time()) - 2 * 24 * 3600
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: signed)
        assert login(client, "cache-worker").status_code == 302
    renewed = client.get("/")
    assert [c for c in set_cookies(renewed) if c.startswith("session=")]
    assert 'href="/login"' not in renewed.get_data(as_text=True)  # still logged in
    assert not set_cookies(client.get("/"))


def test_logging_out_still_removes_the_cookie(worker):
    from tests.factories import post_form
    response = post_form(worker, "/logout")
    assert any(c.startswith("session=;") for c in set_cookies(response))
    assert worker.get("/api/v1/me").status_code == 401


# --- compression -----------------------------------------------------------------------------------

def test_leaflet_is_sent_gzipped_with_its_length(client):
    response = fetch(client, f"/vendor/{LEAFLET}", headers={"Accept-Encoding": "gzip"})
    body = response.get_data()
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == len(body) < 50_000
    assert gzip.decompress(body) == (NODE_MODULES / LEAFLET).read_bytes()
    assert "accept-encoding" in response.headers["Vary"].lower()


def test_a_browser_gets_the_best_encoding_it_accepts(client):
    response = fetch(client, f"/vendor/{LEAFLET}", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert response.headers["Content-Encoding"] in ("zstd", "br")
    assert len(response.get_data()) < 50_000


def test_without_accept_encoding_files_are_sent_as_they_are(client):
    response = fetch(client, f"/vendor/{LEAFLET}")
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == (NODE_MODULES / LEAFLET).read_bytes()


def test_large_json_is_gzipped_and_small_json_is_not(worker, catalogue):
    big = worker.get("/api/v1/categories", headers={"Accept-Encoding": "gzip"})
    assert big.headers["Content-Encoding"] == "gzip"
    assert isinstance(json.loads(gzip.decompress(big.get_data())), (list, dict))
    small = worker.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers and small.get_json()["status"] == "ok"


def test_geojson_is_gzipped(worker, session):
    town = make_town(session, "500106905", cell(40, 40, 50, 50))
    area = make_area(session, town, 1, cell(40, 40, 50, 50))
    for seq in range(1, 9):
        make_grid(session, area, seq, cell(40 + seq, 40, 41 + seq, 41))
    make_user(session, "cache-admin", ["admin"])
    people.add_town_admin(session, people.get_user(session, "cache-admin"), town.code)
    session.commit()
    admin = worker.application.test_client()
    assert login(admin, "cache-admin").status_code == 302
    response = admin.get("/api/v1/map/grids.geojson", headers={"Accept-Encoding": "gzip"})
    assert response.mimetype == "application/geo+json" and response.headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(response.get_data()))["features"]) == 8


def test_photos_are_never_compressed(worker, session, catalogue):
    town = make_town(session, "500106906", cell(60, 60, 70, 70))
    make_grid(session, make_area(session, town, 1, cell(60, 60, 70, 70)), 1, cell(60, 60, 70, 70))
    session.commit()
    created = worker.post("/api/v1/incidents", headers={"X-CSRFToken": csrf(worker)},
                          json={"client_uuid": str(uuid.uuid4()), "lon": 106.65, "lat": 29.65,
                                "category": "0101", "description": "压缩测试"})
    assert created.status_code == 201, created.get_json()
    upload = worker.post(f"/api/v1/incidents/{created.get_json()['id']}/photos",
                         headers={"X-CSRFToken": csrf(worker)},
                         data={"photo": (io.BytesIO(noise_jpeg()), "noise.jpg", "image/jpeg")})
    assert upload.status_code == 201, upload.get_json()
    photo = fetch(worker, upload.get_json()["url"], headers={"Accept-Encoding": "gzip, br, zstd"})
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert "Content-Encoding" not in photo.headers
    assert Image.open(io.BytesIO(photo.get_data())).format == "JPEG"


def csrf(client) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def noise_jpeg(side=200) -> bytes:
    import random
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(1).randbytes(side * side * 3)).save(out, "JPEG")
    return out.getvalue()


# --- size limits ------------------------------------------------------------------------------------

@pytest.fixture
def small_limits(database_url, session):
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t", "TILES_URL": "",
                       "SESSION_FACTORY": lambda: session, "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
                       "MAX_DATA_LENGTH": 1024 * 1024}).test_client()


def test_a_json_body_over_the_data_limit_is_refused_with_a_json_error(small_limits):
    response = small_limits.post("/api/v1/incidents", data=b'{"description": "' + b"x" * (2 * 1024 * 1024) + b'"}',
                                 content_type="application/json")
    assert response.status_code == 413 and response.is_json
    error = response.get_json()["error"]
    assert error["code"] == "payload_too_large" and error["max_bytes"] == 1024 * 1024
    assert "1 MB" in error["message"]


def multipart(field: str, size: int) -> dict:
    """A multipart body of one file, as bytes (the test client would spool it to a file it never closes)."""
    body = (f'--b\r\nContent-Disposition: form-data; name="{field}"; filename="big.jpg"\r\n'
            'Content-Type: image/jpeg\r\n\r\n').encode() + b"\xff" * size + b"\r\n--b--\r\n"
    return {"data": body, "content_type": "multipart/form-data; boundary=b"}


def test_a_multipart_body_may_be_larger_than_the_data_limit(small_limits):
    response = small_limits.post("/api/v1/incidents/1/photos", **multipart("photo", 2 * 1024 * 1024))
    assert response.status_code == 401  # read and parsed; refused only for want of a login


def test_a_form_over_the_limit_gets_an_error_page_not_a_bare_error(database_url, session):
    client = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t", "TILES_URL": "",
                         "SESSION_FACTORY": lambda: session, "MAX_CONTENT_LENGTH": 1024 * 1024}).test_client()
    response = client.post("/report", **multipart("photos", 2 * 1024 * 1024))
    assert response.status_code == 413 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "payload_too_large" in html and "1 MB" in html
