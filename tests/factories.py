"""Build what a test asserts on: zones from boxes, in a test town far from the demo town."""
from __future__ import annotations

from shapely.geometry import MultiPolygon, box

from gridsys.zones import services

TOWN = "500106901"
ORIGIN = (106.0, 29.0)  # lon, lat of the test town's south-west corner
STEP = 0.01  # degrees per unit of the small integer boxes used below (about 1 km)


def cell(x0, y0, x1, y1):
    """A box in 'units' from the test origin, in lon/lat."""
    return box(ORIGIN[0] + x0 * STEP, ORIGIN[1] + y0 * STEP, ORIGIN[0] + x1 * STEP, ORIGIN[1] + y1 * STEP)


def make_town(session, code=TOWN, geom=None, name="测试镇"):
    geom = geom if geom is not None else cell(0, 0, 10, 10)
    if geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    return services.save_zone(session, "town", code, name, geom, actor="test")


def make_area(session, town, seq=1, geom=None, name=None):
    geom = geom if geom is not None else cell(0, 0, 5, 10)
    if geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    code = f"{town.code}{seq:03d}"
    return services.save_zone(session, "area", code, name or f"测试片区{seq}", geom, actor="test")


def make_grid(session, area, seq=1, geom=None, name=None):
    geom = geom if geom is not None else cell(0, 0, 5, 5)
    code = f"{area.code}{seq:03d}"
    return services.save_zone(session, "grid", code, name or f"测试网格{seq}", geom, actor="test")


# --- people --------------------------------------------------------------------------------

PASSWORD = "correct horse battery"


_HASHES: dict[str, str] = {}


def password_hash(password=PASSWORD):
    """The scrypt hash of a password, computed once per test session (scrypt costs ~0.1 s)."""
    if password not in _HASHES:
        from gridsys.people.services import hash_password
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


def make_user(session, username, roles=(), password=PASSWORD, **kw):
    """An account via the real service (create_user). ``password=None`` generates one that must
    be changed; the default password reuses a cached hash so tests stay fast."""
    from gridsys.people.services import create_user
    if password is not None and "password_hash" not in kw:
        kw["password_hash"] = password_hash(password)
        kw.setdefault("must_change_password", False)
    user, _generated = create_user(session, username, roles=list(roles), password=password, **kw)
    return user


def csrf_token(client, path="/"):
    """The CSRF token a page carries in <meta name="csrf-token">."""
    import re
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, f"no csrf-token meta on {path}"
    return match.group(1)


def login(client, username, password=PASSWORD, **kw):
    """POST the login form with a valid CSRF token; returns the (unfollowed) response."""
    token = csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}, **kw)


def post_form(client, path, data=None, token_page="/", **kw):
    """POST a form the way a browser does: with the CSRF token of a page it just loaded."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_page)}, **kw)


def login_as(client, user):
    """A browser session for ``user`` without the login form (no scrypt check): for tests about
    what a logged-in person may see or do; test_login.py drives the real form."""
    from sqlalchemy.orm import object_session
    from gridsys.people.browser_sessions import start_session
    db = object_session(user)
    key = start_session(db, user)
    db.commit()
    with client.session_transaction() as cookie:
        cookie["uid"], cookie["sv"], cookie["sid"] = user.id, user.session_version, key
    return client
