"""The staff console: a Flask application over the assistant's database."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlsplit

import sqlalchemy as sa
import yaml
from flask import (Flask, Response, abort, flash, g, redirect, render_template, request,
                   session, url_for)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape
from werkzeug.middleware.proxy_fix import ProxyFix

from console import audit, auth, exports, jobs, queries, summaries, transcript
from console.db import (appointment_requests, as_utc, audit_log, conversation_reviews,
                        conversation_summaries as cs, engine_for, intent_corrections, users,
                        utcnow)
from console.masking import MASK_TOKENS, Masker
from console.ratelimit import SlidingWindowLimiter
from console.settings import ConsoleSettings, load_console_settings

logger = logging.getLogger(__name__)

APPOINTMENT_STATUSES = {"new": "New", "called_back": "Called back", "closed": "Closed"}
PUBLIC_ENDPOINTS = {"login", "static"}
# What each page needs (console/auth.py PERMISSIONS per role). A page missing here is
# refused to everyone (403) until it is added.
ENDPOINT_PERMISSIONS: Dict[str, Optional[str]] = {
    "index": None, "logout": None,
    "conversations": "conversations", "conversation": "conversations",
    "review": "review", "correct": "review",
    "conversations_csv": "export",
    "appointments": "appointments", "appointment_status": "appointments",
    "overview": "overview",
    "audit_page": "audit",
    "users_page": "users", "user_update": "users",
}
PASSWORD_CHECKS_AT_ONCE = 2  # scrypt N=2^17 needs 128 MiB and ~1 s of CPU each
HSTS = "max-age=31536000"
REFRESH_MIN_SECONDS = 2.0
AUDIT_PAGE_SIZE = 100
MAX_TAGS_CHARS = 500
MAX_NOTE_CHARS = 5000
BOLD_RE = re.compile(r"\*\*(\S(?:[^*\n]*\S)?)\*\*")

csrf = CSRFProtect()


def domain_intents(settings: ConsoleSettings) -> List[str]:
    try:
        domain = yaml.safe_load(settings.domain_path.read_text(encoding="utf-8")) or {}
        names = [i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []]
    except (OSError, yaml.YAMLError, StopIteration):
        logger.warning("could not read intents from %s", settings.domain_path)
        names = []
    return sorted(n for n in names if n != "empty_message")


class Refresher:
    """Folds new events into summaries, at most every `min_seconds` per process.

    When no event id is above the watermark the fold is skipped (one index
    lookup); the full look-back, which also catches ids committed out of order,
    still runs at least every FULL_CHECK_SECONDS."""

    FULL_CHECK_SECONDS = 30.0

    def __init__(self, engine: sa.engine.Engine, min_seconds: float = REFRESH_MIN_SECONDS):
        self.engine, self.min_seconds = engine, min_seconds
        self.lock, self.last, self.last_full = threading.Lock(), 0.0, 0.0

    def __call__(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last < self.min_seconds:
            return
        with self.lock:  # one refresh at a time; the others wait and then skip
            now = time.monotonic()
            if not force and now - self.last < self.min_seconds:
                return
            if (force or now - self.last_full >= self.FULL_CHECK_SECONDS
                    or summaries.has_new_events(self.engine)):
                jobs.refresh_summaries(self.engine)  # one node at a time (console/jobs.py)
                self.last_full = now
            self.last = time.monotonic()


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


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure when configured, and whenever the request itself
    came over HTTPS (directly, or through a trusted proxy: CONSOLE_TRUSTED_PROXIES)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (request and request.is_secure))


def create_app(settings: Optional[ConsoleSettings] = None, *,
               refresh_min_seconds: float = REFRESH_MIN_SECONDS,
               clock: Optional[Callable[[], dt.datetime]] = None,
               password_gate_timeout: float = 10.0) -> Flask:
    """The console. `clock` (UTC now) is for tests that move time forward."""
    settings = settings or load_console_settings()
    clock = clock or utcnow
    app = Flask(__name__)
    policy = auth.SessionPolicy(idle=dt.timedelta(minutes=settings.session_idle_minutes),
                                absolute=dt.timedelta(hours=settings.session_max_hours))
    app.config.update(
        SECRET_KEY=settings.secret_key(),
        SESSION_COOKIE_NAME="console_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        # The cookie is a browser-session cookie; the server-side record decides
        # (auth.load_session). The signature also expires after the absolute limit.
        PERMANENT_SESSION_LIFETIME=policy.absolute,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=True,  # over HTTPS, POSTs must come from this site (Referer)
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.session_interface = ConsoleSessionInterface()
    if settings.trusted_proxies:
        # X-Forwarded-For / -Proto are believed only from that many proxies in front
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,
                                x_proto=settings.trusted_proxies)
    engine = engine_for(settings.database_url)
    tz = queries.zone(settings.timezone)
    masker = Masker([settings.office_phone])
    intents = domain_intents(settings)
    refresh = Refresher(engine, refresh_min_seconds)
    window = settings.login_window_minutes * 60
    ip_limiter = SlidingWindowLimiter(settings.login_failures_per_ip, window,
                                      lambda: clock().timestamp())
    global_limiter = SlidingWindowLimiter(settings.login_failures_global, window,
                                          lambda: clock().timestamp())
    password_gate = threading.BoundedSemaphore(PASSWORD_CHECKS_AT_ONCE)
    app.extensions["console"] = {"engine": engine, "settings": settings, "refresh": refresh,
                                 "clock": clock}
    csrf.init_app(app)

    login_manager = LoginManager(app)
    login_manager.login_view = "login"
    login_manager.login_message = None

    @login_manager.user_loader
    def _load_user(token: str):
        user, status = auth.load_session(engine, token, clock(), policy)
        if user is None:
            g.session_end = status
        return user

    # ---------- helpers ----------
    def fmt_time(ts: Optional[float], fmt: str = "%Y-%m-%d %H:%M") -> str:
        if not ts:
            return ""
        return dt.datetime.fromtimestamp(float(ts), tz).strftime(fmt)

    def fmt_dt(value: Optional[dt.datetime], fmt: str = "%Y-%m-%d %H:%M") -> str:
        value = as_utc(value)
        return value.astimezone(tz).strftime(fmt) if value else ""

    def masked_html(text: Optional[str]) -> Markup:
        html = str(escape(text or ""))
        for token in MASK_TOKENS:
            label = token.strip("<>")
            html = html.replace(str(escape(token)),
                                f'<span class="mask" title="hidden: {label}">{label}</span>')
        # the bot's replies use **bold** (content file); the text is escaped already
        html = BOLD_RE.sub(r"<strong>\1</strong>", html)
        return Markup(html)

    def client_addr() -> str:
        return (request.remote_addr or "")[:64]

    def who() -> str:
        return current_user.username

    def can(permission: str) -> bool:
        return bool(current_user.is_authenticated and current_user.can(permission))

    def masked_filters(filters: queries.ListFilters, **extra: Any) -> str:
        """The filters for the audit log; the search words masked like transcripts."""
        args = filters.as_args(page=filters.page)
        if "q" in args:
            args["q"] = masker.mask(args["q"])
        args.update(extra)
        return json.dumps(args, sort_keys=True)

    app.jinja_env.filters.update(localtime=fmt_time, localdt=fmt_dt, masked=masked_html,
                                 mask=masker.mask)
    app.jinja_env.globals.update(APPOINTMENT_STATUSES=APPOINTMENT_STATUSES, can=can,
                                 ROLES=auth.ROLES, require_2fa=settings.require_2fa)

    # ---------- security around every request ----------
    @app.before_request
    def require_login():
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if not current_user.is_authenticated:
            ended = g.pop("session_end", None)
            if ended in {"idle", "expired", "revoked", "disabled"}:
                session.clear()
                flash("Your session has ended. Please log in again.")
            if request.method == "GET" and request.endpoint is not None:
                return redirect(url_for("login", next=request.full_path.rstrip("?")))
            abort(401)
        if request.endpoint is None:
            return None  # Flask answers the routing error (404, or 405 for a wrong method)
        if request.endpoint not in ENDPOINT_PERMISSIONS:
            abort(403)
        needed = ENDPOINT_PERMISSIONS[request.endpoint]
        if needed and not current_user.can(needed):
            abort(403)
        return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if settings.secure_cookies or request.is_secure:
            response.headers["Strict-Transport-Security"] = HSTS
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_template("error.html", code=400,
                               message="The form expired or was not sent from this console. "
                                       "Go back, reload the page and try again."), 400

    @app.errorhandler(401)
    def unauthorized(error):
        return render_template("error.html", code=401, message="Please log in."), 401

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("error.html", code=403,
                               message="Your role does not include this page."), 403

    @app.errorhandler(404)
    def not_found(error):
        return render_template("error.html", code=404, message="Not found."), 404

    def home() -> str:
        """The first page the user's role may see ("/" answers 403 if there is none)."""
        for endpoint, permission in (("conversations", "conversations"),
                                     ("appointments", "appointments")):
            if current_user.can(permission):
                return url_for(endpoint)
        return url_for("index")

    # ---------- login ----------
    def too_many(retry_after: int, first: bool, scope: str, username: str):
        if first:  # one audit row per address (or for everyone) and window, not one per try
            with engine.begin() as conn:
                audit.record(conn, username[:120] or "?", "login_rate_limited",
                             detail=f"limit={scope}", remote_addr=client_addr())
        minutes = max(1, -(-retry_after // 60))
        message = (f"Too many failed logins{' from this address' if scope == 'per_ip' else ''}. "
                   f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
        if scope == "busy":
            message = "The console is checking too many logins at once. Try again in a moment."
        response = app.make_response((render_template(
            "login.html", error=message, no_users=False, username=username), 429))
        response.headers["Retry-After"] = str(retry_after)
        return response

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if current_user.is_authenticated:
            return redirect(home())
        if request.method == "POST":
            username = (request.form.get("username") or "").strip()
            password = request.form.get("password") or ""
            code = request.form.get("code") or ""
            addr = client_addr()
            # A slot is taken before the password is checked (parallel guesses count);
            # a successful login gives it back. No sleeping: refusals answer at once.
            allowed, retry, first = ip_limiter.acquire(addr)
            if not allowed:
                return too_many(retry, first, "per_ip", username)
            allowed, retry, first = global_limiter.acquire("*")
            if not allowed:
                ip_limiter.release(addr)
                return too_many(retry, first, "global", username)
            row, status = auth.authenticate(
                engine, username, password, code=code, now=clock(),
                lockout_minutes=settings.lockout_minutes, require_2fa=settings.require_2fa,
                gate=password_gate, gate_timeout=password_gate_timeout)
            if row is not None:
                ip_limiter.release(addr)
                global_limiter.release("*")
                session.clear()
                token = auth.start_session(engine, row.id, clock(), addr, policy)
                login_user(auth.StaffUser(id=row.id, username=row.username, role=row.role,
                                          session_token=token, has_totp=bool(row.totp_secret)))
                with engine.begin() as conn:
                    audit.record(conn, row.username, "login", detail=f"role={row.role}",
                                 remote_addr=addr)
                return redirect(safe_local_path(request.args.get("next")) or home())
            with engine.begin() as conn:
                audit.record(conn, username[:120] or "?", "login_" + status, remote_addr=addr)
            if status == "busy":
                return too_many(5, False, "busy", username)
            if status == "locked":
                error = (f"Too many failed attempts. This account is locked for up to "
                         f"{settings.lockout_minutes:g} minutes.")
            elif settings.require_2fa or status == "bad_code":
                error = "Wrong user name, password or code."
            else:
                error = "Wrong user name or password."
            return render_template("login.html", error=error,
                                   no_users=False, username=username), 401
        return render_template("login.html", error=None, username="",
                               no_users=auth.count_users(engine) == 0)

    @app.route("/logout", methods=["POST"])
    def logout():
        auth.revoke_session(engine, current_user.session_token, clock())
        with engine.begin() as conn:
            audit.record(conn, who(), "logout", remote_addr=client_addr())
        logout_user()
        session.clear()
        return redirect(url_for("login"))

    # ---------- conversations ----------
    @app.route("/")
    def index():
        target = home()
        if target == url_for("index"):
            abort(403)
        return redirect(target)

    @app.route("/conversations")
    def conversations():
        refresh()
        filters = queries.ListFilters.from_args(request.args)
        with engine.connect() as conn:
            rows, total = queries.list_page(conn, filters, tz)
            channel_names = queries.channels(conn)
        with engine.begin() as conn:
            audit.record(conn, who(), "search" if filters.q else "view_list",
                         detail=masked_filters(filters, total=total, shown=[r.id for r in rows]),
                         remote_addr=client_addr())
        pages = max(1, -(-total // queries.PAGE_SIZE))
        today = dt.datetime.now(tz).date()
        last_week = {"date_from": (today - dt.timedelta(days=6)).isoformat(),
                     "date_to": today.isoformat()}
        return render_template("conversations.html", rows=rows, total=total, pages=pages,
                               filters=filters, channels=channel_names,
                               intents=intents + ["nlu_fallback"], last_week=last_week)

    @app.route("/conversations.csv", methods=["POST"])
    def conversations_csv():
        """POST with the CSRF token: a link or image on another site cannot start it."""
        refresh()
        filters = queries.ListFilters.from_args(request.form)
        with engine.connect() as conn:
            count = queries.count_rows(conn, filters, tz)
            if count > settings.export_max_rows:
                rows = None
            else:
                rows = queries.all_rows(conn, filters, tz)
        if rows is None:
            with engine.begin() as conn:
                audit.record(conn, who(), "export_refused",
                             detail=masked_filters(filters, rows=count),
                             remote_addr=client_addr())
            return render_template(
                "error.html", code=413,
                message=f"This export would have {count} conversations; at most "
                        f"{settings.export_max_rows} can be exported at once. Narrow the "
                        f"filters (dates, flags) and export in parts."), 413
        body = exports.list_csv(rows, masker, fmt_time)
        with engine.begin() as conn:
            audit.record_many(conn, who(), "export_csv", [r.sender_id for r in rows],
                              detail=masked_filters(filters), remote_addr=client_addr())
        stamp = dt.datetime.now(tz).strftime("%Y%m%d-%H%M")
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="conversations-{stamp}.csv"'})

    def summary_or_404(conn, summary_id: int):
        row = conn.execute(sa.select(cs).where(cs.c.id == summary_id)).first()
        if row is None:
            abort(404)
        return row

    @app.route("/conversations/<int:summary_id>")
    def conversation(summary_id: int):
        with engine.connect() as conn:
            summary = summary_or_404(conn, summary_id)
            items = transcript.build(conn, summary.sender_id, masker)
            review = conn.execute(sa.select(conversation_reviews).where(
                conversation_reviews.c.sender_id == summary.sender_id)).first()
            appointment = conn.execute(
                sa.select(queries.appointment_expr()).select_from(cs)
                .where(cs.c.id == summary_id)).scalar()
        with engine.begin() as conn:
            audit.record(conn, who(), "view_conversation", summary.sender_id,
                         remote_addr=client_addr())
        return render_template("transcript.html", summary=summary, items=items, review=review,
                               appointment=appointment, intents=intents,
                               back=safe_local_path(request.args.get("back")) or "")

    @app.route("/conversations/<int:summary_id>/review", methods=["POST"])
    def review(summary_id: int):
        with engine.begin() as conn:
            summary = summary_or_404(conn, summary_id)
            reviewed = request.form.get("reviewed") in {"1", "on", "true"}
            tags = ", ".join(dict.fromkeys(
                t.strip() for t in (request.form.get("tags") or "").split(",") if t.strip()
            ))[:MAX_TAGS_CHARS]
            note = (request.form.get("note") or "").strip()[:MAX_NOTE_CHARS]
            values = dict(reviewed=reviewed, tags=tags, note=note, updated_by=who(),
                          updated_at=utcnow())
            updated = conn.execute(conversation_reviews.update().where(
                conversation_reviews.c.sender_id == summary.sender_id).values(**values)).rowcount
            if not updated:
                conn.execute(conversation_reviews.insert().values(
                    sender_id=summary.sender_id, **values))
            audit.record(conn, who(), "review", summary.sender_id,
                         detail=f"reviewed={int(reviewed)} tags={tags}", remote_addr=client_addr())
        flash("Review saved.")
        return redirect(url_for("conversation", summary_id=summary_id,
                                back=safe_local_path(request.form.get("back"))))

    @app.route("/conversations/<int:summary_id>/correct", methods=["POST"])
    def correct(summary_id: int):
        intent = (request.form.get("intent") or "").strip()
        try:
            event_id = int(request.form.get("event_id") or "")
        except ValueError:
            abort(400)
        if intent not in intents:
            abort(400)
        with engine.begin() as conn:
            summary = summary_or_404(conn, summary_id)
            event = transcript.user_event(conn, summary.sender_id, event_id)
            if event is None:
                abort(404)
            text = transcript.masked_user_text(conn, summary.sender_id, event, masker)
            values = dict(sender_id=summary.sender_id, event_id=event_id, text=text,
                          predicted_intent=event.intent_name, corrected_intent=intent,
                          created_by=who(), created_at=utcnow())
            updated = conn.execute(intent_corrections.update().where(
                intent_corrections.c.event_id == event_id).values(**values)).rowcount
            if not updated:
                conn.execute(intent_corrections.insert().values(**values))
            audit.record(conn, who(), "correct_intent", summary.sender_id,
                         detail=f"event={event_id} {event.intent_name}->{intent}",
                         remote_addr=client_addr())
        flash(f"Saved: the right intent is {intent}.")
        return redirect(url_for("conversation", summary_id=summary_id,
                                back=safe_local_path(request.form.get("back"))) + f"#e{event_id}")

    # ---------- appointment requests ----------
    @app.route("/appointments")
    def appointments():
        status = request.args.get("status") or "open"
        query = sa.select(appointment_requests, cs.c.id.label("summary_id")).select_from(
            appointment_requests.outerjoin(
                cs, cs.c.sender_id == appointment_requests.c.conversation_id))
        if status == "open":
            query = query.where(appointment_requests.c.status != "closed")
        elif status in APPOINTMENT_STATUSES:
            query = query.where(appointment_requests.c.status == status)
        query = query.order_by(appointment_requests.c.created_at.desc()).limit(500)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        with engine.begin() as conn:
            audit.record(conn, who(), "view_appointments", detail=f"status={status} rows={len(rows)}",
                         remote_addr=client_addr())
            # which requests (names, phone numbers) were on the screen: one row each
            audit.record_many(conn, who(), "view_appointment",
                              [r.conversation_id for r in rows],
                              detail=[f"request={r.id} status={r.status}" for r in rows],
                              remote_addr=client_addr())
        return render_template("appointments.html", rows=rows, status=status)

    @app.route("/appointments/<int:request_id>/status", methods=["POST"])
    def appointment_status(request_id: int):
        status = request.form.get("status") or ""
        if status not in APPOINTMENT_STATUSES:
            abort(400)
        with engine.begin() as conn:
            row = conn.execute(sa.select(appointment_requests).where(
                appointment_requests.c.id == request_id)).first()
            if row is None:
                abort(404)
            conn.execute(appointment_requests.update()
                         .where(appointment_requests.c.id == request_id)
                         .values(status=status, status_changed_by=who(),
                                 status_changed_at=utcnow()))
            audit.record(conn, who(), "appointment_status", row.conversation_id,
                         detail=f"request={request_id} {row.status}->{status}",
                         remote_addr=client_addr())
        flash(f"Request #{request_id}: {APPOINTMENT_STATUSES[status]}.")
        return redirect(url_for("appointments", status=request.form.get("back_status") or None))

    # ---------- overview ----------
    @app.route("/overview")
    def overview():
        refresh()
        try:
            days = min(365, max(7, int(request.args.get("days") or 30)))
        except ValueError:
            days = 30
        with engine.connect() as conn:
            data = queries.overview(conn, tz, days)
        return render_template("overview.html", data=data)

    # ---------- audit log (admins) ----------
    @app.route("/audit")
    def audit_page():
        try:
            page = max(1, int(request.args.get("page") or 1))
        except ValueError:
            page = 1
        with engine.connect() as conn:
            rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc())
                                .limit(AUDIT_PAGE_SIZE).offset((page - 1) * AUDIT_PAGE_SIZE)).all()
        with engine.begin() as conn:
            audit.record(conn, who(), "view_audit", detail=f"page={page}",
                         remote_addr=client_addr())
        return render_template("audit.html", rows=rows, page=page,
                               more=len(rows) == AUDIT_PAGE_SIZE)

    # ---------- users (admins) ----------
    @app.route("/users")
    def users_page():
        with engine.begin() as conn:
            audit.record(conn, who(), "view_users", remote_addr=client_addr())
        return render_template("users.html", users=auth.list_users(engine),
                               role_help=auth.ROLE_HELP)

    @app.route("/users/<int:user_id>", methods=["POST"])
    def user_update(user_id: int):
        with engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        if row is None:
            abort(404)
        action = request.form.get("action") or ""
        if row.id == current_user.id:
            flash("You cannot change your own account here (ask another admin, or use the CLI).")
            return redirect(url_for("users_page"))
        if action == "disable":
            auth.set_active(engine, row.username, False)
            detail = "disabled"
        elif action == "enable":
            auth.set_active(engine, row.username, True)
            detail = "enabled"
        elif action == "role" and request.form.get("role") in auth.ROLES:
            auth.set_role(engine, row.username, request.form["role"])
            detail = f"role {row.role}->{request.form['role']}"
        else:
            abort(400)
        with engine.begin() as conn:
            audit.record(conn, who(), "user_" + action, detail=f"user={row.username} {detail}",
                         remote_addr=client_addr())
        flash(f"{row.username}: {detail}.")
        return redirect(url_for("users_page"))

    return app
