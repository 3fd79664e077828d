"""The console's access log: console_access_log (issue 21).

One row per request to the console (not its static files): time, user, method,
path without the query string, status and client address. Shown to admins on the
Access log page; denied requests (401, 403, CSRF) are also audited. A database
that already has the table (made by create_all before adoption) keeps it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by the code's create_all before it was adopted (stores/schema.py)
    # may have it already
    if sa.inspect(op.get_bind()).has_table("console_access_log"):
        return
    op.create_table(
        "console_access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_console_access_log_at"), "console_access_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_console_access_log_at"), table_name="console_access_log")
    op.drop_table("console_access_log")
