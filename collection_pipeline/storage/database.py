"""The catalogue database: engine setup per dialect, schema migrations, units of work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from collection_pipeline.storage.migrations import VERSION_TABLE
from collection_pipeline.storage.outage import (
    NO_RETRY,
    OutagePolicy,
    first_line,
    is_unreachable,
    redacted,
)
from collection_pipeline.storage.types import serialize_json
from collection_pipeline.storage.unit_of_work import READ_ONLY, UnitOfWork

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x434F4C4C  # "COLL": any fixed advisory-lock key shared by all upgraders
SQLITE_BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 10
"""PostgreSQL connect timeout: an unreachable host fails an attempt in seconds, not minutes."""


class Database:
    """One engine per process; `unit_of_work()` per page or batch.

    SQLite runs in WAL mode with foreign keys on. A writer's transaction starts with BEGIN
    IMMEDIATE, so writers queue on the busy timeout up front instead of failing when a read
    transaction later tries to write; a read-only unit of work begins deferred and reads its
    WAL snapshot beside the writer without waiting. On PostgreSQL every pooled connection is
    pinged at checkout, so connections a server restart killed are replaced, not handed out.
    `outage` says how long a unit of work rides out an unreachable database.
    """

    def __init__(
        self, url: str, *, outage: OutagePolicy | None = None, **engine_options: Any
    ) -> None:
        self.url = sa.make_url(url)
        self.outage = outage or OutagePolicy()
        options: dict[str, Any] = {"json_serializer": serialize_json, **engine_options}
        if self.url.get_backend_name() == "sqlite":
            _ensure_parent_directory(self.url)
            self.engine = sa.create_engine(self.url, **options)
            _configure_sqlite(self.engine)
        else:
            options.setdefault("pool_pre_ping", True)
            if "connect_timeout" not in self.url.query:
                connect_args = options.setdefault("connect_args", {})
                connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
            self.engine = sa.create_engine(self.url, **options)

    def __repr__(self) -> str:
        return f"Database({redacted(self.url)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (Alembic, migrations shipped in the package).

        Safe to call from many processes at once: PostgreSQL upgraders take an advisory lock,
        SQLite's BEGIN IMMEDIATE serializes them. A schema already at head is checked with a
        read only, so calling this where nothing needs migrating takes no write lock. An
        unreachable database is waited out like in a unit of work.
        """

        def attempt() -> None:
            if revision == "head" and self.current_revision() == self.head_revision():
                return
            self._migrate(command.upgrade, revision)

        self.outage.call(attempt, self.url)

    def downgrade(self, revision: str) -> None:
        """Step the schema back to `revision` ("base" drops every catalogue table)."""
        self._migrate(command.downgrade, revision)

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        """The newest revision shipped with the package."""
        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    def unreachable_reason(self) -> str | None:
        """None when the database answers a query now, else one line saying why not.

        One attempt, no retry: for automation that must decide quickly whether to start a run.
        """
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{READ_ONLY: True})
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError as exc:
            if not is_unreachable(exc):
                raise
            return f"catalogue database {redacted(self.url)} unreachable: {first_line(exc)}"
        return None

    def _migrate(self, action: Any, revision: str) -> None:
        config = _alembic_config()
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = conn
            action(config, revision)

    def unit_of_work(self, *, read_only: bool = False, retry: bool = True) -> UnitOfWork:
        """A unit of work; `read_only` for every read path, `retry=False` for a single attempt
        (work whose loss is harmless must not hold a step for the outage deadline)."""
        return UnitOfWork(
            self.engine, read_only=read_only, outage=self.outage if retry else NO_RETRY
        )

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


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
        reader = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")
