"""Console second factor (TOTP): the user's secret and the last time step used.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("console_users", sa.Column("totp_secret", sa.String(64)))
    op.add_column("console_users", sa.Column("totp_last_step", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("console_users", "totp_last_step")
    op.drop_column("console_users", "totp_secret")
