"""The grid worker's installable, offline-first report app: manifest, service worker, app shell.

The service worker (static/sw.js, Workbox from npm) precaches the app shell and its assets and
keeps the last catalogue and grid outlines; reports themselves wait in the phone's IndexedDB
(static/report.js) and are sent through the JSON API, each once, by its client UUID.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import weakref
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import db
from ..version import VERSION
from .models import Category
from .views import render_shell

bp = Blueprint("fieldapp", __name__)

PACKAGE = Path(__file__).resolve().parent.parent
SHELL_ENDPOINT = "fieldapp.shell"
WORKBOX_MODULES = ("core", "routing", "strategies", "precaching", "expiration")
# What the shell's version covers: a change to any of these is a new app version for the phones.
VERSIONED_SOURCES = ("static", "templates", "incidents/templates", "translations")
# Images Leaflet's stylesheet loads by path (unversioned), so the pin shows offline too.
LEAFLET_IMAGES = tuple(f"/vendor/leaflet/dist/images/{name}.png"
                       for name in ("marker-icon", "marker-icon-2x", "marker-shadow", "layers", "layers-2x"))
ASSET_REF = re.compile(r"""(?:src|href)="(/(?:static|vendor)/[^"]+)\"""")


@functools.cache
def _source_digest() -> str:
    digest = hashlib.sha256(VERSION.encode())
    for folder in VERSIONED_SOURCES:
        for path in sorted((PACKAGE / folder).rglob("*")):
            if path.is_file() and path.suffix in (".js", ".css", ".html", ".mo", ".png"):
                digest.update(path.relative_to(PACKAGE).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def app_version() -> str:
    """The field app's version: the sources' digest, or GRIDSYS_APP_VERSION when set (deploys, tests)."""
    return current_app.config.get("APP_VERSION") or _source_digest()


def shell_version() -> str:
    """What the phones' copy of the shell depends on: the app's version and the category catalogue
    it lists (an administrator's change to the catalogue reaches the phones as a new version)."""
    rows = db.session().execute(select(Category.code, Category.active, Category.name_zh, Category.name_en,
                                       Category.duty, Category.priority).order_by(Category.code)).all()
    catalogue = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()[:8]
    return f"{app_version()}-{catalogue}"


def workbox_urls() -> list[str]:
    return [url_for("web.vendor", filename=f"workbox-{m}/build/workbox-{m}.prod.js") for m in WORKBOX_MODULES]


# The shell's assets per app and version: rendering the shell to read them off costs more than
# the worker script itself, and phones ask for the script on every visit.
_ASSETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # app -> {version: assets}


def shell_assets() -> list[str]:
    """Every script and style the shell page loads from the app (read off the rendered shell, so
    the list cannot drift from it), with the manifest, icons and Leaflet's images."""
    known = _ASSETS.setdefault(current_app._get_current_object(), {})
    version = app_version()
    if version not in known:
        known[version] = sorted(set(ASSET_REF.findall(render_shell())) | set(LEAFLET_IMAGES)
                              | {url_for("fieldapp.manifest"), url_for("static", filename="icons/icon-192.png"),
                                 url_for("static", filename="icons/icon-512.png")})
    return known[version]


@bp.get("/sw.js")
def service_worker():
    """The service worker, at the root so its scope is the whole app; never cached by HTTP (the
    browser checks it for a new version on every visit)."""
    config = {"version": shell_version(), "shell": url_for(SHELL_ENDPOINT),
              "assets": shell_assets(), "workbox": workbox_urls(),
              "api": [url_for("incidents_api.categories"), url_for("zones.api_zones_geojson")]}
    source = (PACKAGE / "static" / "sw.js").read_text(encoding="utf-8")
    body = f"self.GRIDSYS = {json.dumps(config)};\n{source}"
    return Response(body, mimetype="application/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@bp.get("/report/shell")
def shell():
    """The report page without anything personal (no name, no token): what the phone keeps to
    open offline. The page fetches who is logged in and a CSRF token when it sends."""
    return Response(render_shell(), mimetype="text/html", headers={"Cache-Control": "no-cache"})


@bp.get("/manifest.webmanifest")
def manifest():
    body = {
        "name": _("Grid report"), "short_name": _("Grid report"),
        "description": _("Log incidents in the field, with or without network."),
        "start_url": url_for("incidents.report"), "scope": "/", "display": "standalone",
        "background_color": "#f6f7f9", "theme_color": "#b3261e", "lang": "zh-CN",
        "icons": [{"src": url_for("static", filename=f"icons/icon-{s}.png"), "sizes": f"{s}x{s}",
                   "type": "image/png", "purpose": purpose} for s in (192, 512) for purpose in ("any", "maskable")],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    return response
