"""Structured application logs (issue 13 item 7): one JSON line per event on the logger
``gridsys.events`` — logins, failures and lockouts, transitions, redraws, escalations, webhook
deliveries and every 5xx — each with the request's id, the person acting and the action.

``event("login", user="w0101a")`` is all a rule writes; the request id (``X-Request-Id``, made
here or taken from a trusted proxy's header when it looks like one) and the acting user are added
from the request when there is one. Never logged: passwords, tokens, phone numbers, webhook URLs
(a WeCom robot's key is in its URL) or the text people typed (``scrub`` drops such fields by name).
python-json-logger formats the lines: the standard library's logging, one JSON object a line,
nothing of our own to maintain.
"""
from __future__ import annotations

import logging
import re
import sys
import uuid

from flask import Flask, g, has_request_context, request

LOGGER = "gridsys.events"
log = logging.getLogger(LOGGER)
SECRET_FIELDS = {"password", "token", "secret", "phone", "url", "authorization", "cookie", "description", "note"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def scrub(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if k.lower() not in SECRET_FIELDS}


def event(action: str, *, level: int = logging.INFO, **fields) -> None:
    """One JSON line: the action, its fields (secrets dropped by name), and where it happened."""
    context = {}
    if has_request_context():
        context["request_id"] = g.get("request_id")
        user = g.get("user")
        if user is not None and "user" not in fields:
            context["user"] = user.username
        context["path"] = request.path
    log.log(level, action, extra={"action": action, **context, **scrub(fields)})


def configure(stream=None) -> logging.Handler:
    """JSON lines on stdout (or ``stream``), once per process."""
    from pythonjsonlogger.json import JsonFormatter
    for handler in log.handlers:
        if getattr(handler, "gridsys", False):
            return handler
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                       rename_fields={"asctime": "at", "levelname": "level"}))
    handler.gridsys = True
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return handler


def init_app(app: Flask) -> None:
    if not app.testing:
        configure()

    @app.before_request
    def request_id():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response):
        if g.get("request_id"):
            response.headers["X-Request-Id"] = g.request_id
        return response

    @app.errorhandler(Exception)
    def server_error(exc):
        """Every 5xx: logged as one line with its traceback, answered as the usual error."""
        from werkzeug.exceptions import HTTPException, InternalServerError
        if isinstance(exc, HTTPException):
            return exc
        log.error("server_error", exc_info=exc, extra={"action": "server_error", "request_id": g.get("request_id"),
                                                       "path": request.path, "error": type(exc).__name__})
        return app.handle_http_exception(InternalServerError(original_exception=exc))
