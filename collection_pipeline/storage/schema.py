"""The catalogue schema, as SQLAlchemy Core tables.

Repositories build their SQL from these objects. The DDL itself is owned by the Alembic
history in `migrations/` (a test checks both agree); nothing calls `create_all`.

Every normalized row carries lineage (`source_record_id` -> `external_data.id`, `run_id`),
and every entity is identified by its provider id, never by its name.
"""

from __future__ import annotations

import sqlalchemy as sa

from collection_pipeline.storage.types import BigId, Payload, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

UNPROCESSED = sa.text("processed_at IS NULL")
"""Predicate of the partial index that holds only the processing queue."""

external_data = sa.Table(
    "external_data",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("entity_type", sa.String(32), nullable=False),
    sa.Column("external_id", sa.String(64), nullable=False),
    sa.Column("payload", Payload, nullable=False),
    sa.Column("payload_escaped", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("content_hash", sa.String(32), nullable=False),
    sa.Column("partition_date", sa.Date, nullable=True),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("processed_at", UTCDateTime, nullable=True),
    sa.Column("processing_error", sa.Text, nullable=True),
    sa.Column("processed_run_id", sa.String(64), nullable=True),
    # Normalization's finding: the record's ISRC was rejected (true) or not (false); NULL
    # while the record is unprocessed, quarantined or never normalized (Spotify JSON).
    sa.Column("isrc_rejected", sa.Boolean, nullable=True),
    sa.UniqueConstraint("provider", "entity_type", "external_id"),
    sa.Index(
        "ix_external_data_unprocessed",
        "provider",
        "entity_type",
        "partition_date",
        "id",
        postgresql_where=UNPROCESSED,
        sqlite_where=UNPROCESSED,
    ),
    sa.Index("ix_external_data_partition", "provider", "entity_type", "partition_date"),
)


def _entity_table(name: str, *extra: sa.SchemaItem) -> sa.Table:
    """A Beatport entity: internal id, unique Beatport id, name, slug and lineage."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("beatport_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("slug", sa.Text, nullable=True),
        *extra,
        sa.Column("source_record_id", BigId, sa.ForeignKey("external_data.id"), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


genres = _entity_table("genres")
sub_genres = _entity_table("sub_genres")
labels = _entity_table("labels")
artists = _entity_table("artists")
releases = _entity_table(
    "releases", sa.Column("label_id", BigId, sa.ForeignKey("labels.id"), nullable=True, index=True)
)

tracks = sa.Table(
    "tracks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("beatport_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("mix_name", sa.Text, nullable=True),
    sa.Column("isrc", sa.String(12), nullable=True, index=True),
    sa.Column("bpm", sa.Integer, nullable=True),
    sa.Column("key_name", sa.Text, nullable=True),
    sa.Column("camelot", sa.String(3), nullable=True),
    sa.Column("length_ms", sa.Integer, nullable=True),
    sa.Column("publish_date", sa.Date, nullable=True, index=True),
    sa.Column("new_release_date", sa.Date, nullable=True),
    sa.Column("catalog_number", sa.Text, nullable=True),
    sa.Column("genre_id", BigId, sa.ForeignKey("genres.id"), nullable=True),
    sa.Column("sub_genre_id", BigId, sa.ForeignKey("sub_genres.id"), nullable=True),
    sa.Column("release_id", BigId, sa.ForeignKey("releases.id"), nullable=True, index=True),
    sa.Column("source_record_id", BigId, sa.ForeignKey("external_data.id"), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

track_artists = sa.Table(
    "track_artists",
    metadata,
    sa.Column("track_id", BigId, sa.ForeignKey("tracks.id"), nullable=False),
    sa.Column("artist_id", BigId, sa.ForeignKey("artists.id"), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("source_record_id", BigId, sa.ForeignKey("external_data.id"), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("track_id", "role", "position"),
    sa.CheckConstraint("role IN ('artist', 'remixer')", name="role"),
)

spotify_track_matches = sa.Table(
    "spotify_track_matches",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("track_id", BigId, sa.ForeignKey("tracks.id"), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("spotify_track_id", sa.String(64), nullable=True, index=True),
    sa.Column("isrc", sa.String(12), nullable=False),
    sa.Column("match_rule", sa.Text, nullable=True),
    sa.Column("match_score", sa.Float, nullable=True),
    sa.Column("candidate_count", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error_reason", sa.Text, nullable=True),
    sa.Column("searched_at", UTCDateTime, nullable=False),
    sa.Column("spotify_record_id", BigId, sa.ForeignKey("external_data.id"), nullable=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.CheckConstraint("status IN ('found', 'not_found', 'error')", name="status"),
    sa.Index("ix_spotify_track_matches_recheck", "status", "searched_at"),
)

pacer_rates = sa.Table(
    "pacer_rates",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("budget", sa.Float, nullable=False),
    sa.Column("window_s", sa.Float, nullable=False),
    sa.Column("learned_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
"""The request budget a rate-limited API allowed the pacer keyed `key`, for the next run."""
