"""The whole pipeline against the emulator's `messy` profile, scored against its truth."""

from __future__ import annotations

from datetime import date, timedelta

from collection_pipeline.domain import DateWindow
from collection_pipeline.testing.harness import (
    migrated_database,
    real_service,
    run_pipeline,
)
from collection_pipeline.testing.truth import score_against_truth

WINDOW = DateWindow(date(2024, 3, 18), date(2024, 3, 18) + timedelta(days=12))


def test_messy_catalogue_is_complete_quarantined_and_matched(
    database_url: str, emulator_url
) -> None:
    base_url = emulator_url(profile="messy", messy_record_rate=0.004)
    with migrated_database(database_url) as db:
        collected, processed, enriched = run_pipeline(db, base_url, WINDOW, batch_size=200)
        assert [day for day, result in collected.days.items() if result.incomplete] == []
        assert processed.quarantined > 0
        assert enriched.candidates_skipped
        assert enriched.search_pages > enriched.isrcs_searched - enriched.errors
        with real_service(db, base_url, "recheck") as service:  # as the recheck sensor does
            recheck = service.enrich_tracks_with_spotify_data(WINDOW)
        assert (recheck.total, recheck.errors) == (enriched.errors, 0)
        score = score_against_truth(db, base_url, WINDOW)
    assert score.problems == []
    assert score.quarantine_share == 1.0
    assert set(score.malformed) == {
        "missing_id", "not_an_object", "bad_publish_date", "null_artists", "missing_name"
    }  # fmt: skip
    assert (score.precision, score.recall) == (1.0, 1.0)
