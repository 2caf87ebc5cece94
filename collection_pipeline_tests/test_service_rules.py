"""The service's own rules, on fakes of the unit of work and the API clients: no database, no
HTTP, a few milliseconds each. What the SQL repositories and the real clients do is proven in
their own tests on both engines and against the emulator; here only what the service decides.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from collection_pipeline.clients import (
    AuthenticationError,
    BeatportQuery,
    QueryOutcome,
    TransientError,
)
from collection_pipeline.domain import DateWindow
from collection_pipeline.service import (
    CollectionAbortedError,
    CollectionService,
    EnrichmentAbortedError,
)
from collection_pipeline.testing.defaults import NOT_FOUND_TTL
from collection_pipeline.testing.harness import beatport_track
from collection_pipeline_tests.support.fake_clients import (
    ScriptedBeatport,
    ScriptedCrawl,
    ScriptedSpotify,
    page,
    spotify_item,
)
from collection_pipeline_tests.support.fake_uow import FakeDatabase

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
MONDAY, TUESDAY = date(2024, 3, 4), date(2024, 3, 5)
WINDOW = DateWindow(MONDAY, TUESDAY + timedelta(days=1))
QUERY = BeatportQuery((5,), MONDAY, TUESDAY)


def track(track_id: int, day: date, **fields: object) -> dict[str, object]:
    return beatport_track(track_id, publish_date=day.isoformat(), **fields)  # type: ignore[arg-type]


def service(
    db: FakeDatabase,
    beatport: ScriptedBeatport | None = None,
    *,
    spotify: ScriptedSpotify | None = None,
    at: datetime = NOW,
) -> CollectionService:
    """The service on the fake unit of work with scripted clients, its clock fixed at `at`."""
    return CollectionService(
        db.unit_of_work,
        run_id="rules",
        beatport=beatport,  # type: ignore[arg-type]
        spotify=spotify,  # type: ignore[arg-type]
        not_found_ttl=NOT_FOUND_TTL,
        clock=lambda: at,
    )


def complete(query: BeatportQuery, by_day: dict[date, int]) -> QueryOutcome:
    return QueryOutcome(query, sum(by_day.values()), sum(by_day.values()), None, by_day)


# ---------------------------------------------------------------- collect


def test_each_page_is_one_transaction_and_each_day_counts_its_own_records() -> None:
    db = FakeDatabase()
    pages = [
        page(QUERY, 1, 2, [track(1, MONDAY), track(2, MONDAY)]),
        page(QUERY, 2, 2, [track(3, TUESDAY)]),
    ]
    crawl = ScriptedCrawl(pages, [complete(QUERY, {MONDAY: 2, TUESDAY: 1})])

    result = service(db, ScriptedBeatport(crawl)).collect_beatport_tracks_raw(WINDOW, [5])

    assert db.transactions == 2
    assert (result.pages, result.records, result.new) == (2, 3, 3)
    assert {day: (d.received, d.new, d.api_count) for day, d in result.days.items()} == {
        MONDAY: (2, 2, 2),
        TUESDAY: (1, 1, 1),
    }
    assert all(day.complete for day in result.days.values())


def test_a_track_that_moves_to_another_day_mid_collect_is_counted_once_on_its_new_day() -> None:
    db = FakeDatabase()
    pages = [
        page(QUERY, 1, 2, [track(1, MONDAY), track(2, MONDAY)]),
        page(QUERY, 2, 2, [track(1, TUESDAY)]),  # re-dated while the crawl was paging
    ]
    crawl = ScriptedCrawl(pages, [complete(QUERY, {MONDAY: 1, TUESDAY: 1})])

    result = service(db, ScriptedBeatport(crawl)).collect_beatport_tracks_raw(WINDOW, [5])

    assert (result.records, result.new, result.changed) == (2, 2, 0)
    assert (result.days[MONDAY].received, result.days[MONDAY].new) == (1, 1)
    assert (result.days[TUESDAY].received, result.days[TUESDAY].new) == (1, 1)
    stored = {row.external_id: row.partition_date for row in db.read(lambda u: u.raw.rows())}
    assert stored == {"1": TUESDAY, "2": MONDAY}


def test_a_re_collect_counts_changed_and_unchanged_records_apart() -> None:
    db = FakeDatabase()
    first = ScriptedCrawl([page(QUERY, 1, 1, [track(1, MONDAY), track(2, MONDAY)])], [])
    service(db, ScriptedBeatport(first)).collect_beatport_tracks_raw(WINDOW, [5])
    renamed = track(2, MONDAY, name="Glue (Edit)")
    again = ScriptedCrawl([page(QUERY, 1, 1, [track(1, MONDAY), renamed])], [])

    result = service(db, ScriptedBeatport(again)).collect_beatport_tracks_raw(WINDOW, [5])

    assert (result.new, result.changed, result.unchanged) == (0, 1, 1)
    assert (result.days[MONDAY].changed, result.days[MONDAY].unchanged) == (1, 1)


def test_an_incomplete_query_marks_only_its_own_days_and_its_pages_are_kept() -> None:
    db = FakeDatabase()
    monday, tuesday = BeatportQuery((5,), MONDAY, MONDAY), BeatportQuery((5,), TUESDAY, TUESDAY)
    short = QueryOutcome(tuesday, 3, 1, "count 3, 1 arrived", {TUESDAY: 1})
    pages = [page(monday, 1, 1, [track(1, MONDAY)]), page(tuesday, 1, 1, [track(2, TUESDAY)])]
    crawl = ScriptedCrawl(pages, [complete(monday, {MONDAY: 1}), short])

    result = service(db, ScriptedBeatport(crawl)).collect_beatport_tracks_raw(WINDOW, [5])

    assert result.days[MONDAY].complete
    assert result.days[MONDAY].api_count == 1
    assert result.days[TUESDAY].incomplete == short.reason
    assert result.days[TUESDAY].api_count is None, "an incomplete day claims no API count"
    assert len(db.read(lambda u: u.raw.rows())) == 2, "what arrived is stored all the same"


def test_refused_credentials_stop_the_collect_as_final_and_keep_the_pages_stored() -> None:
    db = FakeDatabase()
    refused = AuthenticationError("401: set BEATPORT_ACCESS_TOKEN")
    crawl = ScriptedCrawl([page(QUERY, 1, 3, [track(1, MONDAY)])], [], fails_with=refused)

    with pytest.raises(CollectionAbortedError, match="stopped after 1 pages") as caught:
        service(db, ScriptedBeatport(crawl)).collect_beatport_tracks_raw(WINDOW, [5])

    assert not caught.value.retryable, "a human must fix credentials: no step retry"
    assert caught.value.__cause__ is refused
    assert [row.external_id for row in db.read(lambda u: u.raw.rows())] == ["1"]


def test_collect_asks_the_client_for_the_windows_inclusive_days() -> None:
    beatport = ScriptedBeatport(ScriptedCrawl([], []))
    service(FakeDatabase(), beatport).collect_beatport_tracks_raw(WINDOW, [11, 5])
    assert beatport.asked == [((11, 5), MONDAY, TUESDAY)]


# ---------------------------------------------------------------- process


def collected(db: FakeDatabase, *tracks: dict[str, object]) -> None:
    crawl = ScriptedCrawl([page(QUERY, 1, 1, list(tracks))], [])
    service(db, ScriptedBeatport(crawl)).collect_beatport_tracks_raw(WINDOW, [5])
    db.transactions = 0


def test_a_malformed_record_is_quarantined_in_its_batch_and_never_fails_it() -> None:
    db = FakeDatabase()
    collected(db, track(1, MONDAY), track(2, MONDAY, bpm=-4), track(3, TUESDAY))

    result = service(db).process_unprocessed_beatport_tracks(WINDOW, batch_size=10)

    assert (result.batches, result.processed, result.quarantined) == (1, 2, 1)
    assert result.quarantine_reasons == {"absurd_value:bpm": 1}
    assert db.transactions == 1, "the quarantine is written with the rest of its batch"
    rows = {row.external_id: row for row in db.read(lambda u: u.raw.rows())}
    assert (rows["2"].processed_at, rows["2"].processing_error) == (NOW, "absurd_value:bpm")
    assert (rows["1"].processed_at, rows["1"].processing_error) == (NOW, None)
    assert sorted(db.state.tracks) == [1, 3]


def test_processing_goes_in_keyset_batches_of_one_transaction_each() -> None:
    db = FakeDatabase()
    collected(db, *(track(n, MONDAY) for n in range(1, 6)))

    result = service(db).process_unprocessed_beatport_tracks(WINDOW, batch_size=2)

    assert (result.batches, result.processed) == (3, 5)
    assert db.transactions == 3
    assert service(db).process_unprocessed_beatport_tracks(WINDOW).batches == 0, "none left"


def test_a_batch_size_below_one_is_refused_before_any_work() -> None:
    db = FakeDatabase()
    with pytest.raises(ValueError, match="batch_size"):
        service(db).process_unprocessed_beatport_tracks(WINDOW, batch_size=0)
    assert db.transactions == 0


# ---------------------------------------------------------------- enrich

ISRC_A, ISRC_B, ISRC_C = "GBAYE2400001", "GBAYE2400002", "GBAYE2400003"


def catalogued(db: FakeDatabase, *tracks: dict[str, object]) -> None:
    """The tracks collected and processed into the fake catalogue."""
    collected(db, *tracks)
    service(db).process_unprocessed_beatport_tracks(WINDOW)
    db.transactions = 0


def outcomes(db: FakeDatabase) -> dict[int, str]:
    return {track_id: row.outcome.status for track_id, row in sorted(db.state.outcomes.items())}


def test_a_failed_search_is_an_error_outcome_never_not_found_and_is_searched_again() -> None:
    db = FakeDatabase()
    catalogued(db, track(1, MONDAY, isrc=ISRC_A), track(2, MONDAY, isrc=ISRC_B))
    failing = ScriptedSpotify(
        {ISRC_A: TransientError("HTTP 500", 500), ISRC_B: [spotify_item("sp-b", ISRC_B, "Bicep")]}
    )

    first = service(db, spotify=failing).enrich_tracks_with_spotify_data(WINDOW)

    assert (first.found, first.not_found, first.errors) == (1, 0, 1)
    assert outcomes(db) == {1: "error", 2: "found"}
    healthy = ScriptedSpotify({ISRC_A: [spotify_item("sp-a", ISRC_A, "Bicep")]})
    second = service(db, spotify=healthy).enrich_tracks_with_spotify_data(WINDOW)
    assert healthy.searched == [ISRC_A], "only the failed search is sent again"
    assert (second.total, second.found) == (1, 1)
    assert outcomes(db) == {1: "found", 2: "found"}


def test_tracks_sharing_an_isrc_are_searched_once_and_each_gets_its_outcome() -> None:
    db = FakeDatabase()
    catalogued(db, track(1, MONDAY, isrc=ISRC_A), track(2, TUESDAY, isrc=ISRC_A))
    spotify = ScriptedSpotify({ISRC_A: [spotify_item("sp-a", ISRC_A, "Bicep")]})

    result = service(db, spotify=spotify).enrich_tracks_with_spotify_data(WINDOW)

    assert spotify.searched == [ISRC_A]
    assert (result.total, result.found, result.isrcs_searched) == (2, 2, 1)
    assert outcomes(db) == {1: "found", 2: "found"}


def test_a_match_links_its_spotify_json_stored_once_as_already_processed() -> None:
    db = FakeDatabase()
    catalogued(db, track(1, MONDAY, isrc=ISRC_A), track(2, TUESDAY, isrc=ISRC_A))
    spotify = ScriptedSpotify({ISRC_A: [spotify_item("sp-a", ISRC_A, "Bicep")]})

    service(db, spotify=spotify).enrich_tracks_with_spotify_data(WINDOW)

    [stored] = db.read(lambda u: u.raw.rows("spotify"))
    assert (stored.external_id, stored.processed_at) == ("sp-a", NOW)
    linked = {row.spotify_record_id for row in db.state.outcomes.values()}
    assert linked == {stored.id}


def test_a_fatal_stop_saves_the_decided_outcomes_then_raises_a_retryable_abort() -> None:
    db = FakeDatabase()
    catalogued(
        db,
        track(1, MONDAY, isrc=ISRC_A),
        track(2, MONDAY, isrc=ISRC_B),
        track(3, MONDAY, isrc=ISRC_C),
    )
    spotify = ScriptedSpotify({ISRC_A: [spotify_item("sp-a", ISRC_A, "Bicep")]}, fatal_at=ISRC_B)

    with pytest.raises(EnrichmentAbortedError, match="penalty") as caught:
        service(db, spotify=spotify).enrich_tracks_with_spotify_data(WINDOW, batch_size=10)

    assert caught.value.retryable, "a penalty passes with time: the step may retry"
    assert outcomes(db) == {1: "found", 2: "error"}, "track 3 was never sent: no outcome"
    assert db.transactions == 1, "the decided outcomes were committed before the raise"


def test_a_not_found_is_searched_again_only_once_its_ttl_has_passed() -> None:
    db = FakeDatabase()
    catalogued(db, track(1, MONDAY, isrc=ISRC_A))
    spotify = ScriptedSpotify({})
    service(db, spotify=spotify).enrich_tracks_with_spotify_data(WINDOW)
    assert outcomes(db) == {1: "not_found"}

    within = NOW + NOT_FOUND_TTL - timedelta(hours=1)
    assert (
        service(db, spotify=spotify, at=within).enrich_tracks_with_spotify_data(WINDOW).total == 0
    )
    past = NOW + NOT_FOUND_TTL + timedelta(hours=1)
    assert service(db, spotify=spotify, at=past).enrich_tracks_with_spotify_data(WINDOW).total == 1
    assert spotify.searched == [ISRC_A, ISRC_A]
