"""Issue 21, finding 3: two factors required by default for the roles that see
patients' names and phones (admin, callback), enrolment in the console with a QR
code shown only to the user, seeds encrypted at rest with the key outside the
database, and the key rotated by a command. The synthetic database of conftest.py
`db`, with CONSOLE_REQUIRE_2FA at its default (`roles`) where it matters."""

from __future__ import annotations

import re
import stat

import pyotp
import pytest
import sqlalchemy as sa

from console import accounts
from console_helpers import Clock, audit_rows, csrf_token, login, make_app, run_cli

PASSWORD = "granite osprey velvet"


def stored_seed(db, name):
    from console.db import users

    with db.engine.connect() as conn:
        return conn.execute(sa.select(users.c.totp_secret).where(users.c.username == name)).scalar()


def test_the_default_requires_a_second_factor_for_admin_and_callback():
    from console.settings import load_console_settings

    settings = load_console_settings({})
    assert settings.needs_2fa("admin") and settings.needs_2fa("callback")
    assert not settings.needs_2fa("reviewer")
    assert not load_console_settings({"CONSOLE_REQUIRE_2FA": "off"}).needs_2fa("admin")
    assert load_console_settings({"CONSOLE_REQUIRE_2FA": "all"}).needs_2fa("reviewer")
    with pytest.raises(ValueError):
        load_console_settings({"CONSOLE_REQUIRE_2FA": "root"})
    from deploy_helpers import ENV_EXAMPLE

    assert "CONSOLE_REQUIRE_2FA=roles" in ENV_EXAMPLE.read_text().splitlines()


def enrol_in_the_console(client, clock):
    page = client.get("/account/2fa")
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and "<script" not in html.split("<main>")[1]
    assert not re.search(r'<img[^>]+src="(?!data:)', html)  # nothing fetched from elsewhere
    secret = re.search(r'class="totp-key">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    wrong = client.post("/account/2fa", data={"csrf_token": csrf_token(html), "code": "000000"})
    assert wrong.status_code == 400
    code = pyotp.TOTP(secret).at(clock.now)
    done = client.post("/account/2fa", data={"csrf_token": csrf_token(html), "code": code})
    assert done.status_code == 302 and done.headers["Location"].startswith("/login")
    return secret


def test_an_admin_without_a_second_factor_can_only_enrol_one(db):
    accounts.create_user(db.engine, "vera", PASSWORD, role="admin", update=True)
    accounts.set_totp(db.engine, "vera", None)
    clock = Clock()
    app = make_app(db, clock, CONSOLE_REQUIRE_2FA="roles")  # the default
    client = app.test_client()
    response = login(client, "vera", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account/2fa"
    for page in ("/conversations", "/appointments", "/audit", "/users", "/account"):
        assert client.get(page).headers.get("Location") == "/account/2fa", page
    token = csrf_token(client.get("/account/2fa").text)
    assert client.post("/conversations.csv", data={"csrf_token": token}).status_code == 403

    secret = enrol_in_the_console(client, clock)
    assert audit_rows(db.engine, "totp_enrolled", username="vera")
    # stored encrypted: neither the seed nor its base32 appears in the database
    seed = stored_seed(db, "vera")
    assert seed.startswith("enc:v1:") and secret not in seed
    # now the password alone is refused and the code lets her in to every page
    assert login(app.test_client(), "vera", PASSWORD).status_code == 401
    clock.advance(seconds=30)
    full = app.test_client()
    code = pyotp.TOTP(secret).at(clock.now)
    assert login(full, "vera", PASSWORD, code=code).status_code == 302
    assert full.get("/audit").status_code == 200


def test_seeds_are_encrypted_with_a_key_outside_the_database_and_rotated(db, tmp_path):
    from console.settings import load_console_settings
    from console.totp import SeedBox, SeedError

    settings = load_console_settings(db.env)
    keys = settings.totp_keys()
    key_file = settings.totp_key_file
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = pyotp.random_base32()
    accounts.create_user(db.engine, "wes", PASSWORD, role="callback", update=True)
    accounts.set_totp(db.engine, "wes", SeedBox(keys).seal(secret))
    before = stored_seed(db, "wes")
    with pytest.raises(SeedError):
        SeedBox(["another key entirely, 32+ chars long"]).open(before)

    rotated = run_cli(db.env, "rotate-totp-key")
    assert rotated.returncode == 0, rotated.stderr
    after = stored_seed(db, "wes")
    assert after != before and after.startswith("enc:v1:")
    new_keys = load_console_settings(db.env).totp_keys()
    assert new_keys != keys and len(new_keys) == 1
    assert SeedBox(new_keys).open(after) == secret
    with pytest.raises(SeedError):
        SeedBox(keys).open(after)  # the old key no longer opens it
    # the code still works after the rotation
    clock = Clock()
    app = make_app(db, clock)
    code = pyotp.TOTP(secret).at(clock.now)
    assert login(app.test_client(), "wes", PASSWORD, code=code).status_code == 302


def test_a_seed_stored_in_clear_by_an_older_console_is_encrypted(db):
    from console.settings import load_console_settings
    from console.totp import SeedBox

    secret = pyotp.random_base32()
    accounts.create_user(db.engine, "xan", PASSWORD, role="reviewer", update=True)
    accounts.set_totp(db.engine, "xan", secret)  # as the console before issue 21 stored it
    box = SeedBox(load_console_settings(db.env).totp_keys())
    assert accounts.reseal_totp_seeds(db.engine, box) >= 1
    sealed = stored_seed(db, "xan")
    assert sealed.startswith("enc:v1:") and box.open(sealed) == secret
