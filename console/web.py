"""What every page of the console shares; the pages are the blueprints in console/views/.

- `Services`: the app's engine, settings, clock, masker, login limits...; one per
  app (app.extensions["console"]), `services()` is the current app's.
- Access: each view declares the permission it needs with `requires` (roles:
  console/roles.py), or `public` for the login page. `check_access` runs before
  every request: anonymous visitors go to the login page (GET) or get 401; a page
  the user's role lacks, or that declares nothing, is refused (403).
- CSRF: Flask-WTF's `csrf` checks every POST before `check_access` runs.
- Responses: security headers on every response, and the error pages.
- Audit and masking: `record` (one audit row for the current user), `who`,
  `client_addr`, `masked_filters`, and the template filters that show times in
  the office's zone and masked text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, List, Optional
from urllib.parse import urlsplit

import sqlalchemy as sa
import yaml
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape

from console import audit, queries
from console.db import access_log, as_utc
from console.jobs import Refresher
from console.ratelimit import SlidingWindowLimiter
from console.roles import ROLES
from console.sessions import SessionPolicy, load_session
from console.settings import ConsoleSettings
from console.totp import SeedBox
from privacy.masking import MASK_TOKENS, Masker

logger = logging.getLogger(__name__)

PASSWORD_CHECKS_AT_ONCE = 2  # scrypt N=2^17 needs 128 MiB and ~1 s of CPU each
HSTS = "max-age=31536000"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
BOLD_RE = re.compile(r"\*\*(\S(?:[^*\n]*\S)?)\*\*")
# The pages a user lands on ("/", after logging in): the first one their role may see.
HOME_PAGES = (
    ("inbox.list", "inbox"),
    ("conversations.list", "conversations"),
    ("appointments.queue", "appointments"),
)

csrf = CSRFProtect()
# denied requests (401, 403, CSRF failures) audited and logged per client address and
# minute; more are counted by the limiter only (one warning says so)
DENIED_RECORDED_PER_MINUTE = 20


@dataclass
class Services:
    settings: ConsoleSettings
    engine: sa.engine.Engine
    clock: Callable[[], dt.datetime]  # UTC now; tests move it forward
    refresh: Refresher
    policy: SessionPolicy
    tz: dt.tzinfo
    masker: Masker
    intents: List[str]  # the domain's, offered for intent corrections
    ip_limiter: SlidingWindowLimiter
    global_limiter: SlidingWindowLimiter
    password_gate: threading.BoundedSemaphore
    password_gate_timeout: float
    denied_limiter: Optional[SlidingWindowLimiter] = None
    _seeds: Optional[SeedBox] = None

    def seeds(self) -> SeedBox:
        """The TOTP seeds' key (console/totp.py), read when first needed."""
        if self._seeds is None:
            self._seeds = SeedBox(self.settings.totp_keys())
        return self._seeds

    @classmethod
    def create(
        cls,
        settings: ConsoleSettings,
        refresh_min_seconds: float,
        clock: Callable[[], dt.datetime],
        password_gate_timeout: float,
    ) -> Services:
        engine = audit.open_engine(settings.database_url)
        window = settings.login_window_minutes * 60

        def now_ts() -> float:
            return clock().timestamp()

        return cls(
            settings=settings,
            engine=engine,
            clock=clock,
            refresh=Refresher(engine, refresh_min_seconds),
            policy=SessionPolicy(
                idle=dt.timedelta(minutes=settings.session_idle_minutes),
                absolute=dt.timedelta(hours=settings.session_max_hours),
            ),
            tz=queries.zone(settings.timezone),
            masker=Masker([settings.office_phone]),
            intents=domain_intents(settings),
            ip_limiter=SlidingWindowLimiter(settings.login_failures_per_ip, window, now_ts),
            global_limiter=SlidingWindowLimiter(settings.login_failures_global, window, now_ts),
            password_gate=threading.BoundedSemaphore(PASSWORD_CHECKS_AT_ONCE),
            password_gate_timeout=password_gate_timeout,
            denied_limiter=SlidingWindowLimiter(DENIED_RECORDED_PER_MINUTE, 60, now_ts),
        )


def services() -> Services:
    return current_app.extensions["console"]


def domain_intents(settings: ConsoleSettings) -> List[str]:
    try:
        domain = yaml.safe_load(settings.domain_path.read_text(encoding="utf-8")) or {}
        names = [i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []]
    except (OSError, yaml.YAMLError, StopIteration):
        logger.warning("could not read intents from %s", settings.domain_path)
        names = []
    return sorted(n for n in names if n != "empty_message")


# ---------------------------------------------------------------- access


def requires(permission: Optional[str]) -> Callable:
    """Declares what a page needs: a permission (console/roles.py), or None for any
    logged-in user."""

    def declare(view: Callable) -> Callable:
        view.required_permission = permission
        return view

    return declare


def public(view: Callable) -> Callable:
    """A page for visitors who are not logged in (the login page)."""
    view.public = True
    return view


def load_user(token: str):
    """Flask-Login's user loader: the session row decides (console/sessions.py)."""
    s = services()
    user, status = load_session(s.engine, token, s.clock(), s.policy)
    if user is None:
        g.session_end = status
    return user


# what a user whose role needs a second factor may open before enrolling one
ENROLMENT_ENDPOINTS = frozenset({"account.totp", "account.totp_confirm", "auth.logout"})


def check_access():
    """Before every request (see the module docstring); None lets the request through."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if request.endpoint == "static" or getattr(view, "public", False):
        return None
    if not current_user.is_authenticated:
        ended = g.pop("session_end", None)
        if ended in {"idle", "expired", "revoked", "disabled"}:
            session.clear()
            flash("Your session has ended. Please log in again.")
        if request.method == "GET" and request.endpoint is not None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(401)
    if request.endpoint is None:
        return None  # Flask answers the routing error (404, or 405 for a wrong method)
    if not hasattr(view, "required_permission"):
        abort(403)  # a page that declares nothing is refused to everyone
    if (
        services().settings.needs_2fa(current_user.role)
        and not current_user.has_totp
        and request.endpoint not in ENROLMENT_ENDPOINTS
    ):
        # the role needs a second factor the user has not enrolled: only that page
        if request.method == "GET":
            return redirect(url_for("account.totp"))
        abort(403)
    needed = view.required_permission
    if needed and not current_user.can(needed):
        abort(403)
    return None


def home() -> str:
    """The first page the user's role may see ("/" answers 403 if there is none)."""
    for endpoint, permission in HOME_PAGES:
        if current_user.can(permission):
            return url_for(endpoint)
    return url_for("auth.index")


def safe_local_path(target: Optional[str]) -> Optional[str]:
    """`target` if it is a path on this site ("/conversations?…"), else None.

    Refused: anything with a scheme or host, "//host", a backslash ("/\\host" is
    "//host" to browsers), and any space or control character (browsers drop tabs
    and newlines, so "/\\t/host" would become "//host"); only printable ASCII."""
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return None
    if any(not (0x21 <= ord(ch) <= 0x7E) or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def can(permission: str) -> bool:
    return bool(current_user.is_authenticated and current_user.can(permission))


# ---------------------------------------------------------------- responses


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if services().settings.secure_cookies or request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(code: int, message: str):
    return render_template("error.html", code=code, message=message), code


def record_denied(code: int, reason: str) -> None:
    """A denied request: an audit row (`access_denied`) and a warning, at most
    DENIED_RECORDED_PER_MINUTE per client address and minute; the path without its
    query string."""
    s = services()
    addr = client_addr()
    user = current_user.username if current_user.is_authenticated else "anonymous"
    allowed, retry, first = s.denied_limiter.acquire(addr or "?")
    if not allowed:
        if first:
            logger.warning(
                "console: more denied requests from %s; not recorded for %d s", addr, retry
            )
        return
    path = request.path[:200]
    try:
        with s.engine.begin() as conn:
            audit.record(
                conn,
                user[:120],
                "access_denied",
                detail=f"status={code} reason={reason} {request.method} {path}",
                remote_addr=addr,
            )
    except Exception:  # never turn a refusal into a 500
        logger.exception("console: could not audit a denied request")
    logger.warning(
        "console: denied %s %s (%d %s) for %s from %s",
        request.method,
        path,
        code,
        reason,
        user,
        addr,
    )


def denied_page(code: int, reason: str, message: str):
    record_denied(code, reason)
    return error_page(code, message)


def log_access(response: Response) -> Response:
    """One console_access_log row per request (not the static files), without the
    query string."""
    if request.endpoint == "static":
        return response
    try:
        user = current_user.username if current_user.is_authenticated else None
    except Exception:
        user = None
    try:
        with services().engine.begin() as conn:
            conn.execute(
                access_log.insert().values(
                    at=services().clock(),
                    username=user,
                    method=request.method[:8],
                    path=request.path[:300],
                    status=response.status_code,
                    remote_addr=client_addr() or None,
                )
            )
    except Exception:
        logger.exception("console: could not write the access log")
    return response


def install(app: Flask) -> None:
    """The hooks, error pages and template helpers every page relies on (after
    csrf.init_app, so the CSRF check runs first)."""
    app.before_request(check_access)
    app.after_request(security_headers)
    app.after_request(log_access)
    app.register_error_handler(
        CSRFError,
        lambda error: denied_page(
            400,
            "csrf",
            "The form expired or was not sent from this console. "
            "Go back, reload the page and try again.",
        ),
    )
    app.register_error_handler(401, lambda error: denied_page(401, "login", "Please log in."))
    app.register_error_handler(
        403, lambda error: denied_page(403, "role", "Your role does not include this page.")
    )
    app.register_error_handler(404, lambda error: error_page(404, "Not found."))
    app.jinja_env.filters.update(
        localtime=local_time, localdt=local_datetime, masked=masked_html, mask=mask_text
    )
    app.jinja_env.globals.update(can=can, ROLES=ROLES)


# ---------------------------------------------------------------- audit and masking


def who() -> str:
    return current_user.username


def client_addr() -> str:
    return (request.remote_addr or "")[:64]


def record(action: str, sender_id: Optional[str] = None, detail: Optional[str] = None) -> None:
    """One audit row for the current user and address, in its own transaction."""
    with services().engine.begin() as conn:
        audit.record(conn, who(), action, sender_id, detail=detail, remote_addr=client_addr())


def masked_filters(filters: queries.ListFilters, **extra: Any) -> str:
    """The filters for the audit log; the search words masked like transcripts."""
    args = filters.as_args(page=filters.page)
    if "q" in args:
        args["q"] = services().masker.mask(args["q"])
    args.update(extra)
    return json.dumps(args, sort_keys=True)


def local_time(ts: Optional[float], fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not ts:
        return ""
    return dt.datetime.fromtimestamp(float(ts), services().tz).strftime(fmt)


def local_datetime(value: Optional[dt.datetime], fmt: str = "%Y-%m-%d %H:%M") -> str:
    value = as_utc(value)
    return value.astimezone(services().tz).strftime(fmt) if value else ""


def mask_text(text: Optional[str]) -> str:
    return services().masker.mask(text)


def masked_html(text: Optional[str]) -> Markup:
    html = str(escape(text or ""))
    for token in MASK_TOKENS:
        label = token.strip("<>")
        html = html.replace(
            str(escape(token)), f'<span class="mask" title="hidden: {label}">{label}</span>'
        )
    # the bot's replies use **bold** (content file); the text is escaped already
    html = BOLD_RE.sub(r"<strong>\1</strong>", html)
    return Markup(html)
