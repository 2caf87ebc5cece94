"""The `flaky` profile (5xx, slow and truncated bodies, 429 bursts, shifted pages, a revoked
token) ends in exactly the state the `default` profile gives for the same window."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from collection_pipeline.clients import ApiError
from collection_pipeline.domain import DateWindow
from collection_pipeline.service import EnrichmentAbortedError
from collection_pipeline.storage import Database
from collection_pipeline.testing.digest import database_digest
from collection_pipeline.testing.harness import (
    DEFAULT_GENRES,
    migrated_database,
    real_service,
    run_pipeline,
    window_report,
)

WINDOW = DateWindow(date(2024, 3, 1), date(2024, 3, 1) + timedelta(days=2))
MAX_RUNS = 5


def run_until_settled(db: Database, base_url: str) -> int:
    """Run the three steps like Dagster retries would: again while a step fails or errors remain.

    Returns the number of runs it took.
    """
    for attempt in range(1, MAX_RUNS + 1):
        try:
            with real_service(db, base_url, f"flaky-{attempt}") as service:
                service.collect_beatport_tracks_raw(WINDOW, DEFAULT_GENRES)
                service.process_unprocessed_beatport_tracks(WINDOW, batch_size=50)
                service.enrich_tracks_with_spotify_data(WINDOW, batch_size=50)
            report = window_report(db, WINDOW)
        except (ApiError, EnrichmentAbortedError) as exc:
            if not getattr(exc, "retryable", False):
                raise
            continue
        if report.raw.pending == 0 and report.outcomes.pending == 0:
            return attempt
    pytest.fail(f"the flaky profile did not settle in {MAX_RUNS} runs")


@pytest.mark.slow
def test_flaky_profile_reaches_the_default_profile_state(emulator_url, tmp_path) -> None:
    with migrated_database(f"sqlite:///{tmp_path / 'default.db'}") as db:
        run_pipeline(db, emulator_url(), WINDOW)
        expected = database_digest(db)
    with migrated_database(f"sqlite:///{tmp_path / 'flaky.db'}") as db:
        runs = run_until_settled(db, emulator_url(profile="flaky"))
        print(f"flaky profile settled after {runs} run(s)")
        assert database_digest(db) == expected
