"""The catalogue database: engine setup per dialect, schema migrations, units of work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from collection_pipeline.storage.migrations import VERSION_TABLE
from collection_pipeline.storage.types import serialize_json
from collection_pipeline.storage.unit_of_work import UnitOfWork

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x434F4C4C  # "COLL": any fixed advisory-lock key shared by all upgraders
SQLITE_BUSY_TIMEOUT_MS = 60_000


class Database:
    """One engine per process; `unit_of_work()` per page or batch.

    SQLite runs in WAL mode (readers never block the writer) with foreign keys on, and every
    transaction starts with BEGIN IMMEDIATE: writers queue on the busy timeout up front
    instead of failing when a read transaction later tries to write.
    """

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = sa.make_url(url)
        options: dict[str, Any] = {"json_serializer": serialize_json, **engine_options}
        if self.url.get_backend_name() == "sqlite":
            _ensure_parent_directory(self.url)
            self.engine = sa.create_engine(self.url, **options)
            _configure_sqlite(self.engine)
        else:
            options.setdefault("pool_pre_ping", True)
            self.engine = sa.create_engine(self.url, **options)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (Alembic, migrations shipped in the package).

        Safe to call from many processes at once: PostgreSQL upgraders take an advisory lock,
        SQLite's BEGIN IMMEDIATE serializes them, and a schema already at head is a no-op.
        """
        self._migrate(command.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        """Step the schema back to `revision` ("base" drops every catalogue table)."""
        self._migrate(command.downgrade, revision)

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()

    def _migrate(self, action: Any, revision: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = conn
            action(config, revision)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _ensure_parent_directory(url: sa.URL) -> None:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: sa.Engine) -> None:
    """WAL, foreign keys, busy timeout, and transactions the driver does not second-guess."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
