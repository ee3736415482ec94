"""Configuration: defaults, then the environment (GRIDSYS_*, DATABASE_URL), then overrides.

Validated once, in create_app. Reading var/ files is allowed here; starting servers is not.
"""
from __future__ import annotations

from datetime import timedelta

import os
from pathlib import Path

from . import basemaps, localdb
from .proxies import parse_networks

DEFAULTS = {
    "DATABASE_URL": None,
    # A streaming replica for read-heavy answers (map data, CSV export); none: the primary serves them.
    "DATABASE_REPLICA_URL": None,
    "SECRET_KEY": None,
    "BABEL_DEFAULT_LOCALE": "zh",
    "LANGUAGES": ("zh", "en"),
    # Map tiles: a preset of basemaps.PRESETS (OpenStreetMap when unset), or custom with TILES_URL
    # (empty URL = vector layers only). Unset values take the preset's; resolved into BASEMAP.
    "TILES": None,
    "TILES_URL": None,
    "TILES_OVERLAY_URL": None,
    "TILES_SUBDOMAINS": None,
    "TILES_ATTRIBUTION": None,
    "TILES_MAX_ZOOM": None,
    "TILES_CRS": None,
    "TIANDITU_KEY": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    # Request bodies (gridsys/limits.py): multipart, whose files are spooled to disk, up to 64 MB (the
    # report form without JavaScript may carry several 10 MB camera photos); any other body is read
    # into memory whole, up to 12 MB (a town's GeoJSON, an Open311 request).
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "MAX_DATA_LENGTH": 12 * 1024 * 1024,
    "WTF_CSRF_TIME_LIMIT": None,
    "TIMEZONE": "Asia/Shanghai",
    # May the reporter verify and close their own incident (instead of only the area leader)?
    "REPORTER_MAY_CLOSE": False,
    # An open incident due within this many hours is "due soon" (the leader's queue, the handler's notice).
    "DUE_SOON_HOURS": 4,
    # Browser sessions (people/auth.py): a phone used at least weekly stays logged in, up to 30 days.
    "SESSION_IDLE_HOURS": 7 * 24,
    "SESSION_MAX_DAYS": 30,
    # The residents' channel: days to rate a closure (回访), days for the leader to decide on an
    # unsatisfied rating, days a resident's contact is kept after closure (then purged by the sweep).
    "RATING_DAYS": 7,
    "REVIEW_DAYS": 7,
    "CONTACT_RETENTION_DAYS": 30,
    # Resident reports: at most this many per address and per device in an hour.
    "RESIDENT_REPORTS_PER_HOUR": 5,
    # Recoveries of a lost tracking link (code + phone): at most this many per address and device an hour.
    "RESIDENT_RECOVERIES_PER_HOUR": 5,
    # The proof of work a resident's page does before sending (residents/guard.py): leading zero
    # bits of SHA-256 (14: about 16 000 hashes, well under a second on a cheap phone).
    "RESIDENT_PROOF_BITS": 14,
    # Absolute address of the app, for links in webhook messages.
    "BASE_URL": "http://127.0.0.1:8000",
    # Send webhooks right after the commit that wrote them (gridsys/outbox.py); the sweep retries.
    "WEBHOOKS_IN_BACKGROUND": True,
    # Reverse proxies in front of the app (nginx: 1): their X-Forwarded-For/-Proto are trusted,
    # so the login rate limit counts the phone's address, not the proxy's.
    "TRUSTED_PROXIES": (),
}

# environment variable -> (config key, parser)
ENVIRONMENT = {
    "DATABASE_URL": ("DATABASE_URL", str),
    "DATABASE_REPLICA_URL": ("DATABASE_REPLICA_URL", str),
    "GRIDSYS_SECRET_KEY": ("SECRET_KEY", str),
    "GRIDSYS_TILES": ("TILES", str),
    "GRIDSYS_TILES_URL": ("TILES_URL", str),
    "GRIDSYS_TILES_OVERLAY_URL": ("TILES_OVERLAY_URL", str),
    "GRIDSYS_TILES_SUBDOMAINS": ("TILES_SUBDOMAINS", str),
    "GRIDSYS_TILES_ATTRIBUTION": ("TILES_ATTRIBUTION", str),
    "GRIDSYS_TILES_MAX_ZOOM": ("TILES_MAX_ZOOM", str),   # checked with the other tile settings
    "GRIDSYS_TILES_CRS": ("TILES_CRS", str),
    "GRIDSYS_TIANDITU_KEY": ("TIANDITU_KEY", str),
    "GRIDSYS_SECURE_COOKIES": ("SESSION_COOKIE_SECURE", lambda v: v.lower() in ("1", "true", "yes")),
    "GRIDSYS_TIMEZONE": ("TIMEZONE", str),
    "GRIDSYS_BASE_URL": ("BASE_URL", str),
    "GRIDSYS_TRUSTED_PROXIES": ("TRUSTED_PROXIES", parse_networks),
    "GRIDSYS_REPORTER_MAY_CLOSE": ("REPORTER_MAY_CLOSE", lambda v: v.lower() in ("1", "true", "yes")),
    "GRIDSYS_WEBHOOKS_IN_BACKGROUND": ("WEBHOOKS_IN_BACKGROUND", lambda v: v.lower() in ("1", "true", "yes")),
    "GRIDSYS_DUE_SOON_HOURS": ("DUE_SOON_HOURS", int),
    "GRIDSYS_RATING_DAYS": ("RATING_DAYS", int),
    "GRIDSYS_REVIEW_DAYS": ("REVIEW_DAYS", int),
    "GRIDSYS_CONTACT_RETENTION_DAYS": ("CONTACT_RETENTION_DAYS", int),
    "GRIDSYS_RESIDENT_REPORTS_PER_HOUR": ("RESIDENT_REPORTS_PER_HOUR", int),
    "GRIDSYS_RESIDENT_RECOVERIES_PER_HOUR": ("RESIDENT_RECOVERIES_PER_HOUR", int),
    "GRIDSYS_RESIDENT_PROOF_BITS": ("RESIDENT_PROOF_BITS", int),
    "GRIDSYS_SESSION_IDLE_HOURS": ("SESSION_IDLE_HOURS", int),
    "GRIDSYS_SESSION_MAX_DAYS": ("SESSION_MAX_DAYS", int),
}


class ConfigError(RuntimeError):
    pass


def normalise_database_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// forms; always use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def secret_key_file() -> Path:
    return localdb.var_dir() / "secret_key"


def load(overrides: dict | None = None) -> dict:
    cfg = dict(DEFAULTS)
    for env, (key, parse) in ENVIRONMENT.items():
        # Set but empty counts for the tile URL (= no tile layer); elsewhere empty means unset.
        if os.environ.get(env) or (env == "GRIDSYS_TILES_URL" and env in os.environ):
            try:
                cfg[key] = parse(os.environ[env])
            except ValueError as exc:
                raise ConfigError(f"{env}: {exc}") from exc
    cfg.update(overrides or {})
    if not cfg["DATABASE_URL"]:
        cfg["DATABASE_URL"] = localdb.url()
    if not cfg["DATABASE_URL"]:
        raise ConfigError("no database: set DATABASE_URL, or run `make db` to create the private "
                          "PostGIS cluster under var/")
    cfg["DATABASE_URL"] = normalise_database_url(cfg["DATABASE_URL"])
    if cfg["DATABASE_REPLICA_URL"]:
        cfg["DATABASE_REPLICA_URL"] = normalise_database_url(cfg["DATABASE_REPLICA_URL"])
    if not cfg["DATABASE_URL"].startswith("postgresql+psycopg://"):
        raise ConfigError("DATABASE_URL must point to PostgreSQL (postgresql://...)")
    if not cfg["SECRET_KEY"]:
        try:
            cfg["SECRET_KEY"] = secret_key_file().read_text().strip()
        except FileNotFoundError:
            raise ConfigError("no secret key: set GRIDSYS_SECRET_KEY, or run `make var/secret_key`")
    hours = cfg["DUE_SOON_HOURS"]
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 168:
        raise ConfigError(f"GRIDSYS_DUE_SOON_HOURS is a whole number of hours from 1 to 168, not {hours!r}")
    for key, low, high in (("RATING_DAYS", 1, 365), ("REVIEW_DAYS", 1, 365), ("CONTACT_RETENTION_DAYS", 1, 3650),
                           ("RESIDENT_REPORTS_PER_HOUR", 1, 1000), ("RESIDENT_RECOVERIES_PER_HOUR", 1, 1000),
                           ("RESIDENT_PROOF_BITS", 0, 24)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"GRIDSYS_{key} is a whole number from {low} to {high}, not {value!r}")
    if os.environ.get("GRIDSYS_PROXY_COUNT"):
        raise ConfigError("GRIDSYS_PROXY_COUNT is replaced by GRIDSYS_TRUSTED_PROXIES: the proxy's addresses, "
                          "e.g. GRIDSYS_TRUSTED_PROXIES=127.0.0.1 for nginx on the same machine")
    if isinstance(cfg["TRUSTED_PROXIES"], str):
        try:
            cfg["TRUSTED_PROXIES"] = parse_networks(cfg["TRUSTED_PROXIES"])
        except ValueError as exc:
            raise ConfigError(f"GRIDSYS_TRUSTED_PROXIES: {exc}") from exc
    else:
        cfg["TRUSTED_PROXIES"] = parse_networks(",".join(map(str, cfg["TRUSTED_PROXIES"])))
    idle, days = cfg["SESSION_IDLE_HOURS"], cfg["SESSION_MAX_DAYS"]
    if not (isinstance(idle, int) and 1 <= idle <= 24 * 90 and isinstance(days, int) and 1 <= days <= 365):
        raise ConfigError("GRIDSYS_SESSION_IDLE_HOURS is 1 to 2160 hours and GRIDSYS_SESSION_MAX_DAYS 1 to 365 days")
    cfg["SESSION_IDLE"] = timedelta(hours=idle)
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(days=days)
    try:
        cfg["BASEMAP"] = basemaps.resolve(cfg)
    except basemaps.BasemapError as exc:
        raise ConfigError(str(exc)) from exc
    return cfg
