"""The Alembic history: applies on both engines, goes down and up, and matches the schema."""

from __future__ import annotations

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
    assert db.current_revision() == Database.head_revision() == "0003"
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
