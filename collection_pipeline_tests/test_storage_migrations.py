"""The Alembic history: applies on both engines, goes down and up, and matches the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from collection_pipeline.storage import Database
from collection_pipeline.storage.migrations import VERSION_TABLE
from collection_pipeline.storage.schema import metadata

TABLES = {
    "external_data",
    "genres",
    "sub_genres",
    "labels",
    "artists",
    "releases",
    "tracks",
    "track_artists",
    "spotify_track_matches",
    "pacer_rates",
}


def tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {VERSION_TABLE}


def test_upgrade_to_head_then_down_and_up_again(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    db.upgrade()  # already at head: a no-op
    assert db.current_revision() == Database.head_revision() == "0004"
    assert tables(db) == TABLES

    db.downgrade("base")
    assert db.current_revision() is None
    assert tables(db) == set()

    db.upgrade()
    assert tables(db) == TABLES
    db.dispose()


def test_migrated_schema_matches_the_table_definitions(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []
    db.dispose()


def test_unprocessed_queue_has_a_partial_index(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_external_data_unprocessed'"
        else:
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_external_data_unprocessed'"
        definition = conn.execute(sa.text(sql)).scalar_one()
    assert "WHERE" in definition
    assert "processed_at IS NULL" in definition
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'nested' / 'catalogue.db'}")
    db.upgrade()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    db.dispose()


def test_the_isrc_finding_is_backfilled_for_processed_beatport_records(database_url: str) -> None:
    """0004's one-off probe: rejected where a non-blank ISRC was sent and the track holds none;
    not rejected for other processed records; no finding where nothing was normalized."""
    db = Database(database_url)
    db.upgrade("0003")
    raw = (
        "INSERT INTO external_data (id, provider, entity_type, external_id, payload, "
        "content_hash, first_seen_at, last_seen_at, run_id, processed_at, processing_error) "
        "VALUES (:id, :provider, 'track', :key, :payload, 'h', :at, :at, 'r', :done, :error)"
    )
    track = (
        "INSERT INTO tracks (beatport_id, name, isrc, source_record_id, run_id, updated_at) "
        "VALUES (:id, 'T', :isrc, :id, 'r', :at)"
    )
    at = datetime(2024, 3, 1, tzinfo=UTC)
    records = [  # id, provider, ISRC sent, ISRC stored, processed, quarantine reason
        (1, "beatport", "NOT-AN-ISRC", None, True, None),
        (2, "beatport", "GB-AYE-24-00002", "GBAYE2400002", True, None),
        (3, "beatport", None, None, True, None),
        (4, "beatport", "  ", None, True, None),
        (5, "beatport", "NOT-AN-ISRC", None, False, None),
        (6, "beatport", "NOT-AN-ISRC", None, True, "absurd_value:bpm"),
        (7, "spotify", "NOT-AN-ISRC", None, True, None),
    ]
    with db.engine.begin() as conn:
        for row_id, provider, sent, stored, processed, error in records:
            payload = json.dumps({"id": row_id, "isrc": sent})
            done = at if processed else None
            conn.execute(
                sa.text(raw),
                {"id": row_id, "provider": provider, "key": str(row_id), "payload": payload}
                | {"at": at, "done": done, "error": error},
            )
            if processed and error is None and provider == "beatport":
                conn.execute(sa.text(track), {"id": row_id, "isrc": stored, "at": at})
    db.upgrade()
    with db.engine.connect() as conn:
        found = conn.execute(sa.text("SELECT id, isrc_rejected FROM external_data ORDER BY id"))
        findings = {row_id: None if value is None else bool(value) for row_id, value in found}
    assert findings == {1: True, 2: False, 3: False, 4: False, 5: None, 6: None, 7: None}
    db.dispose()
