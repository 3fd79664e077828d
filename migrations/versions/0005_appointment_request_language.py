"""The language of an appointment request: appointment_requests.language (issue 19).

"en" or "es": the language the patient used in the conversation, so staff call
back in it. Requests stored before it have none. A database that already has
the column (one made by the code's create_all before it was adopted by the
migrations, stores/schema.py) keeps it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _has_column() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("appointment_requests")
    return any(column["name"] == "language" for column in columns)


def upgrade() -> None:
    if not _has_column():
        op.add_column("appointment_requests", sa.Column("language", sa.String(8)))


def downgrade() -> None:
    op.drop_column("appointment_requests", "language")
