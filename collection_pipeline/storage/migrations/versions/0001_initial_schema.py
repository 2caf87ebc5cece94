"""Initial catalogue schema: raw external data, normalized Beatport entities, Spotify matches.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Types are spelled out here rather than imported from `schema.py`, so this revision keeps
creating exactly what it created on the day it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
PAYLOAD = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UNPROCESSED = sa.text("processed_at IS NULL")

ENTITY_TABLES = ("genres", "sub_genres", "labels", "artists", "releases")


def _lineage(table: str) -> list[sa.Column]:
    return [
        sa.Column(
            "source_record_id",
            BIG_ID,
            sa.ForeignKey("external_data.id", name=f"fk_{table}_source_record_id_external_data"),
            nullable=False,
        ),
        sa.Column("run_id", sa.String(64), nullable=False),
    ]


def _create_entity_table(name: str, *extra: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("beatport_id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("slug", sa.Text, nullable=True),
        *extra,
        *_lineage(name),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint("beatport_id", name=f"uq_{name}_beatport_id"),
    )


def upgrade() -> None:
    op.create_table(
        "external_data",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("payload", PAYLOAD, nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("partition_date", sa.Date, nullable=True),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("processed_at", TIMESTAMP, nullable=True),
        sa.Column("processing_error", sa.Text, nullable=True),
        sa.Column("processed_run_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_external_data"),
        sa.UniqueConstraint(
            "provider",
            "entity_type",
            "external_id",
            name="uq_external_data_provider_entity_type_external_id",
        ),
    )
    op.create_index(
        "ix_external_data_unprocessed",
        "external_data",
        ["provider", "entity_type", "partition_date", "id"],
        postgresql_where=UNPROCESSED,
        sqlite_where=UNPROCESSED,
    )
    op.create_index(
        "ix_external_data_partition",
        "external_data",
        ["provider", "entity_type", "partition_date"],
    )

    for name in ("genres", "sub_genres", "labels", "artists"):
        _create_entity_table(name)
    _create_entity_table(
        "releases",
        sa.Column(
            "label_id",
            BIG_ID,
            sa.ForeignKey("labels.id", name="fk_releases_label_id_labels"),
            nullable=True,
        ),
    )
    op.create_index("ix_releases_label_id", "releases", ["label_id"])

    op.create_table(
        "tracks",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("beatport_id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("mix_name", sa.Text, nullable=True),
        sa.Column("isrc", sa.String(12), nullable=True),
        sa.Column("bpm", sa.Integer, nullable=True),
        sa.Column("key_name", sa.Text, nullable=True),
        sa.Column("camelot", sa.String(3), nullable=True),
        sa.Column("length_ms", sa.Integer, nullable=True),
        sa.Column("publish_date", sa.Date, nullable=True),
        sa.Column("new_release_date", sa.Date, nullable=True),
        sa.Column("catalog_number", sa.Text, nullable=True),
        sa.Column(
            "genre_id",
            BIG_ID,
            sa.ForeignKey("genres.id", name="fk_tracks_genre_id_genres"),
            nullable=True,
        ),
        sa.Column(
            "sub_genre_id",
            BIG_ID,
            sa.ForeignKey("sub_genres.id", name="fk_tracks_sub_genre_id_sub_genres"),
            nullable=True,
        ),
        sa.Column(
            "release_id",
            BIG_ID,
            sa.ForeignKey("releases.id", name="fk_tracks_release_id_releases"),
            nullable=True,
        ),
        *_lineage("tracks"),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tracks"),
        sa.UniqueConstraint("beatport_id", name="uq_tracks_beatport_id"),
    )
    op.create_index("ix_tracks_isrc", "tracks", ["isrc"])
    op.create_index("ix_tracks_publish_date", "tracks", ["publish_date"])
    op.create_index("ix_tracks_release_id", "tracks", ["release_id"])

    op.create_table(
        "track_artists",
        sa.Column(
            "track_id",
            BIG_ID,
            sa.ForeignKey("tracks.id", name="fk_track_artists_track_id_tracks"),
            nullable=False,
        ),
        sa.Column(
            "artist_id",
            BIG_ID,
            sa.ForeignKey("artists.id", name="fk_track_artists_artist_id_artists"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        *_lineage("track_artists"),
        sa.PrimaryKeyConstraint("track_id", "role", "position", name="pk_track_artists"),
        sa.CheckConstraint("role IN ('artist', 'remixer')", name="ck_track_artists_role"),
    )
    op.create_index("ix_track_artists_artist_id", "track_artists", ["artist_id"])

    op.create_table(
        "spotify_track_matches",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "track_id",
            BIG_ID,
            sa.ForeignKey("tracks.id", name="fk_spotify_track_matches_track_id_tracks"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("spotify_track_id", sa.String(64), nullable=True),
        sa.Column("isrc", sa.String(12), nullable=False),
        sa.Column("match_rule", sa.Text, nullable=True),
        sa.Column("match_score", sa.Float, nullable=True),
        sa.Column("candidate_count", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error_reason", sa.Text, nullable=True),
        sa.Column("searched_at", TIMESTAMP, nullable=False),
        sa.Column(
            "spotify_record_id",
            BIG_ID,
            sa.ForeignKey(
                "external_data.id", name="fk_spotify_track_matches_spotify_record_id_external_data"
            ),
            nullable=True,
        ),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_spotify_track_matches"),
        sa.UniqueConstraint("track_id", name="uq_spotify_track_matches_track_id"),
        sa.CheckConstraint(
            "status IN ('found', 'not_found', 'error')", name="ck_spotify_track_matches_status"
        ),
    )
    op.create_index(
        "ix_spotify_track_matches_spotify_track_id", "spotify_track_matches", ["spotify_track_id"]
    )
    op.create_index(
        "ix_spotify_track_matches_recheck", "spotify_track_matches", ["status", "searched_at"]
    )


def downgrade() -> None:
    op.drop_table("spotify_track_matches")
    op.drop_table("track_artists")
    op.drop_table("tracks")
    for name in reversed(ENTITY_TABLES):
        op.drop_table(name)
    op.drop_table("external_data")
