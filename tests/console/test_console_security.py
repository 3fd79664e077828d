"""Security review #10 (OWASP ASVS L2), findings 2, 3, 4, 9, 10 and 11, over HTTP.

The database is synthetic (console/synthetic.py, no Rasa server): a few
conversations and one appointment request with a known phone number. Time moves
through the app's injected clock, never by sleeping. Password hashes are the real
ones (scrypt, N = 2^17), so each login takes a second or two here; logged-in
cookies are reused where a test is not about logging in.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa

from console_helpers import PROJECT_ROOT, csrf_token, run_cli

PASSWORDS = {
    "ada": "keeps the whole console safe",      # admin
    "rita": "reviews the transcripts daily",    # reviewer
    "cal": "calls patients back every morning",  # callback
}
APPT_PHONE = "(415) 555-0188"
APPT_NAME = "Rosa Quintero"


class Clock:
    """The app's "now" (UTC); tests move it forward."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from console import auth, synthetic
    from console.db import appointment_requests, engine_for, utcnow
    workdir = tmp_path_factory.mktemp("console-security")
    url = f"sqlite:///{workdir / 'console.db'}"
    engine = engine_for(url)
    synthetic.ensure_events_table(engine)
    now = time.time()
    synthetic.insert_conversation(engine, "s-topic", now - 3600, "topic")
    synthetic.insert_conversation(engine, "s-fallback", now - 3000, "fallback")
    synthetic.insert_conversation(engine, "s-appt", now - 2000, "appointment")
    with engine.begin() as conn:
        request_id = conn.execute(appointment_requests.insert().values(
            created_at=utcnow(), conversation_id="s-appt", channel="rest",
            patient_name=APPT_NAME, phone=APPT_PHONE, preferred_time="mornings",
            reason="heel pain", consent=True, status="new")).inserted_primary_key[0]
    for name, role in (("ada", "admin"), ("rita", "reviewer"), ("cal", "callback")):
        auth.create_user(engine, name, PASSWORDS[name], role=role)
    env = {"DATABASE_URL": url, "CONSOLE_SECRET_KEY": "security-test-key",
           "CONSOLE_VAR_DIR": str(workdir / "var"), "CONSOLE_TIMEZONE": "America/Los_Angeles"}
    return SimpleNamespace(url=url, engine=engine, env=env, workdir=workdir,
                           request_id=request_id, cookies={})


def make_app(db, clock=None, **env):
    from console.app import create_app
    from console.settings import load_console_settings
    app = create_app(load_console_settings({**db.env, **env}), refresh_min_seconds=0,
                     clock=clock)
    app.config["TESTING"] = True
    return app


def login(client, username, password, code=None, headers=None):
    token = csrf_token(client.get("/login", headers=headers).text)
    data = {"username": username, "password": password, "csrf_token": token}
    if code is not None:
        data["code"] = code
    return client.post("/login", data=data, headers=headers)


def client_as(db, app, username):
    """A test client logged in as `username` (the session cookie is reused across apps:
    same database and secret key)."""
    client = app.test_client()
    if username not in db.cookies:
        response = login(client, username, PASSWORDS[username])
        assert response.status_code == 302, response.text
        db.cookies[username] = client.get_cookie("console_session").value
    else:
        client.set_cookie("console_session", db.cookies[username])
    return client


def summary_id(engine, sender_id):
    from console import summaries
    from console.db import conversation_summaries as cs
    summaries.refresh(engine)
    with engine.connect() as conn:
        return conn.execute(sa.select(cs.c.id).where(cs.c.sender_id == sender_id)).scalar()


def audit_rows(engine, action, **where):
    from console.db import audit_log
    query = sa.select(audit_log).where(audit_log.c.action == action)
    for key, value in where.items():
        query = query.where(getattr(audit_log.c, key) == value)
    with engine.connect() as conn:
        return conn.execute(query.order_by(audit_log.c.id)).all()


def user_row(engine, username):
    from console.db import users
    with engine.connect() as conn:
        return conn.execute(sa.select(users).where(users.c.username == username)).first()


@contextlib.contextmanager
def live_server(app, threads=8):
    """The app under waitress on a free loopback port, in this process; closed after."""
    from waitress.server import create_server
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, ident="console-test")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(10)


# ------------------------------------------------------- finding 2: lock-out, limits

def test_parallel_wrong_passwords_lock_the_account_after_five(db):
    """20 wrong passwords at once through the real server (8 threads): each is counted,
    exactly 5 passwords are checked, the lock is not lost; then even the right
    password is refused until the lock expires."""
    from console import auth
    from console.db import login_throttle
    auth.create_user(db.engine, "lou", "a decent passphrase for lockouts", role="reviewer")
    clock = Clock()
    app = make_app(db, clock, CONSOLE_LOGIN_FAILURES_PER_IP="100")

    def attempt(i):
        with requests.Session() as s:
            token = csrf_token(s.get(f"{url}/login", timeout=60).text)
            started = time.monotonic()
            r = s.post(f"{url}/login", data={"username": "lou", "password": f"wrong guess {i}",
                                             "csrf_token": token},
                       allow_redirects=False, timeout=180)
            return r.status_code, r.text, time.monotonic() - started

    with live_server(app) as url:
        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(attempt, range(20)))
    statuses = [r[0] for r in results]
    assert statuses == [401] * 20, statuses
    wrong = sum("Wrong user name or password" in text for _, text, _ in results)
    locked = sum("locked for up to 15 minutes" in text for _, text, _ in results)
    assert (wrong, locked) == (4, 16), (wrong, locked)
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(login_throttle).where(login_throttle.c.username == "lou")).first()
    assert row.locked_until is not None
    assert len(audit_rows(db.engine, "login_invalid", username="lou")) == 4
    assert len(audit_rows(db.engine, "login_locked", username="lou")) == 16

    client = app.test_client()
    response = login(client, "lou", "a decent passphrase for lockouts")
    assert response.status_code == 401 and "locked" in response.text
    clock.advance(minutes=14)
    assert login(client, "lou", "a decent passphrase for lockouts").status_code == 401
    clock.advance(minutes=2)
    assert login(client, "lou", "a decent passphrase for lockouts").status_code == 302


def test_login_limits_per_address_and_overall_answer_429_at_once(db):
    from console.db import login_throttle
    clock = Clock()
    app = make_app(db, clock, CONSOLE_TRUSTED_PROXIES="1", CONSOLE_LOGIN_FAILURES_PER_IP="3",
                   CONSOLE_LOGIN_FAILURES_GLOBAL="6", CONSOLE_LOGIN_WINDOW_MINUTES="15")
    client = app.test_client()

    def attempt(ip, name, password="not the password"):
        started = time.monotonic()
        response = login(client, name, password, headers={"X-Forwarded-For": ip})
        return response, time.monotonic() - started

    for i in range(3):
        assert attempt("198.51.100.1", f"ghost-a{i}")[0].status_code == 401
    response, elapsed = attempt("198.51.100.1", "ghost-a9")
    assert response.status_code == 429, response.text
    assert "Too many failed logins from this address" in response.text
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < 0.5  # no password check, no sleep (a check alone takes about 1 s here)
    with db.engine.connect() as conn:  # the refused attempt never reached the user name
        assert conn.execute(sa.select(login_throttle)
                            .where(login_throttle.c.username == "ghost-a9")).first() is None
    assert audit_rows(db.engine, "login_rate_limited", remote_addr="198.51.100.1")

    # other addresses go on until all failures together reach the global limit
    for i in range(3):
        assert attempt("198.51.100.2", f"ghost-b{i}")[0].status_code == 401
    response, elapsed = attempt("198.51.100.3", "rita", PASSWORDS["rita"])
    assert response.status_code == 429 and elapsed < 0.5
    assert "Too many failed logins." in response.text

    clock.advance(minutes=16)  # the window has passed
    assert attempt("198.51.100.1", "rita", PASSWORDS["rita"])[0].status_code == 302


def test_a_successful_login_gives_its_slot_back(db):
    app = make_app(db, Clock(), CONSOLE_LOGIN_FAILURES_PER_IP="2")
    client = app.test_client()
    assert login(client, "ghost-c", "not the password").status_code == 401
    assert login(client, "ada", PASSWORDS["ada"]).status_code == 302
    other = app.test_client()
    assert login(other, "ghost-c", "not the password").status_code == 401  # 2nd failure: allowed
    assert login(other, "ghost-c", "not the password").status_code == 429


# ------------------------------------------------------- finding 3: sessions

def test_a_copied_cookie_is_refused_after_logout(db):
    app = make_app(db)
    client = app.test_client()
    assert login(client, "rita", PASSWORDS["rita"]).status_code == 302
    stolen = client.get_cookie("console_session").value
    thief = app.test_client()
    thief.set_cookie("console_session", stolen)
    assert thief.get("/conversations").status_code == 200
    token = csrf_token(client.get("/conversations").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    response = thief.get("/conversations")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "Your session has ended" in thief.get(response.headers["Location"]).text


def test_idle_sessions_end_after_30_minutes(db):
    clock = Clock()
    app = make_app(db, clock)
    client = app.test_client()
    assert login(client, "rita", PASSWORDS["rita"]).status_code == 302
    clock.advance(minutes=29)
    assert client.get("/conversations").status_code == 200
    clock.advance(minutes=29)  # 29 min since the last request: still fine
    assert client.get("/overview").status_code == 200
    clock.advance(minutes=30, seconds=1)
    response = client.get("/conversations")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    clock.advance(seconds=1)
    assert client.get("/conversations").status_code == 302  # and it stays ended


def test_sessions_end_12_hours_after_login_even_when_active(db):
    clock = Clock()
    app = make_app(db, clock)
    client = app.test_client()
    assert login(client, "rita", PASSWORDS["rita"]).status_code == 302
    for _ in range(28):  # a request every 25 minutes: 11 h 40 min
        clock.advance(minutes=25)
        assert client.get("/overview").status_code == 200
    clock.advance(minutes=20)  # 12 h after the login
    response = client.get("/overview")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_password_change_disable_and_second_factor_end_sessions(db):
    from console import auth
    auth.create_user(db.engine, "vic", "the first good passphrase", role="reviewer")
    app = make_app(db)

    def logged_in_client():
        c = app.test_client()
        assert login(c, "vic", current["password"]).status_code == 302
        assert c.get("/conversations").status_code == 200
        return c

    current = {"password": "the first good passphrase"}
    client = logged_in_client()
    result = run_cli(db.env, "create-user", "vic", "--update", "--password-stdin",
                     stdin="the second good passphrase\n")
    assert result.returncode == 0, result.stderr
    assert client.get("/conversations").status_code == 302
    current["password"] = "the second good passphrase"
    client = logged_in_client()
    result = run_cli(db.env, "disable-user", "vic")
    assert result.returncode == 0 and "disabled" in result.stdout, result.stderr
    assert client.get("/conversations").status_code == 302
    assert login(app.test_client(), "vic", current["password"]).status_code == 401
    assert run_cli(db.env, "enable-user", "vic").returncode == 0
    client = logged_in_client()
    auth.set_totp(db.engine, "vic", auth.new_totp_secret())
    assert client.get("/conversations").status_code == 302


def test_secure_cookies_and_hsts_over_https(db):
    # public address https: Secure + HSTS, although `make run` exports CONSOLE_SECURE_COOKIES=false
    app = make_app(db, CONSOLE_PUBLIC_URL="https://console.example.org",
                   CONSOLE_SECURE_COOKIES="false")
    response = app.test_client().get("/login", base_url="https://console.example.org")
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    # plain HTTP by default; a forged X-Forwarded-Proto is ignored without a trusted proxy
    app = make_app(db)
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers
    # behind one trusted proxy that ends TLS
    app = make_app(db, CONSOLE_TRUSTED_PROXIES="1")
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https",
                                                        "X-Forwarded-For": "203.0.113.9"})
    assert "Secure" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in response.headers


# ------------------------------------------------------- finding 4: passwords, 2FA

def test_password_policy(db):
    too_short = run_cli(db.env, "create-user", "pat", "--password-stdin", stdin="elevenchars\n")
    assert too_short.returncode != 0 and "at least 12 characters" in too_short.stderr
    common = run_cli(db.env, "create-user", "pat", "--password-stdin", stdin="Password1234\n")
    assert common.returncode != 0 and "most common passwords" in common.stderr
    spaced = run_cli(db.env, "create-user", "pat", "--password-stdin", stdin="qwerty 123456\n")
    assert spaced.returncode != 0 and "most common passwords" in spaced.stderr
    with_name = run_cli(db.env, "create-user", "patricia", "--password-stdin",
                        stdin="patricia's own words\n")
    assert with_name.returncode != 0 and "user name" in with_name.stderr
    ok = run_cli(db.env, "create-user", "pat", "--password-stdin", stdin="twelve chars\n")
    assert ok.returncode == 0, ok.stderr
    assert "role reviewer" in ok.stdout  # least privilege unless --role says otherwise


def test_the_bundled_common_password_list():
    from console.passwords import COMMON_PASSWORDS_FILE, common_passwords
    header = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").split("\n123456\n")[0]
    assert "zxcvbn 4.5.0" in header and "MIT License" in header
    assert len(common_passwords()) == 30000
    assert {"password", "qwertyuiop123", "1qaz2wsx3edc"} <= common_passwords()


def test_new_hashes_are_scrypt_with_n_2_17(db):
    import hashlib
    stored = user_row(db.engine, "ada").password_hash
    method, salt, digest = stored.split("$")
    assert method == "scrypt:131072:8:1"
    assert hashlib.scrypt(PASSWORDS["ada"].encode(), salt=salt.encode(), n=2 ** 17, r=8, p=1,
                          maxmem=2 ** 28, dklen=64).hex() == digest


def test_older_hashes_still_work_and_are_upgraded_at_login(db):
    from werkzeug.security import generate_password_hash
    from console.db import users, utcnow
    old = generate_password_hash("an older staff passphrase")  # werkzeug's scrypt, N = 2^15
    assert old.startswith("scrypt:32768:")
    with db.engine.begin() as conn:
        conn.execute(users.insert().values(username="olga", password_hash=old, role="reviewer",
                                           created_at=utcnow(), is_active=True))
    app = make_app(db)
    assert login(app.test_client(), "olga", "an older staff passphrase").status_code == 302
    assert user_row(db.engine, "olga").password_hash.startswith("scrypt:131072:8:1$")
    assert login(app.test_client(), "olga", "an older staff passphrase").status_code == 302


def enroll_totp_via_cli(env, username):
    """`python -m console enroll-totp NAME`: read the secret it prints, answer with a code."""
    import pyotp
    proc = subprocess.Popen([sys.executable, "-m", "console", "enroll-totp", username],
                            cwd=PROJECT_ROOT, env=dict(os.environ, **env), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    secret = None
    try:
        while secret is None:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            match = re.search(r"Secret for \S+: ([A-Z2-7]+)", line)
            secret = match and match.group(1)
        out, err = proc.communicate(pyotp.TOTP(secret).now() + "\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Second factor enrolled" in out
    return secret


def test_second_factor_required_and_enrolled_via_the_cli(db):
    import pyotp
    from console import auth
    auth.create_user(db.engine, "tess", "a strong passphrase with codes", role="reviewer")
    clock = Clock()
    app = make_app(db, clock, CONSOLE_REQUIRE_2FA="true")
    client = app.test_client()
    assert "Code from your authenticator app" in client.get("/login").text
    response = login(client, "tess", "a strong passphrase with codes")
    assert response.status_code == 401 and "Wrong user name, password or code" in response.text
    assert audit_rows(db.engine, "login_no_2fa", username="tess")

    secret = enroll_totp_via_cli(db.env, "tess")
    totp = pyotp.TOTP(secret)
    assert login(client, "tess", "a strong passphrase with codes", code="000000").status_code == 401
    code = totp.at(clock.now)
    assert login(client, "tess", "a strong passphrase with codes", code=code).status_code == 302
    # the same code cannot be used twice, even from another browser
    assert login(app.test_client(), "tess", "a strong passphrase with codes",
                 code=code).status_code == 401
    clock.advance(seconds=30)
    assert login(app.test_client(), "tess", "a strong passphrase with codes",
                 code=totp.at(clock.now)).status_code == 302
    # enrolled users need the code even where 2FA is not required for everyone
    plain = make_app(db, clock)
    assert login(plain.test_client(), "tess", "a strong passphrase with codes").status_code == 401
    clock.advance(seconds=30)
    assert login(plain.test_client(), "tess", "a strong passphrase with codes",
                 code=totp.at(clock.now)).status_code == 302


# ------------------------------------------------------- finding 9: audit

def test_list_and_search_views_are_audited_with_the_query_masked(db):
    app = make_app(db)
    client = client_as(db, app, "ada")
    assert client.get("/conversations?fallback=1").status_code == 200
    row = audit_rows(db.engine, "view_list", username="ada")[-1]
    detail = json.loads(row.detail)
    assert detail["fallback"] == "1" and detail["shown"] == [summary_id(db.engine, "s-fallback")]
    assert client.get("/conversations?q=415+555+0188+maria%40example.com").status_code == 200
    row = audit_rows(db.engine, "search", username="ada")[-1]
    assert "<phone>" in row.detail and "<email>" in row.detail
    assert "555" not in row.detail and "maria@" not in row.detail


def test_the_appointment_requests_shown_are_audited(db):
    app = make_app(db)
    client = client_as(db, app, "cal")
    page = client.get("/appointments").text
    assert APPT_PHONE in page
    rows = audit_rows(db.engine, "view_appointment", username="cal", sender_id="s-appt")
    assert rows and rows[-1].detail == f"request={db.request_id} status=new"


def test_audit_log_is_for_admins_only_and_its_views_are_audited(db):
    app = make_app(db)
    typo = "rita-typed-her-passphrase-here"  # failed-login names often hold passwords
    assert login(app.test_client(), typo, "whatever it was").status_code == 401
    reviewer = client_as(db, app, "rita")
    assert reviewer.get("/audit").status_code == 403
    for page in ("/conversations", "/overview", f"/conversations/{summary_id(db.engine, 's-topic')}"):
        assert typo not in reviewer.get(page).text
    admin = client_as(db, app, "ada")
    page = admin.get("/audit").text
    assert typo in page
    assert audit_rows(db.engine, "view_audit", username="ada")


def test_client_address_behind_a_trusted_proxy(db):
    headers = {"X-Forwarded-For": "203.0.113.7"}
    app = make_app(db)  # no trusted proxy: the header is ignored
    assert login(app.test_client(), "ghost-ip1", "not the password",
                 headers=headers).status_code == 401
    assert audit_rows(db.engine, "login_invalid", username="ghost-ip1")[-1].remote_addr == "127.0.0.1"
    app = make_app(db, CONSOLE_TRUSTED_PROXIES="1")
    assert login(app.test_client(), "ghost-ip2", "not the password",
                 headers=headers).status_code == 401
    assert audit_rows(db.engine, "login_invalid", username="ghost-ip2")[-1].remote_addr == "203.0.113.7"


def test_export_is_a_post_with_a_csrf_token(db):
    app = make_app(db)
    client = client_as(db, app, "ada")
    assert client.get("/conversations.csv").status_code == 405  # a cross-site link does nothing
    assert client.post("/conversations.csv", data={"fallback": "1"}).status_code == 400
    page = client.get("/conversations").text
    assert 'id="export-form"' in page and 'method="post"' in page
    response = client.post("/conversations.csv",
                           data={"fallback": "1", "csrf_token": csrf_token(page)})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["conversation"] for r in rows] == ["s-fallback"]
    assert audit_rows(db.engine, "export_csv", username="ada", sender_id="s-fallback")


def test_audit_hash_chain_detects_tampering(db, tmp_path):
    from console.db import audit_log
    app = make_app(db)
    client = client_as(db, app, "ada")
    for page in range(12):  # at least a dozen rows
        client.get(f"/conversations?page={page + 1}")
    ok = run_cli(db.env, "verify-audit")
    assert ok.returncode == 0 and "Audit log intact" in ok.stdout, ok.stderr
    with db.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.select(audit_log.c.id).order_by(audit_log.c.id))]
    assert len(ids) > 10
    source = db.workdir / "console.db"

    def tampered(name, *statements):
        copy = tmp_path / f"{name}.db"
        shutil.copy(source, copy)
        engine = sa.create_engine(f"sqlite:///{copy}")
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
        engine.dispose()
        return run_cli(dict(db.env, DATABASE_URL=f"sqlite:///{copy}"), "verify-audit")

    middle = ids[len(ids) // 2]
    edited = tampered("edited", f"UPDATE console_audit_log SET username = 'someone-else' "
                                f"WHERE id = {middle}")
    assert edited.returncode == 1 and f"row {middle} does not match" in edited.stderr
    removed = tampered("removed", f"DELETE FROM console_audit_log WHERE id = {middle}")
    assert removed.returncode == 1 and f"row {ids[ids.index(middle) + 1]} does not match" in removed.stderr
    cut = tampered("cut", f"DELETE FROM console_audit_log WHERE id = {ids[-1]}")
    assert cut.returncode == 1 and "rows at the end were removed" in cut.stderr
    # Deleting the chain's head too does not make the console re-chain (and so bless)
    # the edited row when it starts again: the head is rebuilt, the row still fails.
    headless = tampered("headless",
                        f"UPDATE console_audit_log SET detail = 'nothing' WHERE id = {middle}",
                        "DELETE FROM console_meta WHERE key = 'audit_chain_head'")
    assert headless.returncode == 1 and f"row {middle} does not match" in headless.stderr


# ------------------------------------------------------- finding 10: roles

ROLE_MATRIX = {
    # (method, url key): expected status for reviewer, callback, admin
    ("GET", "list"): (200, 403, 200),
    ("GET", "transcript"): (200, 403, 200),
    ("POST", "review"): (302, 403, 302),
    ("POST", "correct"): (302, 403, 302),
    ("GET", "overview"): (200, 403, 200),
    ("GET", "appointments"): (403, 200, 200),
    ("POST", "appointment_status"): (403, 302, 302),
    ("POST", "export"): (403, 403, 200),
    ("GET", "audit"): (403, 403, 200),
    ("GET", "users"): (403, 403, 200),
    ("POST", "user_update"): (403, 403, 302),
}


@pytest.mark.parametrize("role_index,username", [(0, "rita"), (1, "cal"), (2, "ada")])
def test_roles_over_http(db, role_index, username):
    from console.db import events
    app = make_app(db)
    client = client_as(db, app, username)
    sid = summary_id(db.engine, "s-appt")
    with db.engine.connect() as conn:
        event_id = conn.execute(sa.select(events.c.id).where(events.c.sender_id == "s-appt")
                                .where(events.c.type_name == "user")).scalars().first()
    token = csrf_token(_any_page(client))
    urls = {
        "list": "/conversations", "transcript": f"/conversations/{sid}",
        "review": f"/conversations/{sid}/review", "correct": f"/conversations/{sid}/correct",
        "overview": "/overview", "appointments": "/appointments",
        "appointment_status": f"/appointments/{db.request_id}/status",
        "export": "/conversations.csv", "audit": "/audit", "users": "/users",
        "user_update": f"/users/{user_row(db.engine, 'rita').id}",  # role reviewer: unchanged
    }
    form = {"csrf_token": token, "reviewed": "1", "intent": "greet", "event_id": str(event_id),
            "status": "new", "action": "role", "role": "reviewer"}
    for (method, key), expected in ROLE_MATRIX.items():
        if method == "GET":
            response = client.get(urls[key])
        else:
            response = client.post(urls[key], data=form)
        assert response.status_code == expected[role_index], (username, method, key,
                                                               response.status_code)
    transcript = client.get(f"/conversations/{sid}").text
    appointments = client.get("/appointments").text
    nav = client.get("/").headers["Location"]
    if username == "rita":
        assert "555-0188" not in transcript and 'title="hidden: phone"' in transcript
        assert "see the request" not in transcript and "Appointment requests" not in transcript
        assert "Export CSV" not in client.get("/conversations").text
        assert nav == "/conversations"
    if username == "cal":
        assert APPT_PHONE in appointments and APPT_NAME in appointments
        assert f'href="/conversations/{sid}"' not in appointments
        assert nav == "/appointments"
    if username == "ada":
        assert APPT_PHONE in appointments and "Export CSV" in client.get("/conversations").text
        assert "555-0188" not in transcript  # transcripts stay masked for everyone


def _any_page(client):
    """A page of the console with a CSRF token (every logged-in page has the logout form)."""
    return client.get(client.get("/").headers["Location"]).text


def test_users_are_managed_with_the_cli(db):
    created = run_cli(db.env, "create-user", "cleo", "--role", "callback", "--password-stdin",
                      stdin="answers the phones all day\n")
    assert created.returncode == 0 and "role callback" in created.stdout, created.stderr
    assert run_cli(db.env, "create-user", "x", "--role", "owner", "--password-stdin",
                   stdin="whatever passphrase\n").returncode != 0
    listed = run_cli(db.env, "list-users").stdout
    assert re.search(r"^cleo\s+callback\s+active", listed, re.M)
    app = make_app(db)
    client = app.test_client()
    assert login(client, "cleo", "answers the phones all day").status_code == 302
    assert client.get("/appointments").status_code == 200
    assert run_cli(db.env, "set-role", "cleo", "reviewer").returncode == 0
    assert client.get("/appointments").status_code == 403  # at the next request
    assert run_cli(db.env, "disable-user", "cleo").returncode == 0
    assert client.get("/conversations").status_code == 302
    assert re.search(r"^cleo\s+reviewer\s+disabled", run_cli(db.env, "list-users").stdout, re.M)
    assert audit_rows(db.engine, "user_disable")
    assert run_cli(db.env, "disable-user", "nobody-like-that").returncode != 0


def test_admin_can_disable_a_user_in_the_console(db):
    from console import auth
    auth.create_user(db.engine, "dina", "reads transcripts all day", role="reviewer")
    app = make_app(db)
    dina = app.test_client()
    assert login(dina, "dina", "reads transcripts all day").status_code == 302
    admin = client_as(db, app, "ada")
    page = admin.get("/users").text
    user_id = user_row(db.engine, "dina").id
    assert admin.post(f"/users/{user_id}", data={"csrf_token": csrf_token(page),
                                                 "action": "disable"}).status_code == 302
    assert dina.get("/conversations").status_code == 302
    assert not user_row(db.engine, "dina").is_active
    own = user_row(db.engine, "ada").id  # no locking oneself out
    admin.post(f"/users/{own}", data={"csrf_token": csrf_token(page), "action": "disable"})
    assert user_row(db.engine, "ada").is_active


def test_export_size_is_capped(db):
    app = make_app(db, CONSOLE_EXPORT_MAX_ROWS="2")
    client = client_as(db, app, "ada")
    token = csrf_token(client.get("/conversations").text)
    response = client.post("/conversations.csv", data={"csrf_token": token})
    assert response.status_code == 413 and "at most 2 can be exported" in response.text
    assert audit_rows(db.engine, "export_refused", username="ada")
    response = client.post("/conversations.csv", data={"csrf_token": token, "fallback": "1"})
    assert response.status_code == 200


# ------------------------------------------------------- finding 11: open redirect

@pytest.mark.parametrize("back", ["/\\evil.example", "//evil.example", "https://evil.example/",
                                  "/\t/evil.example", "javascript:alert(1)", "/\\/evil.example",
                                  " /\\evil.example"])
def test_back_link_only_goes_to_this_site(db, back):
    app = make_app(db)
    client = client_as(db, app, "rita")
    sid = summary_id(db.engine, "s-topic")
    page = client.get(f"/conversations/{sid}", query_string={"back": back}).text
    assert 'href="/conversations">&larr; Back to the list' in page
    assert "evil" not in page and "javascript:" not in page
    response = client.post(f"/conversations/{sid}/review", data={
        "csrf_token": csrf_token(page), "reviewed": "1", "back": back})
    assert response.status_code == 302 and "evil" not in response.headers["Location"]


def test_back_link_keeps_the_filtered_list(db):
    app = make_app(db)
    client = client_as(db, app, "rita")
    sid = summary_id(db.engine, "s-topic")
    page = client.get(f"/conversations/{sid}",
                      query_string={"back": "/conversations?fallback=1&page=2"}).text
    assert 'href="/conversations?fallback=1&amp;page=2">&larr; Back to the list' in page


def test_login_next_only_goes_to_this_site(db):
    app = make_app(db)
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    response = client.post("/login?next=/%5Cevil.example", data={
        "username": "rita", "password": PASSWORDS["rita"], "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/conversations"


# ------------------------------------------------------- schema: an older database

OLD_SCHEMA = [
    """CREATE TABLE console_users (id INTEGER PRIMARY KEY, username VARCHAR(120) NOT NULL UNIQUE,
       password_hash VARCHAR(255) NOT NULL, created_at DATETIME NOT NULL, last_login_at DATETIME,
       is_active BOOLEAN NOT NULL)""",
    """CREATE TABLE console_audit_log (id INTEGER PRIMARY KEY, at DATETIME NOT NULL,
       username VARCHAR(120) NOT NULL, action VARCHAR(64) NOT NULL, sender_id VARCHAR(255),
       detail TEXT, remote_addr VARCHAR(64))""",
]


def test_an_older_console_database_is_upgraded_in_place(tmp_path):
    from werkzeug.security import generate_password_hash
    from console import audit
    from console.db import engine_for
    path = tmp_path / "old.db"
    raw = sa.create_engine(f"sqlite:///{path}")
    with raw.begin() as conn:
        for statement in OLD_SCHEMA:
            conn.execute(sa.text(statement))
        conn.execute(sa.text(
            "INSERT INTO console_users (username, password_hash, created_at, is_active) "
            "VALUES ('maria', :h, '2024-05-01 10:00:00.000000', 1)"),
            {"h": generate_password_hash("maria's old console password")})
        for i in range(3):
            conn.execute(sa.text(
                "INSERT INTO console_audit_log (at, username, action, detail) "
                f"VALUES ('2024-05-0{i + 1} 10:00:00.000000', 'maria', 'login', NULL)"))
    raw.dispose()
    url = f"sqlite:///{path}"
    engine = engine_for(url)
    report = audit.verify(engine)
    assert report.ok and report.rows == 3, report
    from types import SimpleNamespace as NS
    old = NS(env={"DATABASE_URL": url, "CONSOLE_SECRET_KEY": "k", "CONSOLE_VAR_DIR": str(tmp_path)})
    app = make_app(old)
    client = app.test_client()
    assert login(client, "maria", "maria's old console password").status_code == 302
    assert client.get("/audit").status_code == 200  # existing accounts keep full access (admin)
    assert audit.verify(engine).ok
