"""How large a request may be, and the refusal a person sees when it is larger.

Two limits (config): MAX_CONTENT_LENGTH for multipart bodies, whose files Werkzeug spools to disk
(the report form without JavaScript may carry several full-size camera photos of at most
10 MB each), and the smaller MAX_DATA_LENGTH for every other body (JSON, GeoJSON, XML), which
is read into memory whole. The server `make run` starts refuses bodies beyond
``server_body_limit`` itself, before they are sent (gridsys/serve.py).
"""
from __future__ import annotations

import flask
from flask import Flask, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import GridsysError
from .inputs import MAX_JSON_DEPTH, check_json

MB = 1024 * 1024
# Room above the app's limit in which the app, not the server, answers (multipart framing).
SERVER_SLACK = 1 * MB


class Request(flask.Request):
    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None or not current_app:
            return super().max_content_length
        config = current_app.config
        if self.mimetype == "multipart/form-data":
            return config["MAX_CONTENT_LENGTH"]
        return min(config["MAX_CONTENT_LENGTH"], config["MAX_DATA_LENGTH"])

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        """The one entrance of JSON bodies: nesting, NUL and broken characters are refused here
        (400 json_too_deep / nul_byte / text_invalid), whichever view reads the body."""
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise GridsysError("json_too_deep", "the body is nested too deep to read", status=400,
                               max_depth=MAX_JSON_DEPTH)
        if value is not None and not getattr(self, "_json_checked", False):
            check_json(value)
            self._json_checked = True
        return value


def server_body_limit(config) -> int:
    """The largest body the WSGI server buffers and hands to the app."""
    return config["MAX_CONTENT_LENGTH"] + SERVER_SLACK


def init_app(app: Flask) -> None:
    app.request_class = Request

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        """Werkzeug's 413 in English becomes a domain refusal in the person's language."""
        limit = request.max_content_length or 0
        refusal = GridsysError("payload_too_large", _("Too much to send at once: at most %(mb)d MB. Attach "
                                                      "fewer or smaller photos.", mb=limit // MB),
                               status=413, max_bytes=limit)
        return current_app.handle_user_exception(refusal)
