"""Versioned asset URLs and their cache life: a phone downloads each script, style and icon once.

Every URL of an app file (``url_for('static', …)``, ``url_for('web.vendor', …)``, and the
``static_url()`` / ``vendor_url()`` of folium elements, which are built without an app) carries
``?v=`` + the first 10 hex digits of the file's SHA-1. A request whose ``v`` is the file's current
version is cached for a year as immutable; any other (no ``v``, an old one) for ten minutes.
Asset responses never read the session, so they carry no ``Vary: Cookie`` and no ``Set-Cookie``.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from flask import Flask, request
from werkzeug.security import safe_join

PACKAGE = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE / "static"
NODE_MODULES = PACKAGE.parent / "node_modules"
# endpoint -> the folder its ``filename`` is found in
ASSET_ROOTS = {"static": STATIC_DIR, "web.vendor": NODE_MODULES}
ASSET_ENDPOINTS = frozenset(ASSET_ROOTS)
VERSION_ARG = "v"
IMMUTABLE = "public, max-age=31536000, immutable"
UNVERSIONED = "public, max-age=600"


@functools.lru_cache(maxsize=1024)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()[:10]


def asset_version(root: Path, filename: str) -> str | None:
    """The version of ``root/filename`` (None if there is no such file). Hashed once per content
    of the file: the cache key includes its mtime and size, so an edited file gets a new version."""
    path = safe_join(str(root), filename)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _digest(path, stat.st_mtime_ns, stat.st_size)


def _versioned(prefix: str, root: Path, filename: str) -> str:
    version = asset_version(root, filename)
    return f"{prefix}/{filename}" + (f"?{VERSION_ARG}={version}" if version else "")


def static_url(filename: str) -> str:
    """/static/<filename>?v=…, for code that builds pages without an app (folium elements)."""
    return _versioned("/static", STATIC_DIR, filename)


def vendor_url(filename: str) -> str:
    """/vendor/<filename>?v=… of a file in node_modules (folium elements, VENDOR_JS/VENDOR_CSS)."""
    return _versioned("/vendor", NODE_MODULES, filename)


def init_app(app: Flask) -> None:
    @app.url_defaults
    def add_asset_version(endpoint, values):
        if endpoint in ASSET_ROOTS and VERSION_ARG not in values and "filename" in values:
            version = asset_version(ASSET_ROOTS[endpoint], values["filename"])
            if version:
                values[VERSION_ARG] = version

    @app.after_request
    def cache_assets(response):
        if request.endpoint not in ASSET_ROOTS or response.status_code not in (200, 304):
            return response
        current = asset_version(ASSET_ROOTS[request.endpoint], request.view_args.get("filename", ""))
        asked = request.args.get(VERSION_ARG)
        response.headers["Cache-Control"] = IMMUTABLE if asked and asked == current else UNVERSIONED
        return response
