"""Issue 21, findings 5 and lows: denied access (401, 403, CSRF) is audited with a
rate-limited warning, admins have an access log without query strings, the search
travels in a POST body, and huge page numbers or ids give 404, not 500. The
synthetic database of conftest.py `db` (no Rasa server)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from console_helpers import audit_rows, client_as, csrf_token, make_app


def access_rows(engine):
    from console.db import access_log

    with engine.connect() as conn:
        return conn.execute(sa.select(access_log).order_by(access_log.c.id)).all()


def test_a_403_leaves_an_audit_row_and_a_warning(db, caplog):
    app = make_app(db)
    client = client_as(db, app, "rita")  # a reviewer
    before = len(audit_rows(db.engine, "access_denied", username="rita"))
    with caplog.at_level(logging.WARNING, logger="console.web"):
        assert client.get("/audit?page=2&secret=x").status_code == 403
    rows = audit_rows(db.engine, "access_denied", username="rita")
    assert len(rows) == before + 1
    assert rows[-1].detail == "status=403 reason=role GET /audit"
    assert any("denied GET /audit (403 role) for rita" in r.getMessage() for r in caplog.records)


def test_anonymous_401_and_csrf_failures_are_audited(db):
    app = make_app(db)
    anonymous = app.test_client()
    token = csrf_token(anonymous.get("/login").text)  # past the CSRF check: then 401
    assert anonymous.post("/conversations.csv", data={"csrf_token": token}).status_code == 401
    assert audit_rows(db.engine, "access_denied", username="anonymous")[-1].detail == (
        "status=401 reason=login POST /conversations.csv"
    )
    client = client_as(db, app, "ada")
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert audit_rows(db.engine, "access_denied", username="ada")[-1].detail.startswith(
        "status=400 reason=csrf POST /logout"
    )


def test_denied_rows_are_rate_limited_per_address(db, caplog):
    from console.web import DENIED_RECORDED_PER_MINUTE

    app = make_app(db)
    anonymous = app.test_client()
    headers = {"X-Forwarded-For": "ignored"}  # no trusted proxy: the socket address counts
    before = len(audit_rows(db.engine, "access_denied", username="anonymous"))
    with caplog.at_level(logging.WARNING, logger="console.web"):
        for _ in range(DENIED_RECORDED_PER_MINUTE + 15):  # no CSRF token: 400 each
            assert anonymous.post("/conversations.csv", headers=headers).status_code == 400
    recorded = len(audit_rows(db.engine, "access_denied", username="anonymous")) - before
    assert recorded <= DENIED_RECORDED_PER_MINUTE
    assert sum("not recorded" in r.getMessage() for r in caplog.records) == 1


def test_the_access_log_has_paths_but_never_query_strings(db):
    app = make_app(db)
    admin = client_as(db, app, "ada")
    assert admin.get("/conversations?fallback=1&q=maria+lopez").status_code == 200
    page = admin.get("/access")
    assert page.status_code == 200 and "GET /conversations" in page.text
    rows = access_rows(db.engine)
    assert rows and all("?" not in r.path and "maria" not in r.path for r in rows)
    assert any(r.path == "/conversations" and r.username == "ada" for r in rows)
    reviewer = client_as(db, app, "rita")
    assert reviewer.get("/access").status_code == 403


def test_the_search_travels_in_a_post_body(db):
    app = make_app(db)
    client = client_as(db, app, "ada")
    page = client.get("/conversations").text
    assert '<form method="post" action="/conversations" id="search-form"' in page
    assert 'name="q"' in page and 'form="search-form"' in page
    everything = client.get("/conversations").text.count("<tr")
    # a search in the URL is ignored (it would be in proxy logs), the POST one counts
    assert client.get("/conversations?q=zzzz-no-such-words").text.count("<tr") == everything
    found = client.post(
        "/conversations", data={"csrf_token": csrf_token(page), "q": "zzzz-no-such-words"}
    )
    assert found.status_code == 200 and found.text.count("<tr") < everything
    assert audit_rows(db.engine, "search", username="ada")
    # without the CSRF token the search is refused
    assert client.post("/conversations", data={"q": "boot"}).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/conversations?page=99999999999999999999999",
        "/conversations?page=5000000",
        "/audit?page=99999999999999999999",
        "/access?page=-3",
        "/conversations/99999999999999999999999",
        "/conversations/9223372036854775808",
    ],
)
def test_huge_page_numbers_and_ids_are_404(db, path):
    app = make_app(db)
    client = client_as(db, app, "ada")
    assert client.get(path).status_code == 404
