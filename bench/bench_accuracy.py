"""Raw completeness, quarantine and Spotify match precision/recall against the emulator's truth.

    python -m bench.bench_accuracy [--days 30] [--genres 5,11,12,90,6,1] [--profile messy]

Runs collect, process and enrich for the window against a standalone emulator (`messy`
profile: malformed records and answers, multi-page ISRC results, namesake suffixes) into a
fresh SQLite catalogue, then one more enrichment as the recheck sensor would (searches that
met a malformed answer are `error` outcomes, retried later), and scores the database with
`/_emulator/truth`. The baseline row is the seed's matcher on the same catalogue: the first
item of the first search page, taken blindly.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.common import Figure, standalone_emulator, write_results
from collection_pipeline.domain import DateWindow
from collection_pipeline.testing.harness import (
    DEFAULT_GENRES,
    fetch_truth,
    migrated_database,
    real_service,
    run_pipeline,
)
from collection_pipeline.testing.truth import score_against_truth, score_items0

NAME = "accuracy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 3, 1))
    parser.add_argument("--genres", default=",".join(str(g) for g in DEFAULT_GENRES))
    parser.add_argument("--profile", default="messy")
    args = parser.parse_args()
    genres = [int(g) for g in args.genres.split(",")]
    window = DateWindow(args.start, args.start + timedelta(days=args.days))

    with (
        standalone_emulator("--profile", args.profile) as base_url,
        tempfile.TemporaryDirectory() as tmp,
        migrated_database(f"sqlite:///{Path(tmp) / 'catalogue.db'}") as db,
    ):
        started = time.monotonic()
        _, processed, enriched = run_pipeline(
            db, base_url, window, genres, "bench-accuracy", batch_size=500
        )
        with real_service(db, base_url, "bench-recheck") as service:
            recheck = service.enrich_tracks_with_spotify_data(window, batch_size=500)
        seconds = time.monotonic() - started
        score = score_against_truth(db, base_url, window, genres)
        seed = score_items0(db, base_url, fetch_truth(base_url, window, genres))

    print(score.summary())
    for problem in score.problems[:20]:
        print("  ", problem)
    print(f"seed items[0]: precision {seed.precision:.4f}, recall {seed.recall:.4f}")
    detail = f"{score.truth_tracks} tracks, {args.days} days x {len(genres)} genres, {args.profile}"
    malformed = ", ".join(f"{kind} {n}" for kind, n in sorted(score.malformed.items()))
    figures = [
        Figure(NAME, "raw completeness", score.completeness, "ratio", threshold=1.0, detail=detail),
        Figure(
            NAME,
            "duplicate rows",
            score.duplicate_rows,
            "rows",
            threshold=0,
            higher_is_better=False,
            detail=detail,
        ),
        Figure(
            NAME,
            "malformed records quarantined with their reason",
            score.quarantine_share,
            "share",
            threshold=1.0,
            detail=f"{malformed}; quirks processed: {dict(score.quirks)}",
        ),
        Figure(
            NAME,
            "match precision",
            score.precision,
            "ratio",
            threshold=0.998,
            detail=f"{score.correct} correct of {score.found} found",
        ),
        Figure(
            NAME,
            "match recall",
            score.recall,
            "ratio",
            threshold=0.995,
            detail=f"{score.correct} correct of {score.expected_matches} expected, after one "
            f"recheck of {enriched.errors} error outcomes ({recheck.errors} left)",
        ),
        Figure(
            NAME,
            "match precision, seed items[0] (baseline)",
            seed.precision,
            "ratio",
            detail=f"{seed.correct} correct of {seed.found} found, same catalogue",
        ),
        Figure(
            NAME,
            "match recall, seed items[0] (baseline)",
            seed.recall,
            "ratio",
            detail=f"{seed.correct} correct of {seed.expected_matches} expected, same catalogue",
        ),
    ]
    parameters = {
        "days": args.days,
        "genres": genres,
        "profile": args.profile,
        "seconds": seconds,
        "quarantine_reasons": processed.quarantine_reasons,
        "candidates_skipped": enriched.candidates_skipped,
    }
    print(write_results(NAME, figures, parameters))


if __name__ == "__main__":
    main()
