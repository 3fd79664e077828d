"""Security review #10 (OWASP ASVS L2), finding 2, over HTTP: the lock-out after five
failed logins for a user name, and the login limits per address and overall.

The database is the synthetic one of conftest.py `db` (no Rasa server). Time moves
through the app's injected clock, never by sleeping. Password hashes are the real
ones (scrypt, N = 2^17), so each login takes a second or two here; logged-in
cookies are reused where a test is not about logging in.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests
import sqlalchemy as sa

from console_helpers import PASSWORDS, Clock, audit_rows, csrf_token, live_server, login, make_app


def test_parallel_wrong_passwords_lock_the_account_after_five(db):
    """20 wrong passwords at once through the real server (8 threads): each is counted,
    exactly 5 passwords are checked, the lock is not lost; then even the right
    password is refused until the lock expires."""
    from console import accounts
    from console.db import login_throttle

    accounts.create_user(db.engine, "lou", "a decent passphrase for lockouts", role="reviewer")
    clock = Clock()
    app = make_app(db, clock, CONSOLE_LOGIN_FAILURES_PER_IP="100")

    def attempt(i):
        with requests.Session() as s:
            token = csrf_token(s.get(f"{url}/login", timeout=60).text)
            started = time.monotonic()
            r = s.post(
                f"{url}/login",
                data={"username": "lou", "password": f"wrong guess {i}", "csrf_token": token},
                allow_redirects=False,
                timeout=180,
            )
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
        row = conn.execute(
            sa.select(login_throttle).where(login_throttle.c.username == "lou")
        ).first()
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
    app = make_app(
        db,
        clock,
        CONSOLE_TRUSTED_PROXIES="1",
        CONSOLE_LOGIN_FAILURES_PER_IP="3",
        CONSOLE_LOGIN_FAILURES_GLOBAL="6",
        CONSOLE_LOGIN_WINDOW_MINUTES="15",
    )
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
        assert (
            conn.execute(
                sa.select(login_throttle).where(login_throttle.c.username == "ghost-a9")
            ).first()
            is None
        )
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
