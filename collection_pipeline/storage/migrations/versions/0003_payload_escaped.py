"""Raw records remember whether their stored payload has U+0000 escaped.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

PostgreSQL refuses U+0000 in `text` and `jsonb`, so a record holding it is stored with the
character escaped and this flag set (on SQLite too, so both engines hold the same state).
Existing rows never held the character (they could not be stored on PostgreSQL), hence false.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "external_data",
        sa.Column("payload_escaped", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("external_data") as batch:
        batch.drop_column("payload_escaped")
