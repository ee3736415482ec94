"""gridsys: grid-management field data system (网格化管理) for suburban small towns."""
from __future__ import annotations

from flask import Flask

__version__ = "0.1.0"


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI. No side effects (no migrations,
    no servers started, no network)."""
    from . import cli, config as config_module, db, errors, i18n, web
    from .zones import views as zone_views
    from flask_wtf import CSRFProtect

    app = Flask(__name__)
    app.config.update(config_module.load(config))
    db.init_app(app)
    i18n.init_app(app)
    CSRFProtect(app)
    errors.register(app)
    app.register_blueprint(web.bp)
    app.register_blueprint(zone_views.bp)
    cli.register(app)
    return app
