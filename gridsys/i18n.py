"""Chinese by default, English on request: the cookie ``lang`` (set by /lang/<code>) or ``?lang=``,
else a browser that prefers English (Accept-Language) for a new visitor."""
from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale, gettext

from .wording import DUTY_NAMES, ROLE_NAMES, ZONE_LEVEL_NAMES


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    # A language named in the URL first (an answer cached by its URL, e.g. the map's grids, must
    # be in the language its URL names), then the person's choice (cookie), then the browser's.
    for wanted in (request.args.get("lang"), request.cookies.get("lang")):
        if wanted in languages:
            return wanted
    g.locale_from_header = True
    # The browser's most wanted language we have, by its main tag (zh-TW is Chinese, en-GB English).
    for tag, quality in request.accept_languages:  # best first
        if quality <= 0:   # q=0: "not this one"
            continue
        primary = tag.replace("_", "-").split("-")[0].lower()
        if primary in languages:
            return primary
    return default


def locale() -> str:
    return str(get_locale() or "zh")


def label(names: dict, code, default: str | None = None, **values) -> str:
    """The name of ``code`` in a table of names (msgids: gridsys/wording.py, incidents/wording.py)
    in the page's language; an unknown code as it is (or ``default``)."""
    msgid = names.get(code)
    if msgid is None:
        return default if default is not None else ("" if code is None else str(code))
    return gettext(msgid, **values)


def role_label(role: str) -> str:
    return label(ROLE_NAMES, role)


def duty_label(duty: str) -> str:
    return label(DUTY_NAMES, duty)


def zone_level_label(level: str) -> str:
    return label(ZONE_LEVEL_NAMES, level)


def zone_label(zone) -> str:
    """A town's, area's or grid's name in the page's language (its English name when it has one)."""
    return zone.label(locale()) if zone is not None else ""


def timespan(delta) -> str:
    """A short human duration: '3 h 20 min', '2 d 4 h' ('3小时20分' in Chinese)."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return gettext("%(d)d d %(h)d h", d=days, h=hours)
    if hours:
        return gettext("%(h)d h %(m)d min", h=hours, m=mins)
    return gettext("%(m)d min", m=mins)


def localtime(value) -> str:
    """A timestamp in the town's time zone (GRIDSYS_TIMEZONE, Asia/Shanghai by default)."""
    from zoneinfo import ZoneInfo
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


def capped(count: int, cap: int = 100) -> str:
    """A header's count as shown: the server counts up to ``cap`` (notify/queues COUNT_CAP), so
    ``cap`` reads "99+" (static/report.js says the same)."""
    return str(count) if count < cap else f"{cap - 1}+"


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(role_label=role_label, duty_label=duty_label, timespan=timespan,
                                 zone_label=zone_label)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["capped"] = capped

    @app.after_request
    def vary_by_language(response):
        """A page whose language came from Accept-Language differs by it (for caches)."""
        if g.pop("locale_from_header", False):
            response.vary.add("Accept-Language")
        return response

    @app.context_processor
    def locale_context():
        return {"current_locale": locale()}
