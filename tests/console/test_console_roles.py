"""Security review #10 (OWASP ASVS L2), findings 10 and 11: what each role may see and
do over HTTP, users managed with the CLI and the Users page, the export cap, and
"back" and "next" links that only go to this site.

The database is the synthetic one of conftest.py `db` (no Rasa server). Time moves
through the app's injected clock, never by sleeping. Password hashes are the real
ones (scrypt, N = 2^17), so each login takes a second or two here; logged-in
cookies are reused where a test is not about logging in.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from console_helpers import (
    APPT_NAME,
    APPT_PHONE,
    PASSWORDS,
    audit_rows,
    client_as,
    csrf_token,
    login,
    make_app,
    run_cli,
    summary_id,
    user_row,
)

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
    ("GET", "inbox"): (403, 200, 200),
    ("GET", "inbox_rows"): (403, 200, 200),
    ("POST", "inbox_close"): (403, 302, 302),
}


@pytest.mark.parametrize("role_index,username", [(0, "rita"), (1, "cal"), (2, "ada")])
def test_roles_over_http(db, role_index, username):
    from console.db import events

    app = make_app(db)
    client = client_as(db, app, username)
    sid = summary_id(db.engine, "s-appt")
    with db.engine.connect() as conn:
        event_id = (
            conn.execute(
                sa.select(events.c.id)
                .where(events.c.sender_id == "s-appt")
                .where(events.c.type_name == "user")
            )
            .scalars()
            .first()
        )
    token = csrf_token(_any_page(client))
    urls = {
        "list": "/conversations",
        "transcript": f"/conversations/{sid}",
        "review": f"/conversations/{sid}/review",
        "correct": f"/conversations/{sid}/correct",
        "overview": "/overview",
        "appointments": "/appointments",
        "appointment_status": f"/appointments/{db.request_id}/status",
        "export": "/conversations.csv",
        "audit": "/audit",
        "users": "/users",
        "user_update": f"/users/{user_row(db.engine, 'rita').id}",  # role reviewer: unchanged
        "inbox": "/inbox",
        "inbox_rows": "/inbox/rows",
        "inbox_close": "/inbox/close",
    }
    form = {
        "csrf_token": token,
        "reviewed": "1",
        "intent": "greet",
        "event_id": str(event_id),
        "status": "new",
        "action": "role",
        "role": "reviewer",
    }
    for (method, key), expected in ROLE_MATRIX.items():
        if method == "GET":
            response = client.get(urls[key])
        else:
            response = client.post(urls[key], data=form)
        assert response.status_code == expected[role_index], (
            username,
            method,
            key,
            response.status_code,
        )
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
        assert nav == "/inbox"  # the "Needs action" inbox is the call-back role's home
    if username == "ada":
        assert APPT_PHONE in appointments and "Export CSV" in client.get("/conversations").text
        assert "555-0188" not in transcript  # transcripts stay masked for everyone


def _any_page(client):
    """A page of the console with a CSRF token (every logged-in page has the logout form)."""
    return client.get(client.get("/").headers["Location"]).text


def test_users_are_managed_with_the_cli(db):
    created = run_cli(
        db.env,
        "create-user",
        "cleo",
        "--role",
        "callback",
        "--password-stdin",
        stdin="answers the phones all day\n",
    )
    assert created.returncode == 0 and "role callback" in created.stdout, created.stderr
    assert (
        run_cli(
            db.env,
            "create-user",
            "x",
            "--role",
            "owner",
            "--password-stdin",
            stdin="whatever passphrase\n",
        ).returncode
        != 0
    )
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
    from console import accounts

    accounts.create_user(db.engine, "dina", "reads transcripts all day", role="reviewer")
    app = make_app(db)
    dina = app.test_client()
    assert login(dina, "dina", "reads transcripts all day").status_code == 302
    admin = client_as(db, app, "ada")
    page = admin.get("/users").text
    user_id = user_row(db.engine, "dina").id
    assert (
        admin.post(
            f"/users/{user_id}", data={"csrf_token": csrf_token(page), "action": "disable"}
        ).status_code
        == 302
    )
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


@pytest.mark.parametrize(
    "back",
    [
        "/\\evil.example",
        "//evil.example",
        "https://evil.example/",
        "/\t/evil.example",
        "javascript:alert(1)",
        "/\\/evil.example",
        " /\\evil.example",
    ],
)
def test_back_link_only_goes_to_this_site(db, back):
    app = make_app(db)
    client = client_as(db, app, "rita")
    sid = summary_id(db.engine, "s-topic")
    page = client.get(f"/conversations/{sid}", query_string={"back": back}).text
    assert 'href="/conversations">&larr; Back to the list' in page
    assert "evil" not in page and "javascript:" not in page
    response = client.post(
        f"/conversations/{sid}/review",
        data={"csrf_token": csrf_token(page), "reviewed": "1", "back": back},
    )
    assert response.status_code == 302 and "evil" not in response.headers["Location"]


def test_back_link_keeps_the_filtered_list(db):
    app = make_app(db)
    client = client_as(db, app, "rita")
    sid = summary_id(db.engine, "s-topic")
    page = client.get(
        f"/conversations/{sid}", query_string={"back": "/conversations?fallback=1&page=2"}
    ).text
    assert 'href="/conversations?fallback=1&amp;page=2">&larr; Back to the list' in page


def test_login_next_only_goes_to_this_site(db):
    app = make_app(db)
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    response = client.post(
        "/login?next=/%5Cevil.example",
        data={"username": "rita", "password": PASSWORDS["rita"], "csrf_token": token},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/conversations"
