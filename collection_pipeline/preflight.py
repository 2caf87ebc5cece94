"""Checks made before a run starts, each failure one line: the variable, the problem, the fix.

The CLI runs all of them before it launches anything; the resources run the ones that concern
them when Dagster sets them up, so `dagster asset materialize` and the UI show the same lines.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from collection_pipeline import settings


def dagster_home_problem(home: Path) -> str | None:
    """Why Dagster could not keep its run history in `home`, if it could not."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".write-check-"):
            pass
    except OSError as exc:
        return (
            f"{settings.DAGSTER_HOME.name}={str(home)!r}: not writable "
            f"({exc.strerror or type(exc).__name__}); point it at a folder you can write, "
            "or unset it for .collection/dagster_home in the project"
        )
    return None


def database_problem(url: str) -> str | None:
    """Why the catalogue database at `url` cannot be used now (one attempt), if it cannot.

    Assumes `url` passed the settings check; a connection failure names the URL with its
    password hidden and the driver's first line of explanation.
    """
    import sqlalchemy as sa

    from collection_pipeline.storage import Database
    from collection_pipeline.storage.outage import first_line, redacted

    name = settings.DATABASE_URL.name
    try:
        database = Database(url)
    except OSError as exc:  # SQLite: the file's folder cannot be created
        return (
            f"{name}={redacted(sa.make_url(url))!r}: cannot create the database folder "
            f"({exc.strerror}); use a writable path"
        )
    try:
        with database.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        return (
            f"{name}={redacted(database.url)!r}: cannot connect ({first_line(exc)}); start the "
            "database or correct the host, port, user, password and database name"
        )
    finally:
        database.dispose()
    return None


def live_credentials_problem(apis: Iterable[str] = ("beatport", "spotify")) -> str | None:
    """In live mode, the required variables of `apis` that are not set, in one line."""
    if settings.SOURCE.get() != "live":
        return None
    missing = settings.missing_live_variables(apis)
    return settings.live_missing_message(missing) if missing else None


def check_all(home: Path, apis: Iterable[str] = ("beatport", "spotify")) -> list[str]:
    """Every problem that would stop a run, one line each, causes before their consequences.

    A bad setting hides the checks that depend on it (a URL that does not parse is not
    connected to; an unwritable DAGSTER_HOME is not also reported as an unwritable default
    catalogue), so each cause is reported once.
    """
    errors = settings.problems()
    found = [str(error) for error in errors]
    bad = {error.name for error in errors}
    home_problem = dagster_home_problem(home)
    if home_problem:
        found.append(home_problem)
    default_catalogue = not settings.DATABASE_URL.is_set()
    if settings.DATABASE_URL.name not in bad and not (home_problem and default_catalogue):
        problem = database_problem(settings.database_url())
        if problem:
            found.append(problem)
    if settings.SOURCE.name not in bad:
        problem = live_credentials_problem(apis)
        if problem:
            found.append(problem)
    return found
