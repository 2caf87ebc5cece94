"""Remembered pacer rates: the request budget a rate-limited API allowed, per pacer key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pacer_rates",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("budget", sa.Float, nullable=False),
        sa.Column("window_s", sa.Float, nullable=False),
        sa.Column("learned_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_pacer_rates"),
    )


def downgrade() -> None:
    op.drop_table("pacer_rates")
