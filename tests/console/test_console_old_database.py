"""A console database of the first release (no roles, no audit hash chain) opened by
today's console: upgraded in place (migrations/), its users keep full access
(admin), its audit rows are chained (console/audit.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from console_helpers import login, make_app

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

    path = tmp_path / "old.db"
    raw = sa.create_engine(f"sqlite:///{path}")
    with raw.begin() as conn:
        for statement in OLD_SCHEMA:
            conn.execute(sa.text(statement))
        conn.execute(
            sa.text(
                "INSERT INTO console_users (username, password_hash, created_at, is_active) "
                "VALUES ('maria', :h, '2024-05-01 10:00:00.000000', 1)"
            ),
            {"h": generate_password_hash("maria's old console password")},
        )
        for i in range(3):
            conn.execute(
                sa.text(
                    "INSERT INTO console_audit_log (at, username, action, detail) "
                    f"VALUES ('2024-05-0{i + 1} 10:00:00.000000', 'maria', 'login', NULL)"
                )
            )
    raw.dispose()
    url = f"sqlite:///{path}"
    engine = audit.open_engine(url)  # every console process opens its engine so
    report = audit.verify(engine)
    assert report.ok and report.rows == 3, report
    from types import SimpleNamespace as NS

    old = NS(env={"DATABASE_URL": url, "CONSOLE_SECRET_KEY": "k", "CONSOLE_VAR_DIR": str(tmp_path)})
    # existing accounts became admins: by default they must enrol a second factor first
    first = login(make_app(old).test_client(), "maria", "maria's old console password")
    assert first.headers["Location"] == "/account/2fa"
    app = make_app(old, CONSOLE_REQUIRE_2FA="off")
    client = app.test_client()
    assert login(client, "maria", "maria's old console password").status_code == 302
    assert client.get("/audit").status_code == 200  # existing accounts keep full access (admin)
    assert audit.verify(engine).ok
