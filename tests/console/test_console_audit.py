"""Security review #10 (OWASP ASVS L2), finding 9: what the audit log records (views,
searches masked, appointment requests shown, exports, client addresses), who may
read it, and its hash chain.

The database is the synthetic one of conftest.py `db` (no Rasa server). Time moves
through the app's injected clock, never by sleeping. Password hashes are the real
ones (scrypt, N = 2^17), so each login takes a second or two here; logged-in
cookies are reused where a test is not about logging in.
"""

from __future__ import annotations

import csv
import io
import json
import shutil

import sqlalchemy as sa

from console_helpers import (
    APPT_PHONE,
    audit_rows,
    client_as,
    csrf_token,
    login,
    make_app,
    run_cli,
    summary_id,
)


def test_list_and_search_views_are_audited_with_the_query_masked(db):
    app = make_app(db)
    client = client_as(db, app, "ada")
    assert client.get("/conversations?fallback=1").status_code == 200
    row = audit_rows(db.engine, "view_list", username="ada")[-1]
    detail = json.loads(row.detail)
    assert detail["fallback"] == "1" and detail["shown"] == [summary_id(db.engine, "s-fallback")]
    token = csrf_token(client.get("/conversations").text)
    search = {"csrf_token": token, "q": "415 555 0188 maria@example.com"}
    assert client.post("/conversations", data=search).status_code == 200
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
    for page in (
        "/conversations",
        "/overview",
        f"/conversations/{summary_id(db.engine, 's-topic')}",
    ):
        assert typo not in reviewer.get(page).text
    admin = client_as(db, app, "ada")
    page = admin.get("/audit").text
    assert typo in page
    assert audit_rows(db.engine, "view_audit", username="ada")


def test_client_address_behind_a_trusted_proxy(db):
    headers = {"X-Forwarded-For": "203.0.113.7"}
    app = make_app(db)  # no trusted proxy: the header is ignored
    assert (
        login(app.test_client(), "ghost-ip1", "not the password", headers=headers).status_code
        == 401
    )
    assert (
        audit_rows(db.engine, "login_invalid", username="ghost-ip1")[-1].remote_addr == "127.0.0.1"
    )
    app = make_app(db, CONSOLE_TRUSTED_PROXIES="1")
    assert (
        login(app.test_client(), "ghost-ip2", "not the password", headers=headers).status_code
        == 401
    )
    assert (
        audit_rows(db.engine, "login_invalid", username="ghost-ip2")[-1].remote_addr
        == "203.0.113.7"
    )


def test_export_is_a_post_with_a_csrf_token(db):
    app = make_app(db)
    client = client_as(db, app, "ada")
    assert client.get("/conversations.csv").status_code == 405  # a cross-site link does nothing
    assert client.post("/conversations.csv", data={"fallback": "1"}).status_code == 400
    page = client.get("/conversations").text
    assert 'id="export-form"' in page and 'method="post"' in page
    response = client.post(
        "/conversations.csv", data={"fallback": "1", "csrf_token": csrf_token(page)}
    )
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
    edited = tampered(
        "edited", f"UPDATE console_audit_log SET username = 'someone-else' WHERE id = {middle}"
    )
    assert edited.returncode == 1 and f"row {middle} does not match" in edited.stderr
    removed = tampered("removed", f"DELETE FROM console_audit_log WHERE id = {middle}")
    assert (
        removed.returncode == 1
        and f"row {ids[ids.index(middle) + 1]} does not match" in removed.stderr
    )
    cut = tampered("cut", f"DELETE FROM console_audit_log WHERE id = {ids[-1]}")
    assert cut.returncode == 1 and "rows at the end were removed" in cut.stderr
    # Deleting the chain's head too does not make the console re-chain (and so bless)
    # the edited row when it starts again: the head is rebuilt, the row still fails.
    headless = tampered(
        "headless",
        f"UPDATE console_audit_log SET detail = 'nothing' WHERE id = {middle}",
        "DELETE FROM console_meta WHERE key = 'audit_chain_head'",
    )
    assert headless.returncode == 1 and f"row {middle} does not match" in headless.stderr
