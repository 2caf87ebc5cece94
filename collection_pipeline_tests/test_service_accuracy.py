"""Completeness and matching quality against the emulator's ground truth (issue 6, done-when):
30 days of the 6 default genres on the default profile."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from collection_pipeline.domain import DateWindow
from collection_pipeline.testing.harness import migrated_database, run_pipeline
from collection_pipeline.testing.truth import score_against_truth

WINDOW = DateWindow(date(2024, 3, 1), date(2024, 3, 1) + timedelta(days=30))


@pytest.mark.slow
def test_thirty_days_of_six_genres_against_ground_truth(emulator_url, tmp_path) -> None:
    base_url = emulator_url()
    with migrated_database(f"sqlite:///{tmp_path / 'catalogue.db'}") as db:
        collected, processed, enriched = run_pipeline(db, base_url, WINDOW, batch_size=500)
        accuracy = score_against_truth(db, base_url, WINDOW)

    print(accuracy.summary())
    assert collected.records == collected.expected == accuracy.truth_tracks
    assert processed.quarantined == 0
    assert enriched.errors == 0
    assert accuracy.completeness == 1.0
    assert accuracy.duplicate_rows == 0
    assert accuracy.precision >= 0.995
    assert accuracy.recall >= 0.99
