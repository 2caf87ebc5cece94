"""The Alembic history of the catalogue schema (one history for SQLite and PostgreSQL)."""

VERSION_TABLE = "collection_alembic_version"
"""Not Alembic's default name: Dagster's own PostgreSQL storage may share the database."""
