"""The audit log's hash chain: console_audit_log.row_hash (console/audit.py).

Rows written before it have no hash; the console chains them once at start
(console/audit.py `ensure_chain`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("console_audit_log", sa.Column("row_hash", sa.String(64)))


def downgrade() -> None:
    op.drop_column("console_audit_log", "row_hash")
