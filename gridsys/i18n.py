"""Chinese by default, English on request (cookie ``lang``, set by /lang/<code>)."""
from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import Babel, get_locale

from .vocabulary import DUTY_EN, DUTY_ZH, ROLE_EN, ROLE_ZH


def select_locale() -> str:
    wanted = request.cookies.get("lang") or request.args.get("lang")
    return wanted if wanted in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def locale() -> str:
    return str(get_locale() or "zh")


def role_label(role: str) -> str:
    return ROLE_EN.get(role, role) if locale() == "en" else ROLE_ZH.get(role, role)


def duty_label(duty: str) -> str:
    return DUTY_EN.get(duty, duty) if locale() == "en" else DUTY_ZH.get(duty, duty)


def timespan(delta) -> str:
    """A short human duration: '3 h 20 min', '2 d 4 h' ('3小时20分' in Chinese)."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    zh = locale() != "en"
    if days:
        return f"{days}天{hours}小时" if zh else f"{days} d {hours} h"
    if hours:
        return f"{hours}小时{mins}分" if zh else f"{hours} h {mins} min"
    return f"{mins}分钟" if zh else f"{mins} min"


def localtime(value) -> str:
    """A timestamp in the town's time zone (GRIDSYS_TIMEZONE, Asia/Shanghai by default)."""
    from zoneinfo import ZoneInfo
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(role_label=role_label, duty_label=duty_label, timespan=timespan)
    app.jinja_env.filters["localtime"] = localtime

    @app.context_processor
    def locale_context():
        return {"current_locale": locale()}
