"""The staff console: a Flask application over the assistant's database.

`create_app` configures Flask (cookies, CSRF, proxies), creates the app's services
(console/web.py) and registers the pages (console/views/).
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Optional

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from channels.settings import MAX_PUBLIC_BODY_BYTES
from console import web
from console.db import utcnow
from console.jobs import REFRESH_MIN_SECONDS
from console.settings import ConsoleSettings, load_console_settings
from console.views import (
    account,
    admin,
    appointments,
    auth,
    conversations,
    corrections,
    overview,
)
from console.views import inbox as inbox_view
from console.views import topics as topics_view

BLUEPRINTS = (
    auth.bp,
    conversations.bp,
    appointments.bp,
    overview.bp,
    admin.bp,
    account.bp,
    inbox_view.bp,
    corrections.bp,
    topics_view.bp,
)
# the same request body limit as the assistant's public webhooks
MAX_REQUEST_BYTES = MAX_PUBLIC_BODY_BYTES


class BoundedInt(IntegerConverter):
    """`<int:...>` in every route: ids above 2^31 - 1 do not match (404), instead of
    reaching the database and overflowing there (a 500)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure when configured, and whenever the request itself
    came over HTTPS (directly, or through a trusted proxy: CONSOLE_TRUSTED_PROXIES)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (request and request.is_secure))


def create_app(
    settings: Optional[ConsoleSettings] = None,
    *,
    refresh_min_seconds: float = REFRESH_MIN_SECONDS,
    clock: Optional[Callable[[], dt.datetime]] = None,
    password_gate_timeout: float = 10.0,
) -> Flask:
    """The console. `clock` (UTC now) is for tests that move time forward."""
    settings = settings or load_console_settings()
    app = Flask(__name__)
    app.url_map.converters["int"] = BoundedInt
    app.config.update(cookie_config(settings))
    app.session_interface = ConsoleSessionInterface()
    if settings.trusted_proxies:
        # X-Forwarded-For / -Proto are believed only from that many proxies in front
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    app.extensions["console"] = web.Services.create(
        settings, refresh_min_seconds, clock or utcnow, password_gate_timeout
    )
    web.csrf.init_app(app)
    login_manager = LoginManager(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.user_loader(web.load_user)
    web.install(app)
    app.jinja_env.globals.update(
        APPOINTMENT_STATUSES=appointments.APPOINTMENT_STATUSES, require_2fa=settings.require_2fa
    )
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


def cookie_config(settings: ConsoleSettings) -> dict:
    return dict(
        SECRET_KEY=settings.secret_key(),
        SESSION_COOKIE_NAME="console_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        # The cookie is a browser-session cookie; the server-side record decides
        # (console/sessions.py). The signature also expires after the absolute limit.
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_max_hours),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=True,  # over HTTPS, POSTs must come from this site (Referer)
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
