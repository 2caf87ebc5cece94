"""The PostgreSQL server the suite runs against, for conftest's fixtures and for the tests
that need the server itself (an outage, a `dagster dev` with its own instance database)."""

from __future__ import annotations

import os

import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get(
    "COLLECTION_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_REQUIRED = os.environ.get("COLLECTION_TEST_POSTGRES", "").lower() == "require"
"""COLLECTION_TEST_POSTGRES=require (CI): an unreachable server fails the tests, never skips."""


def admin_engine() -> sa.Engine:
    """An AUTOCOMMIT engine on the server's maintenance database (CREATE/DROP DATABASE)."""
    return sa.create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )


def reset_postgres_schema(url: str) -> None:
    """Empty the database at `url`: its public schema dropped and created again."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
