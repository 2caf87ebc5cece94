"""Raw records keep normalization's ISRC finding.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Processing records on each raw Beatport track whether normalization rejected the ISRC Beatport
sent (`isrc_rejected`), so the `isrc_validity` check counts that finding instead of re-deriving
the ISRC rule in SQL. NULL means not normalized (unprocessed, quarantined, Spotify JSON).

Existing processed Beatport records are backfilled by a one-off SQL probe, the rule the check
used before this revision: the record sent a non-blank ISRC and its track's ISRC is NULL (the
normalizer stores a valid ISRC, so a NULL there with one sent means it was rejected). From here
on only normalization decides.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("external_data", sa.Column("isrc_rejected", sa.Boolean, nullable=True))
    raw = sa.table(
        "external_data",
        sa.column("id"),
        sa.column("provider"),
        sa.column("entity_type"),
        sa.column("payload", sa.JSON),
        sa.column("processed_at"),
        sa.column("processing_error"),
        sa.column("isrc_rejected", sa.Boolean),
    )
    tracks = sa.table("tracks", sa.column("source_record_id"), sa.column("isrc"))
    sent = raw.c.payload["isrc"].as_string()
    stored_null = (
        sa.exists()
        .where(tracks.c.source_record_id == raw.c.id, tracks.c.isrc.is_(None))
        .correlate(raw)
    )
    rejected = sa.and_(sent.is_not(None), sa.func.trim(sent) != "", stored_null)
    op.execute(
        sa.update(raw)
        .where(
            raw.c.provider == "beatport",
            raw.c.entity_type == "track",
            raw.c.processed_at.is_not(None),
            raw.c.processing_error.is_(None),
        )
        .values(isrc_rejected=sa.case((rejected, sa.true()), else_=sa.false()))
    )


def downgrade() -> None:
    # A plain DROP COLUMN, as in 0003: batch mode would copy and drop `external_data`.
    op.drop_column("external_data", "isrc_rejected")
