"""Console roles: console_users.role (reviewer | callback | admin, console/auth.py).

Accounts that existed before roles had full access: they keep it (admin); an admin
can lower a role with `python -m console set-role NAME reviewer`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "console_users", sa.Column("role", sa.String(16), nullable=False, server_default="reviewer")
    )
    changed = op.get_bind().execute(sa.text("UPDATE console_users SET role = 'admin'")).rowcount
    if changed:
        logging.getLogger("stores.schema").warning(
            "console: %d existing user(s) were given the admin role (the access they had "
            "before roles). Review: python -m console list-users",
            changed,
        )


def downgrade() -> None:
    op.drop_column("console_users", "role")
