"""Chinese by default, English on request (cookie ``lang``, set by /lang/<code>)."""
from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import Babel, get_locale

ROLE_EN = {"admin": "Administrator", "area_leader": "Area leader", "grid_worker": "Grid worker"}
DUTY_EN = {"civilization": "Civilization", "safety": "Safety & order", "civil_affairs": "Civil affairs",
           "culture": "Culture", "legal": "Legal publicity", "counseling": "Counseling",
           "general": "General worker"}


def select_locale() -> str:
    wanted = request.cookies.get("lang") or request.args.get("lang")
    return wanted if wanted in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def locale() -> str:
    return str(get_locale() or "zh")


def role_label(role: str) -> str:
    from .people.models import ROLE_ZH
    return ROLE_EN.get(role, role) if locale() == "en" else ROLE_ZH.get(role, role)


def duty_label(duty: str) -> str:
    from .people.models import DUTY_ZH
    return DUTY_EN.get(duty, duty) if locale() == "en" else DUTY_ZH.get(duty, duty)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(role_label=role_label, duty_label=duty_label)

    @app.context_processor
    def locale_context():
        return {"current_locale": locale()}
