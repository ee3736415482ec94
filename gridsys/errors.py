"""Domain errors with a stable code, and the one place that maps them to HTTP."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class GridsysError(Exception):
    """A refusal a person can act on. ``code`` is stable; APIs return it, tests assert it."""

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


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 429: "too_many_requests", 500: "internal_error"}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/open311/") \
        or request.path == "/healthz"


def register(app: Flask) -> None:
    def rollback():
        """An error page must not run on a failed transaction (the header counts unread messages)."""
        from . import db
        try:
            db.session().rollback()
        except Exception:  # noqa: BLE001 (the original error is what the user must see)
            pass

    @app.errorhandler(GridsysError)
    def domain_error(exc: GridsysError):
        rollback()
        if _wants_json():
            return jsonify(error=exc.to_dict()), exc.status
        return render_template("error.html", code=exc.code, message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        rollback()
        if _wants_json():
            # A stale or missing CSRF token has its own code: a phone's queue fetches a fresh one and retries.
            code = "csrf_invalid" if isinstance(exc, CSRFError) else HTTP_CODES.get(exc.code, "http_error")
            return jsonify(error={"code": code, "message": exc.description}), exc.code
        return render_template("error.html", code=exc.code, message=exc.description), exc.code
