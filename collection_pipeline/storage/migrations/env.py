"""Alembic environment: runs on the connection `Database.upgrade()` hands over.

Used from the command line too (`alembic -c .../alembic.ini upgrade head` with
`-x url=...`, else the configured catalogue URL), though `python -m collection_pipeline.storage
upgrade` is the documented way. Logging is left alone so Dagster's handlers survive.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from collection_pipeline import settings
from collection_pipeline.storage.migrations import VERSION_TABLE
from collection_pipeline.storage.schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or settings.database_url()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) mode is not supported: run against a database")
run_migrations_online()
