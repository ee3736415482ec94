"""Who is asking: browser sessions (with CSRF) or API bearer tokens (no CSRF), and the guards."""
from __future__ import annotations

import functools

from flask import Flask, g, redirect, request, session as cookie, url_for
from flask_wtf.csrf import CSRFProtect

from .. import db
from ..assets import ASSET_ENDPOINTS
from ..errors import Forbidden, GridsysError
from ..inputs import has_nul
from .access import NOBODY, Scope, scope_for
from .models import User
from .browser_sessions import end_session, live_session_user, start_session
from .services import user_for_token
from .session_cookie import QuietSessionInterface

csrf = CSRFProtect()
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Endpoints a user who must change the password may still reach.
OPEN_WHILE_CHANGING = {"people.change_password", "people.logout", "static", "web.set_language",
                       "web.healthz", "web.vendor", "fieldapp.service_worker", "fieldapp.shell",
                       "fieldapp.manifest"}
# Who the phone's offline report app files queued reports under: set at login, removed at logout
# (not when a session merely ends: that person's queue waits for them to log in again). Readable
# by script and no credential: sending still needs the session.
USER_COOKIE = "gridsys_user"


def _is_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.session_interface = QuietSessionInterface()

    @app.before_request
    def refuse_nul_bytes():
        """PostgreSQL text cannot hold NUL: refuse it at the door instead of failing in the database."""
        if has_nul(request.path, *request.args.values(), *request.form.values()):
            raise GridsysError("nul_byte", "the request contains a NUL character: remove it", status=400)
        if request.is_json:   # sized or chunked: the body is read and checked (limits.Request.get_json)
            request.get_json(silent=True)

    @app.before_request
    def identify():
        g.user, g.via_token = None, False
        if request.endpoint in ASSET_ENDPOINTS:
            return  # public files: the session is not read, so they never vary by cookie
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise GridsysError("token_invalid", "use the header 'Authorization: Bearer <token>'",
                                   status=401)
            g.user = user_for_token(db.session(), token.strip())
            if g.user is None:
                raise GridsysError("token_invalid", "the API token is unknown, revoked, or its account is "
                                                    "deactivated", status=401)
            g.via_token = True
            if db.session().dirty:
                db.session().commit()  # last_used_at
        elif "uid" in cookie:
            config = app.config
            user = live_session_user(db.session(), cookie.get("uid"), cookie.get("sid"), cookie.get("sv"),
                                     idle=config["SESSION_IDLE"], absolute=config["PERMANENT_SESSION_LIFETIME"])
            if user is not None:
                g.user = user
            else:   # ended, expired, or from before server-side sessions: log in again
                cookie.clear()
        # Anonymous API calls get the 401 of login_required, not a CSRF 400. Open311 clients post
        # with the api_key in the form, never on the strength of a cookie: nothing to forge there.
        if request.method in UNSAFE and not g.via_token and (g.user is not None or not _is_api()) \
                and not request.path.startswith("/open311/"):
            csrf.protect()
        if g.user is not None and g.user.must_change_password and \
                request.endpoint not in OPEN_WHILE_CHANGING:
            if _is_api():
                raise Forbidden("password_change_required", "change the generated password first "
                                                            "(log in with a browser)")
            return redirect(url_for("people.change_password"))

    app.after_request(functools.partial(mark_browser_user, app))

    @app.context_processor
    def user_context():
        return {"current_user": g.get("user")}


def login(user: User) -> None:
    cookie.clear()
    cookie["uid"] = user.id
    cookie["sv"] = user.session_version
    cookie["sid"] = start_session(db.session(), user)
    db.session().commit()   # the session exists before its cookie is sent
    cookie.permanent = True
    g.user = user


def logout() -> None:
    """Ends the session on the server too: a copy of the cookie no longer works."""
    end_session(db.session(), cookie.get("sid"))
    db.session().commit()
    cookie.clear()
    g.user, g.logged_out = None, True


def mark_browser_user(app: Flask, response):
    """Keep USER_COOKIE naming who logged in on this browser, so a shared phone's offline queue
    knows whose report it is."""
    if request.endpoint in ASSET_ENDPOINTS or g.get("via_token"):
        return response
    secure = app.config["SESSION_COOKIE_SECURE"]
    if g.get("logged_out"):
        response.delete_cookie(USER_COOKIE, samesite="Lax", secure=secure)
    elif g.get("user") is not None and g.user.username != request.cookies.get(USER_COOKIE):
        response.set_cookie(USER_COOKIE, g.user.username, samesite="Lax", secure=secure,
                            max_age=int(app.permanent_session_lifetime.total_seconds()))
    return response


def current_user() -> User | None:
    return g.get("user")


def current_scope() -> Scope:
    if "scope" not in g:
        g.scope = scope_for(db.session(), current_user()) if current_user() else NOBODY
    return g.scope


def login_required(view=None, *, roles: tuple[str, ...] = ()):
    """Refuse anonymous requests (401 JSON / redirect to login) and users without ``roles``."""
    if view is None:
        return functools.partial(login_required, roles=roles)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            if _is_api():
                raise GridsysError("login_required", "authenticate with a bearer token or a browser session",
                                   status=401)
            return redirect(url_for("people.login", next=request.full_path.rstrip("?")))
        if roles and not user.has_role(*roles):
            raise Forbidden("role_required", f"this needs the role {' or '.join(roles)}")
        return view(*args, **kwargs)
    return wrapper


def safe_next(target: str | None, default: str) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and target.isprintable():
        return target
    return default


def landing_page(user: User) -> str:
    """Where a user lands after login: admins on people, everyone else on their start page."""
    if "admin" in user.roles:
        return url_for("people.admin_people")
    if "area_leader" in user.roles:
        return url_for("map.page")  # the map of open incidents is where leaders live
    if "grid_worker" in user.roles:
        return url_for("incidents.report")  # one tap from login to logging an incident
    return url_for("web.index")
