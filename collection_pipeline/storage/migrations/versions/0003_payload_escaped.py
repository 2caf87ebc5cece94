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
    # A plain DROP COLUMN (SQLite >= 3.35 has it): batch mode would copy and drop
    # `external_data`, which the foreign keys of the catalogue's rows forbid once it holds data.
    op.drop_column("external_data", "payload_escaped")
