"""Domain errors with a stable code, and the one place that maps them to HTTP."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from . import applog, db
from .refusals import http_error_code, refusal_text


DATABASE_RETRY_S = 5


class GridsysError(Exception):
    """A refusal a person can act on. ``code`` is stable; APIs return it, tests assert it.
    ``message`` is English, for integrators; people read refusals.refusal_text(exc), the catalogue's
    message for the code in their language, filled from ``details`` (which the JSON error carries too)."""

    status = 422

    def __init__(self, code: str, message: str, *, status: int | None = None, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status
        self.details = details

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.details}


class NotFound(GridsysError):
    status = 404


class Forbidden(GridsysError):
    status = 403


class Conflict(GridsysError):
    status = 409


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/open311/") \
        or request.path == "/healthz"


def answer_errors_under(app: Flask, prefix: str, answer) -> None:
    """HTTP errors raised before a blueprint's own handlers run (routing: 404, 405) under ``prefix``
    are answered by ``answer`` (a protocol with its own error format, e.g. Open311)."""
    app.extensions.setdefault("gridsys.error_formats", {})[prefix] = answer


def register(app: Flask) -> None:
    def rollback():
        """An error page must not run on a failed transaction (the header counts unread messages)."""
        try:
            db.session().rollback()
        except Exception:  # noqa: BLE001 (the original error is what the user must see)
            pass

    @app.errorhandler(GridsysError)
    def domain_error(exc: GridsysError):
        rollback()
        # 401 says how to authenticate (RFC 9110): a bearer token, or the login page.
        headers = {"WWW-Authenticate": 'Bearer realm="gridsys"'} if exc.status == 401 else {}
        if exc.details.get("retry_after"):   # 429, and 503 while the database is out of reach
            headers["Retry-After"] = str(exc.details["retry_after"])
        if _wants_json():
            return jsonify(error=exc.to_dict()), exc.status, headers
        return render_template("error.html", code=exc.code, status=exc.status,
                               message=refusal_text(exc)), exc.status, headers

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(exc):
        """The database is restarting or out of reach (or a statement was cancelled): nothing was
        written, and trying again shortly will work. 503 with Retry-After, as /healthz says, not
        a 500: the phone's outbox resends either way, but a proxy and a person read it right."""
        applog.event("database_unavailable", level=logging.WARNING, error=type(exc.orig or exc).__name__)
        return domain_error(GridsysError("database_unavailable", "the database is not reachable just now: try again "
                                                                 "in a few seconds", status=503,
                                         retry_after=DATABASE_RETRY_S))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        for prefix, answer in app.extensions.get("gridsys.error_formats", {}).items():
            if request.path.startswith(prefix):   # e.g. Open311's list of errors, even for a 405
                return answer(exc)
        rollback()
        # Keep what the exception says about itself beyond its page: Allow on 405, Retry-After.
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after", "www-authenticate")}
        if _wants_json():
            return jsonify(error={"code": http_error_code(exc), "message": exc.description}), exc.code, headers
        return render_template("error.html", code=http_error_code(exc), status=exc.code,
                               message=refusal_text(exc)), exc.code, headers
