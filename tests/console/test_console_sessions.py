"""Security review #10 (OWASP ASVS L2), finding 3, over HTTP: server-side sessions
(logout, idle and absolute limits, revocation) and Secure cookies with HSTS.

The database is the synthetic one of conftest.py `db` (no Rasa server). Time moves
through the app's injected clock, never by sleeping. Password hashes are the real
ones (scrypt, N = 2^17), so each login takes a second or two here; logged-in
cookies are reused where a test is not about logging in.
"""

from __future__ import annotations

from console_helpers import PASSWORDS, Clock, csrf_token, login, make_app, run_cli


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
    from console import accounts, totp

    accounts.create_user(db.engine, "vic", "the first good passphrase", role="reviewer")
    app = make_app(db)

    def logged_in_client():
        c = app.test_client()
        assert login(c, "vic", current["password"]).status_code == 302
        assert c.get("/conversations").status_code == 200
        return c

    current = {"password": "the first good passphrase"}
    client = logged_in_client()
    result = run_cli(
        db.env,
        "create-user",
        "vic",
        "--update",
        "--password-stdin",
        stdin="the second good passphrase\n",
    )
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
    accounts.set_totp(db.engine, "vic", totp.new_totp_secret())
    assert client.get("/conversations").status_code == 302


def test_secure_cookies_and_hsts_over_https(db):
    # public address https: Secure + HSTS, although `make run` exports CONSOLE_SECURE_COOKIES=false
    app = make_app(
        db, CONSOLE_PUBLIC_URL="https://console.example.org", CONSOLE_SECURE_COOKIES="false"
    )
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
    response = app.test_client().get(
        "/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    )
    assert "Secure" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in response.headers
