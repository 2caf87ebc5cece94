"""CollectionService.enrich_tracks_with_spotify_data: outcomes, errors, fatal stops, TTL.

End-to-end cases use real storage and real clients against the emulator; the cases that need
an exact failure at an exact point use a scripted Spotify client in place of HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from collection_pipeline.clients import (
    AuthenticationError,
    HttpPolicy,
    RateLimitedError,
    TransientError,
)
from collection_pipeline.domain import DateWindow, MatchStatus
from collection_pipeline.emulator import FaultRates
from collection_pipeline.service import CollectionService, EnrichmentAbortedError, ServiceError
from collection_pipeline.storage import Database, RawRecordIn
from collection_pipeline.testing.defaults import NOT_FOUND_TTL
from collection_pipeline.testing.digest import database_digest
from collection_pipeline.testing.harness import (
    beatport_track,
    migrated_database,
    real_service,
    recheck_days,
    run_pipeline,
    window_report,
)
from collection_pipeline_tests.support.fake_clients import ScriptedSpotify, spotify_item

DAY = date(2024, 3, 1)
WINDOW = DateWindow(DAY, DAY + timedelta(days=2))
GENRES = (5, 11)
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    with migrated_database(database_url) as database:
        yield database


@pytest.fixture
def sqlite_db(tmp_path) -> Iterator[Database]:
    """For the HTTP cases: the engine is covered above, the emulator runs are the cost."""
    with migrated_database(f"sqlite:///{tmp_path / 'catalogue.db'}") as database:
        yield database


def statuses(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return dict(
            conn.execute(
                sa.text("SELECT status, COUNT(*) FROM spotify_track_matches GROUP BY status")
            ).all()
        )


def seed_tracks(db: Database, *payloads: dict[str, Any]) -> None:
    records = [
        RawRecordIn(str(p["id"]), p, date.fromisoformat(p["publish_date"])) for p in payloads
    ]
    with db.unit_of_work() as uow:
        uow.raw.upsert_records("beatport", "track", records, "seed", now=NOW)
        uow.commit()
    CollectionService(
        db.unit_of_work, run_id="seed", not_found_ttl=NOT_FOUND_TTL
    ).process_unprocessed_beatport_tracks(WINDOW)


def scripted_service(
    db: Database, spotify: ScriptedSpotify, *, clock: datetime = NOW, run_id: str = "enrich"
) -> CollectionService:
    return CollectionService(
        db.unit_of_work,
        run_id=run_id,
        spotify=spotify,  # type: ignore[arg-type]
        clock=lambda: clock,
        not_found_ttl=NOT_FOUND_TTL,
    )


ISRC_A, ISRC_B, ISRC_C = "GBAYE2400001", "GBAYE2400002", "GBAYE2400003"


def test_one_search_per_isrc_and_one_outcome_per_track(db: Database) -> None:
    seed_tracks(
        db,
        beatport_track(1, isrc=ISRC_A, artists=[(1, "Bicep")]),
        beatport_track(2, isrc=ISRC_A.lower(), artists=[(2, "Bicep")]),  # compilation copy
        beatport_track(3, isrc=ISRC_B, artists=[(3, "Hammer")]),
        beatport_track(4, isrc="not an isrc"),
    )
    chosen = spotify_item("sp-a", ISRC_A, "Bicep", "2017")
    spotify = ScriptedSpotify({ISRC_A: [spotify_item("sp-z", ISRC_A, "Bicep", "2019"), chosen]})
    progress: list[str] = []

    result = scripted_service(db, spotify).enrich_tracks_with_spotify_data(
        WINDOW, batch_size=1, progress=progress.append
    )

    assert sorted(spotify.searched) == [ISRC_A, ISRC_B]
    assert (result.total, result.processed, result.found, result.not_found, result.errors) == (
        3,
        3,
        2,
        1,
        0,
    )
    assert (result.batches, result.isrcs_searched, result.requests.requests) == (2, 2, 2)
    assert len(progress) == 2
    with db.engine.connect() as conn:
        outcomes = conn.execute(
            sa.text(
                "SELECT t.beatport_id, m.status, m.spotify_track_id, m.match_rule, "
                "m.candidate_count FROM spotify_track_matches m JOIN tracks t ON t.id = m.track_id "
                "ORDER BY t.beatport_id"
            )
        ).all()
        stored = conn.execute(
            sa.text("SELECT external_id FROM external_data WHERE provider = 'spotify'")
        ).all()
    assert [tuple(row) for row in outcomes] == [
        (1, "found", "sp-a", "isrc_artist:earliest_release", 2),
        (2, "found", "sp-a", "isrc_artist:earliest_release", 2),
        (3, "not_found", None, "none:no_candidates", 0),
    ]
    assert [tuple(row) for row in stored] == [("sp-a",)]


def test_failed_search_is_an_error_outcome_and_is_retried_next_run(db: Database) -> None:
    seed_tracks(db, beatport_track(1, isrc=ISRC_A), beatport_track(2, isrc=ISRC_B))
    failing = ScriptedSpotify(
        {ISRC_A: TransientError("HTTP 500", 500), ISRC_B: [spotify_item("sp-b", ISRC_B, "Bicep")]}
    )

    first = scripted_service(db, failing).enrich_tracks_with_spotify_data(WINDOW)

    assert (first.found, first.not_found, first.errors) == (1, 0, 1)
    assert statuses(db) == {"error": 1, "found": 1}
    report = window_report(db, WINDOW, NOW)
    assert (report.outcomes.error, report.outcomes.not_found, report.outcomes.pending) == (1, 0, 1)
    assert recheck_days(db, NOW) == [DAY]

    healthy = ScriptedSpotify({ISRC_A: [spotify_item("sp-a", ISRC_A, "Bicep")]})
    second = scripted_service(db, healthy, run_id="next").enrich_tracks_with_spotify_data(WINDOW)

    assert healthy.searched == [ISRC_A]
    assert (second.total, second.found, second.errors) == (1, 1, 0)
    assert statuses(db) == {"found": 2}
    assert recheck_days(db, NOW) == []


def test_fatal_stop_saves_finished_outcomes_then_raises(db: Database) -> None:
    seed_tracks(
        db,
        beatport_track(1, isrc=ISRC_A),
        beatport_track(2, isrc=ISRC_B),
        beatport_track(3, isrc=ISRC_C),
    )
    spotify = ScriptedSpotify({ISRC_A: [spotify_item("sp-a", ISRC_A, "Bicep")]}, fatal_at=ISRC_B)

    with pytest.raises(EnrichmentAbortedError, match="penalty") as caught:
        scripted_service(db, spotify).enrich_tracks_with_spotify_data(WINDOW, batch_size=10)

    assert caught.value.retryable
    assert isinstance(caught.value.__cause__, RateLimitedError)
    assert statuses(db) == {"found": 1, "error": 1}  # ISRC_C never sent: still no outcome
    report = window_report(db, WINDOW, NOW)
    assert (report.outcomes.found, report.outcomes.pending) == (1, 2)


def test_not_found_is_searched_again_after_its_ttl(db: Database) -> None:
    seed_tracks(db, beatport_track(1, isrc=ISRC_A))
    spotify = ScriptedSpotify({})
    scripted_service(db, spotify).enrich_tracks_with_spotify_data(WINDOW)

    before, after = NOW + NOT_FOUND_TTL - timedelta(days=1), NOW + NOT_FOUND_TTL + timedelta(days=1)
    within_ttl = scripted_service(db, spotify, clock=before)
    assert within_ttl.enrich_tracks_with_spotify_data(WINDOW).total == 0
    assert recheck_days(db, before) == []

    after_ttl = scripted_service(db, spotify, clock=after)
    assert recheck_days(db, after) == [DAY]
    assert after_ttl.enrich_tracks_with_spotify_data(WINDOW).total == 1
    assert spotify.searched == [ISRC_A, ISRC_A]


def test_enrich_without_a_spotify_client_is_refused(db: Database) -> None:
    with pytest.raises(RuntimeError, match="Spotify client"):
        CollectionService(
            db.unit_of_work, run_id="x", not_found_ttl=NOT_FOUND_TTL
        ).enrich_tracks_with_spotify_data(WINDOW)


# ---------------------------------------------------------------- real HTTP against the emulator


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(FaultRates(server_error=1.0, max_consecutive=10**6), id="http-500"),
        pytest.param(
            FaultRates(slow=1.0, slow_delay_s=0.4, max_consecutive=10**6),
            id="timeout",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_spotify_outage_is_never_stored_as_not_found(
    sqlite_db: Database, emulator_url, faults: FaultRates
) -> None:
    db, window = sqlite_db, DateWindow.single_day(DAY)
    healthy_url = emulator_url()
    broken_url = emulator_url(faults=faults)
    with real_service(db, healthy_url, "collect") as service:
        service.collect_beatport_tracks_raw(window, GENRES[:1])
        service.process_unprocessed_beatport_tracks(window)
    impatient = HttpPolicy(max_attempts=1, read_timeout=0.2, backoff_base=0.01, backoff_max=0.02)

    with real_service(db, broken_url, "outage", spotify_policy=impatient) as service:
        outage = service.enrich_tracks_with_spotify_data(window, batch_size=100)

    assert outage.total > 0
    assert (outage.found, outage.not_found, outage.errors) == (0, 0, outage.total)
    assert statuses(db) == {"error": outage.total}

    with real_service(db, healthy_url, "recovery") as service:
        recovery = service.enrich_tracks_with_spotify_data(window, batch_size=100)
    report = window_report(db, window)

    assert recovery.total == outage.total
    assert recovery.errors == 0
    assert recovery.found + recovery.not_found == outage.total
    assert (report.outcomes.error, report.outcomes.pending) == (0, 0)


def test_recovered_run_ends_like_a_clean_one(emulator_url, tmp_path) -> None:
    window = DateWindow.single_day(DAY)
    healthy_url = emulator_url()
    broken_url = emulator_url(faults=FaultRates(server_error=0.5, max_consecutive=10**6))
    impatient = HttpPolicy(max_attempts=1, backoff_base=0.01)
    with migrated_database(f"sqlite:///{tmp_path / 'clean.db'}") as clean:
        run_pipeline(clean, healthy_url, window, GENRES[:1])
        expected = database_digest(clean)
    with migrated_database(f"sqlite:///{tmp_path / 'recovered.db'}") as db:
        with real_service(db, healthy_url, "collect") as service:
            service.collect_beatport_tracks_raw(window, GENRES[:1])
            service.process_unprocessed_beatport_tracks(window)
        with real_service(db, broken_url, "outage", spotify_policy=impatient) as service:
            assert service.enrich_tracks_with_spotify_data(window).errors > 0
        run_pipeline(db, healthy_url, window, GENRES[:1], "recovery")
        assert database_digest(db) == expected


def test_wrong_spotify_credentials_stop_the_run_clearly(sqlite_db: Database, emulator_url) -> None:
    db = sqlite_db
    url = emulator_url(
        credentials={"spotify_client_id": "right-id", "spotify_client_secret": "right-secret"}
    )
    seed_tracks(db, beatport_track(1, isrc=ISRC_A))
    with real_service(db, url, "auth") as service, pytest.raises(EnrichmentAbortedError) as caught:
        service.enrich_tracks_with_spotify_data(WINDOW)
    assert not caught.value.retryable
    assert isinstance(caught.value, ServiceError)  # the Dagster layer fails fast on these
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert "SPOTIFY_CLIENT" in str(caught.value)
    assert MatchStatus.NOT_FOUND.value not in statuses(db)


def test_penalty_past_the_cap_stops_the_run(sqlite_db: Database, emulator_url) -> None:
    db = sqlite_db
    url = emulator_url(profile="penalty")
    seed_tracks(db, beatport_track(1, isrc=ISRC_A), beatport_track(2, isrc=ISRC_B))
    with (
        real_service(db, url, "penalty") as service,
        pytest.raises(EnrichmentAbortedError) as caught,
    ):
        service.enrich_tracks_with_spotify_data(WINDOW)
    assert caught.value.retryable
    assert MatchStatus.NOT_FOUND.value not in statuses(db)
    assert MatchStatus.FOUND.value not in statuses(db)
