"""Two processes writing overlapping batches at once end in the state of a sequential run.

Both processes share tracks, artists, labels, releases, genres and ISRCs, and walk their
batches in opposite orders, which is what would deadlock or violate a unique constraint if
statements were not de-duplicated and key-ordered.
"""

from __future__ import annotations

import multiprocessing
import traceback
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from collection_pipeline.domain import DateWindow, MatchOutcome, MatchStatus, NormalizedTrack
from collection_pipeline.storage import Database, RawRecordIn
from collection_pipeline.testing.digest import database_digest
from collection_pipeline_tests.support.catalog import make_track, raw_payload

WINDOW = DateWindow(date(2024, 3, 1), date(2024, 3, 4))
TTL = timedelta(days=30)
BATCH = 40


def catalogue_track(n: int) -> NormalizedTrack:
    """Track n: three days, 15 shared artists, 4 namesake labels, 30 releases, ISRCs in pairs.

    Shared entities are consistent (a release always has the same label), as in Beatport.
    """
    return make_track(
        n,
        isrc=None if n % 7 == 0 else f"GBAAA24{n // 2:05d}",
        artists=((n % 15, f"Artist {n % 15}"), ((n + 4) % 15, f"Artist {(n + 4) % 15}")),
        remixers=((n % 5 + 100, f"Remixer {n % 5}"),) if n % 3 == 0 else (),
        label=(n % 30 % 4, "Same Name Records"),
        release_id=n % 30,
        genre=(n % 3, f"Genre {n % 3}"),
        publish_date=date(2024, 3, 1 + n % 3),
    )


def outcome_for(track_id: int, isrc: str, now: datetime) -> MatchOutcome:
    """A deterministic outcome per ISRC, as a deterministic matcher would give."""
    number = int(isrc[-5:])
    if number % 3 == 0:
        return MatchOutcome(track_id, MatchStatus.NOT_FOUND, now)
    return MatchOutcome(track_id, MatchStatus.FOUND, now, f"sp{number}", "earliest", 0.9, 2)


def run_batches(url: str, numbers: list[int], run_id: str, barrier: Any = None) -> None:
    """Collect, process and enrich tracks batch by batch, one unit of work per step."""
    db = Database(url)
    if barrier is not None:
        barrier.wait(timeout=30)
    now = datetime(2024, 4, 1, tzinfo=UTC)
    batches = [numbers[i : i + BATCH] for i in range(0, len(numbers), BATCH)]
    for batch in batches:
        tracks = {str(n): catalogue_track(n) for n in batch}
        with db.unit_of_work() as uow:
            records = [RawRecordIn(k, raw_payload(t), t.publish_date) for k, t in tracks.items()]
            uow.raw.upsert_records("beatport", "track", records, run_id, now=now)
            uow.commit()
        with db.unit_of_work() as uow:
            pending = uow.raw.fetch_unprocessed("beatport", "track", WINDOW, 0, 10_000)
            mine = [r for r in pending if r.external_id in tracks]
            uow.catalog.save_tracks([(r.id, tracks[r.external_id]) for r in mine], run_id, now=now)
            uow.raw.mark_processed([r.id for r in mine], run_id, now=now)
            uow.commit()
        with db.unit_of_work() as uow:
            pending = uow.spotify.pending_tracks(WINDOW, TTL, now, None, 10_000)
            outcomes = [outcome_for(t.track_id, t.isrc, now) for t in pending]
            found = sorted({o.spotify_track_id for o in outcomes if o.spotify_track_id})
            spotify = [RawRecordIn(sp, {"id": sp, "kind": "track"}, None) for sp in found]
            uow.raw.upsert_records("spotify", "track", spotify, run_id, now=now, processed=True)
            linked = uow.raw.record_ids("spotify", "track", found)
            uow.spotify.save_outcomes(outcomes, run_id, spotify_record_ids=linked)
            uow.commit()
    db.dispose()


def _worker(url: str, numbers: list[int], run_id: str, barrier: Any, errors: Any) -> None:
    try:
        run_batches(url, numbers, run_id, barrier)
    except BaseException:
        errors.put(traceback.format_exc())
        raise


FIRST = list(range(0, 240))
SECOND = list(reversed(range(120, 360)))


@pytest.mark.slow
def test_concurrent_overlapping_writers_match_a_sequential_run(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    db.dispose()

    context = multiprocessing.get_context("spawn")
    barrier, errors = context.Barrier(2), context.Queue()
    processes = [
        context.Process(target=_worker, args=(database_url, numbers, run, barrier, errors))
        for numbers, run in ((FIRST, "run-a"), (SECOND, "run-b"))
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    failures = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert [p.exitcode for p in processes] == [0, 0], "\n".join(failures)
    concurrent = database_digest(db)

    db.downgrade("base")
    db.upgrade()
    run_batches(database_url, FIRST, "run-a")
    run_batches(database_url, SECOND, "run-b")
    assert database_digest(db) == concurrent
    db.dispose()
