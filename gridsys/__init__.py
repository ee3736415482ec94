"""gridsys: grid-management field data system (网格化管理) for suburban small towns."""
from __future__ import annotations

from flask import Flask

from .version import VERSION as __version__

__all__ = ["__version__", "create_app"]


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI. No side effects (no migrations,
    no servers started, no network)."""
    from . import applog, assets, cli, config as config_module, db, errors, headers, i18n, limits, outbox, web
    from .incidents import api as incidents_api, fieldapp, views as incident_views
    from .map import views as map_views
    from .people import auth, views as people_views, zone_pages
    from .residents import open311, pages as resident_pages, views as resident_views
    from . import boundaries_api
    from .evaluation import api as evaluation_api, public_views as evaluation_public, views as evaluation_views

    app = Flask(__name__)
    app.config.update(config_module.load(config))
    db.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    errors.register(app)
    for blueprint in (web.bp, people_views.bp, zone_pages.bp, incident_views.bp, incidents_api.bp, map_views.bp,
                      boundaries_api.bp, fieldapp.bp, resident_views.bp, resident_pages.bp, open311.bp,
                      evaluation_api.bp, evaluation_views.bp, evaluation_public.bp):
        app.register_blueprint(blueprint)
    web.compress_responses(app)
    assets.init_app(app)
    limits.init_app(app)
    headers.init_app(app)
    applog.init_app(app)
    from .proxies import TrustedProxies
    app.wsgi_app = TrustedProxies(app.wsgi_app, app.config["TRUSTED_PROXIES"])
    if app.config.get("WEBHOOKS_IN_BACKGROUND", True):   # webhooks sent right after the commit that wrote them
        app.extensions["gridsys.courier"] = outbox.Courier(lambda: _deliver_webhooks(app), "gridsys-webhooks")
    cli.register(app)
    return app


def _deliver_webhooks(app: Flask) -> None:
    from . import db
    from .incidents import webhooks
    with app.app_context():
        webhooks.deliver_all(db.session())
