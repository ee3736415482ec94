"""Chinese by default, English on request (cookie ``lang``, set by /lang/<code>)."""
from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel


def select_locale() -> str:
    from flask import current_app
    wanted = request.cookies.get("lang") or request.args.get("lang")
    return wanted if wanted in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def locale_context():
        from flask_babel import get_locale
        return {"current_locale": str(get_locale() or "zh")}
