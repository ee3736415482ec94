"""Security headers on every response (issue 13 item 5), in one place.

- Content-Security-Policy: scripts only from the app itself and inline ones carrying this
  request's nonce (``csp_nonce()``; folium's inline scripts get it in folium_maps.embed); styles
  from the app (inline styles allowed: Leaflet and folium position with them); images from the app,
  data:/blob: (photo thumbnails on the phone) and the configured tile servers; connections only
  to the app; nothing may frame the app (also X-Frame-Options for old browsers).
- nosniff, Referrer-Policy same-origin, Permissions-Policy (camera and location for the app only),
  Cross-Origin-Opener-Policy same-origin; HSTS when cookies are HTTPS-only (GRIDSYS_SECURE_COOKIES).
- ``no-store`` on answers to a logged-in person that set no caching of their own (their pages and
  data); assets, the offline app shell and the service worker keep theirs.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context

HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS = "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()"


def csp_nonce() -> str:
    """This request's script nonce (one per request; empty outside a request)."""
    if not has_request_context():
        return ""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def tile_origins(basemap) -> list[str]:
    """The origins tiles come from, as CSP sources: a host with a subdomain placeholder
    (``{s}.tile…``, ``t{s}.tianditu…``, ``webrd0{s}.…``) becomes a wildcard on the rest."""
    origins = []
    for source in getattr(basemap, "sources", ()):
        parts = urlsplit(source.url)
        host = parts.netloc
        if "{" in host:
            host = "*." + host.split(".", 1)[1]
        origin = f"{parts.scheme}://{host}"
        if origin not in origins:
            origins.append(origin)
    return origins


def policy(nonce: str, tiles: list[str]) -> str:
    images = " ".join(["'self'", "data:", "blob:", *tiles])
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {images}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    tiles = tile_origins(app.config.get("BASEMAP"))   # the configuration's: once, not per response

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy(csp_nonce(), tiles))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", PERMISSIONS)
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if current_app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", HSTS)
        if g.get("user") is not None and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"   # a person's pages and data: never kept by caches
        return response
