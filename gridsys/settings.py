"""The settings the domain rules read, as one small object the session carries.

Rules never ask Flask for configuration: ``db.session()`` puts the app's ``Settings`` in
``session.info`` and the rules read ``settings.of(session)``. A session made without the app
(a script, a benchmark, a test's own session) gets the same defaults the app starts from, so
one call behaves the same over HTTP, from the CLI and in a benchmark.
"""
from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from . import config as app_config


@dataclass(frozen=True)
class Settings:
    timezone: str              # GRIDSYS_TIMEZONE: dates people read are the towns' dates
    reporter_may_close: bool   # GRIDSYS_REPORTER_MAY_CLOSE: the reporter may verify and close
    due_soon_hours: int        # GRIDSYS_DUE_SOON_HOURS: the "due soon" queue and notice
    base_url: str              # GRIDSYS_BASE_URL: links in webhook messages
    rating_days: int           # GRIDSYS_RATING_DAYS: a resident may rate a closure this long after it
    review_days: int           # GRIDSYS_REVIEW_DAYS: the leader decides on an unsatisfied rating within this
    contact_retention_days: int  # GRIDSYS_CONTACT_RETENTION_DAYS: a resident's contact is kept this long after closure

    @classmethod
    def from_config(cls, config) -> "Settings":
        """From a loaded configuration (app.config); unset keys take the app's defaults."""
        config = {**app_config.DEFAULTS, **{k: v for k, v in dict(config).items() if v is not None}}
        return cls(timezone=config["TIMEZONE"], reporter_may_close=bool(config["REPORTER_MAY_CLOSE"]),
                   due_soon_hours=int(config["DUE_SOON_HOURS"]), base_url=config["BASE_URL"].rstrip("/"),
                   rating_days=int(config["RATING_DAYS"]), review_days=int(config["REVIEW_DAYS"]),
                   contact_retention_days=int(config["CONTACT_RETENTION_DAYS"]))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


DEFAULTS = Settings.from_config(app_config.DEFAULTS)


def of(session: Session | None) -> Settings:
    """The settings of the app that made this session (the defaults for any other session)."""
    if session is None:
        return DEFAULTS
    return session.info.get("settings", DEFAULTS)


def attach(session: Session, settings: Settings) -> Session:
    session.info["settings"] = settings
    return session
