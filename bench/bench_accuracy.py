"""Raw completeness and Spotify match precision/recall against the emulator's ground truth.

    python -m bench.bench_accuracy [--days 30] [--genres 5,11,12,90,6,1]

Runs collect, process and enrich for the window against a standalone emulator (default
profile) into a fresh SQLite catalogue, then scores the database with `/_emulator/truth`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.common import Figure, standalone_emulator, write_results
from collection_pipeline.domain import DateWindow
from collection_pipeline_tests.test_service_support import (
    DEFAULT_GENRES,
    migrated_database,
    run_pipeline,
    score_against_truth,
)

NAME = "accuracy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 3, 1))
    parser.add_argument("--genres", default=",".join(str(g) for g in DEFAULT_GENRES))
    args = parser.parse_args()
    genres = [int(g) for g in args.genres.split(",")]
    window = DateWindow(args.start, args.start + timedelta(days=args.days))

    with (
        standalone_emulator() as base_url,
        tempfile.TemporaryDirectory() as tmp,
        migrated_database(f"sqlite:///{Path(tmp) / 'catalogue.db'}") as db,
    ):
        started = time.monotonic()
        run_pipeline(db, base_url, window, genres, "bench-accuracy", batch_size=500)
        seconds = time.monotonic() - started
        accuracy = score_against_truth(db, base_url, window, genres)

    print(accuracy.summary())
    detail = f"{accuracy.truth_tracks} tracks, {args.days} days x {len(genres)} genres"
    figures = [
        Figure(
            NAME, "raw completeness", accuracy.completeness, "ratio", threshold=1.0, detail=detail
        ),
        Figure(
            NAME,
            "duplicate rows",
            accuracy.duplicate_rows,
            "rows",
            threshold=0,
            higher_is_better=False,
            detail=detail,
        ),
        Figure(
            NAME,
            "match precision",
            accuracy.precision,
            "ratio",
            threshold=0.995,
            detail=f"{accuracy.correct} correct of {accuracy.found} found",
        ),
        Figure(
            NAME,
            "match recall",
            accuracy.recall,
            "ratio",
            threshold=0.99,
            detail=f"{accuracy.correct} correct of {accuracy.expected_matches} expected",
        ),
    ]
    parameters = {"days": args.days, "genres": genres, "profile": "default", "seconds": seconds}
    print(write_results(NAME, figures, parameters))


if __name__ == "__main__":
    main()
