"""Logging in to the console over the database written by the real Rasa server
(conftest.py `assistant_db`): every page needs a login, cookies, the secret key,
wrong passwords and the lock-out, CSRF, and creating users with the CLI."""

from __future__ import annotations

import datetime as dt
import stat

from console_helpers import PASSWORD, assert_audit, csrf_token, login, run_cli, summary_id

SAMPLE_ARGS = {
    "summary_id": 1,
    "request_id": 1,
    "user_id": 1,
    "item_id": 1,
    "theme_id": 1,
    "session_id": 1,
    "filename": "console.css",
}


def test_every_page_requires_login(app):
    anonymous = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in {"static", "auth.login"}:
            continue
        url = rule.build({k: v for k, v in SAMPLE_ARGS.items() if k in rule.arguments})[1]
        if "GET" in rule.methods:
            response = anonymous.get(url)
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/login"), url
            assert b"Maria" not in response.data
        if "POST" in rule.methods:
            # with a valid CSRF token (from the login page) but no login: refused
            token = csrf_token(anonymous.get("/login").text)
            response = anonymous.post(
                url,
                data={
                    "csrf_token": token,
                    "status": "closed",
                    "intent": "greet",
                    "event_id": "1",
                    "action": "disable",
                },
            )
            assert response.status_code == 401, url
        checked += 1
    assert checked >= 9


def test_login_logout_and_cookie_flags(app, engine):
    c = app.test_client()
    response = login(c)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert c.get("/conversations").status_code == 200
    token = csrf_token(c.get("/conversations").text)
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/conversations").status_code == 302
    assert_audit(engine, "alice", "logout")


def test_secure_cookies_are_configurable(console_env):
    from console.app import create_app
    from console.settings import load_console_settings

    settings = load_console_settings(dict(console_env, CONSOLE_SECURE_COOKIES="true"))
    secure_app = create_app(settings)
    c = secure_app.test_client()
    response = login(c)
    assert "Secure" in response.headers["Set-Cookie"]


def test_secret_key_is_generated_once_with_0600(tmp_path, console_env):
    from console.settings import load_console_settings

    env = {k: v for k, v in console_env.items() if k != "CONSOLE_SECRET_KEY"}
    env["CONSOLE_VAR_DIR"] = str(tmp_path / "var")
    settings = load_console_settings(env)
    key = settings.secret_key()
    path = tmp_path / "var" / "console_secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 64 and settings.secret_key() == key


def test_wrong_password_is_refused(app, engine):
    c = app.test_client()
    response = login(c, password="not the password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert c.get("/conversations").status_code == 302
    assert_audit(engine, "alice", "login_invalid")


def test_lock_out_after_five_failed_logins(app, engine, console_env):
    from console import accounts
    from console.db import login_throttle

    accounts.create_user(engine, "bob", PASSWORD)
    c = app.test_client()
    for attempt in range(4):
        assert "Wrong user name" in login(c, "bob", f"wrong-{attempt}").text
    response = login(c, "bob", "wrong-5")
    assert response.status_code == 401 and "locked" in response.text
    # the right password does not help while locked
    response = login(c, "bob", PASSWORD)
    assert response.status_code == 401 and "locked" in response.text
    # unknown user names lock the same way (no hint which names exist)
    for attempt in range(5):
        response = login(c, "nobody-here", f"wrong-{attempt}")
    assert "locked" in response.text
    # when the lock expires, the right password works again
    with engine.begin() as conn:
        conn.execute(
            login_throttle.update()
            .where(login_throttle.c.username == "bob")
            .values(locked_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        )
    assert login(c, "bob", PASSWORD).status_code == 302
    assert_audit(engine, "bob", "login_locked")


def test_post_without_csrf_token_is_rejected(app, client, engine):
    sid = summary_id(engine, "t-topic")
    response = client.post(f"/conversations/{sid}/review", data={"reviewed": "1"})
    assert response.status_code == 400
    response = client.post(
        f"/conversations/{sid}/review", data={"reviewed": "1", "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert (
        app.test_client()
        .post("/login", data={"username": "alice", "password": PASSWORD})
        .status_code
        == 400
    )
    assert client.post("/logout").status_code == 400


def test_create_user_cli(console_env):
    result = run_cli(
        console_env, "create-user", "carol", "--password-stdin", stdin="a long enough password\n"
    )
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout
    short = run_cli(console_env, "create-user", "dave", "--password-stdin", stdin="short\n")
    assert short.returncode != 0 and "at least" in short.stderr
    again = run_cli(
        console_env, "create-user", "carol", "--password-stdin", stdin="a long enough password\n"
    )
    assert again.returncode != 0 and "already exists" in again.stderr
