"""Fixtures shared by the whole suite: databases on both engines and emulator servers.

PostgreSQL tests run against a database created for this test session and dropped at its end.
They skip when no server answers, except when COLLECTION_TEST_POSTGRES=require (CI), where an
unreachable server fails them: CI must never pass by skipping them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from collection_pipeline_tests.support.postgres import (
    POSTGRES_ADMIN_URL,
    POSTGRES_REQUIRED,
    admin_engine,
    reset_postgres_schema,
)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A PostgreSQL database owned by this test session."""
    admin = admin_engine()
    name = f"collection_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc.orig}"
        if POSTGRES_REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty catalogue database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalogue.db'}"
    url = request.getfixturevalue("postgres_database_url")
    reset_postgres_schema(url)
    return url


@pytest.fixture
def emulator_url() -> Iterator[Callable[..., str]]:
    """Start emulator servers over loopback HTTP: `emulator_url(profile="flaky")` -> base URL."""
    from collection_pipeline.emulator import EmulatorConfig, serve_in_thread

    with ExitStack() as stack:

        def start(**config: object) -> str:
            return stack.enter_context(serve_in_thread(EmulatorConfig(**config)))

        yield start


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many PostgreSQL tests ran, so CI output proves they were not skipped."""
    outcomes: dict[str, str] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if "postgres" in getattr(report, "keywords", {}):
                previous = outcomes.get(report.nodeid, "passed")
                outcomes[report.nodeid] = previous if previous != "passed" else outcome
    counts = {name: list(outcomes.values()).count(name) for name in ("passed", "failed", "error")}
    skipped = list(outcomes.values()).count("skipped")
    terminalreporter.write_line(
        f"PostgreSQL tests: {counts['passed']} passed, {counts['failed'] + counts['error']} "
        f"failed, {skipped} skipped"
    )


LONGEST_FIRST = ("test_smoke_dagster_dev", "test_cli_interrupt", "test_service_crash")
"""Modules whose tests run for half a minute or more, longest first."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the longest tests first, then the other slow ones, then the rest.

    On several workers (pytest-xdist) the run then ends with the bulk of short tests rather
    than with a long test that happened to be collected last.
    """

    def rank(item: pytest.Item) -> int:
        module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
        if module in LONGEST_FIRST:
            return LONGEST_FIRST.index(module)
        return len(LONGEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)

    items.sort(key=rank)
