"""Both clients against the emulator over loopback HTTP: faults, penalties, tokens, credentials."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import httpx
import pytest
from starlette.testclient import TestClient

from collection_pipeline.clients import (
    AuthenticationError,
    BeatportAPIClient,
    HttpPolicy,
    RateLimitedError,
    SpotifyAPIClient,
)
from collection_pipeline.emulator import EmulatorConfig, create_app
from collection_pipeline.emulator.config import FaultRates
from collection_pipeline.testing.defaults import BEATPORT_CONCURRENCY, SPOTIFY_CONCURRENCY
from collection_pipeline_tests.support import scaled_cap
from collection_pipeline_tests.support.emulator_http import InProcessTransport

GENRES = [5, 11, 12, 90, 6, 1]
FROM, TO = date(2024, 3, 1), date(2024, 3, 3)
FAST = HttpPolicy(backoff_base=0.01, backoff_max=0.05, read_timeout=1.0)
SECRETS = ("bp-access-SECRET", "bp-refresh-SECRET", "bp-client-SECRET", "sp-client-SECRET")


def spotify_client(url: str, client_id: str = "sp-id", **options: object) -> SpotifyAPIClient:
    """A Spotify client on the emulator at `url`, with a secret the logs must never show."""
    return SpotifyAPIClient(
        f"{url}/v1",
        f"{url}/api/token",
        client_id,
        "sp-client-SECRET",
        max_concurrency=SPOTIFY_CONCURRENCY,
        **options,  # type: ignore[arg-type]
    )


def truth(base_url: str) -> list[dict]:
    params = {"publish_date": f"{FROM}:{TO}", "genre_id": ",".join(map(str, GENRES))}
    return httpx.get(f"{base_url}/_emulator/truth", params=params).json()["tracks"]


def crawl(client: BeatportAPIClient) -> list[int]:
    return [track["id"] for page in client.get_tracks(GENRES, FROM, TO) for track in page.tracks]


def test_flaky_beatport_crawl_is_complete_without_duplicates(
    emulator_url: Callable[..., str],
) -> None:
    faults = FaultRates(
        server_error=0.1,
        truncated=0.1,
        page_shift=0.3,
        beatport_401_after=4,
        slow=0.02,
        slow_delay_s=1.5,
    )
    url = emulator_url(profile="flaky", faults=faults)
    with BeatportAPIClient(
        f"{url}/v4",
        "bp-access-SECRET",
        refresh_token="bp-refresh-SECRET",
        client_id="bp-client-SECRET",
        policy=FAST,
        page_size=25,
        max_concurrency=BEATPORT_CONCURRENCY,
    ) as client:
        crawl = client.crawl(GENRES, FROM, TO)
        pages = list(crawl)
        counters = client.stats.snapshot()
    ids = [track["id"] for page in pages for track in page.tracks]
    expected = {track["beatport_id"] for track in truth(url)}
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert crawl.complete
    assert sum(outcome.count or 0 for outcome in crawl.outcomes) == len(expected)
    assert counters.by_status.get(401, 0) >= 1  # the token was revoked mid-crawl and refreshed
    assert counters.retries >= 1


def test_a_401_mid_crawl_refreshes_the_token_and_loses_no_page(
    emulator_url: Callable[..., str],
) -> None:
    url = emulator_url(profile="flaky", faults=FaultRates(beatport_401_after=3))
    with BeatportAPIClient(
        f"{url}/v4",
        "bp-access-SECRET",
        refresh_token="bp-refresh-SECRET",
        client_id="bp-client-SECRET",
        page_size=20,
        max_concurrency=BEATPORT_CONCURRENCY,
    ) as client:
        ids = crawl(client)
        counters = client.stats.snapshot()
    assert sorted(ids) == sorted(t["beatport_id"] for t in truth(url))
    assert counters.by_status[401] >= 1


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (
            None,
            "Beatport rejected the Beatport access token (401) and no refresh is configured: "
            "renew the Beatport access token, or set the Beatport refresh token and the "
            "Beatport client id",
        ),
        (
            {
                "beatport_access_token": "A",
                "beatport_refresh_token": "R",
                "beatport_client_id": "C",
            },
            "Beatport rejected A (401) and no refresh is configured: renew A, or set R and C",
        ),
    ],
    ids=["credentials named by the client", "named by the caller"],
)
def test_a_401_without_refresh_credentials_names_the_credentials(
    emulator_url: Callable[..., str], names: dict[str, str] | None, expected: str
) -> None:
    url = emulator_url(profile="flaky", faults=FaultRates(beatport_401_after=2))
    client = BeatportAPIClient(
        f"{url}/v4",
        "bp-access-SECRET",
        page_size=20,
        max_concurrency=BEATPORT_CONCURRENCY,
        credential_names=names,
    )
    with client, pytest.raises(AuthenticationError) as caught:
        crawl(client)
    assert str(caught.value) == expected


@pytest.mark.slow
def test_flaky_spotify_lookups_equal_the_fault_free_answers(
    emulator_url: Callable[..., str],
) -> None:
    clean, flaky = (
        emulator_url(profile="default"),
        emulator_url(
            profile="flaky",
            faults=FaultRates(
                server_error=0.1, truncated=0.1, burst_429=0.02, burst_retry_after_s=1
            ),
        ),
    )
    isrcs = sorted({t["isrc"] for t in truth(clean) if t["isrc"]})[:80]
    answers = []
    for url in (clean, flaky):
        with spotify_client(url, policy=FAST) as client:
            batch = client.search_many(isrcs)
        assert batch.fatal is None
        assert batch.errors == {}
        answers.append({isrc: [c.id for c in found] for isrc, found in batch.results.items()})
    assert answers[0] == answers[1]
    assert len(answers[0]) == len(isrcs)
    assert any(answers[0].values())


def test_penalty_gives_a_clear_retryable_error_quickly(emulator_url: Callable[..., str]) -> None:
    url = emulator_url(profile="penalty")
    with spotify_client(url) as client:
        with pytest.raises(RateLimitedError) as caught:
            client.search_tracks_by_isrc("USRC17607839")
        batch = client.search_many([f"USRC1760{n:04d}" for n in range(200)])
        counters = client.stats.snapshot()
    # Quickly, counted rather than timed: nothing was retried, so nothing waited, and the
    # batch sent no search into the penalty (its pacer refuses past the cap at once).
    assert counters.retries == 0
    assert counters.by_status == {200: 1, 429: 1}  # the token and the one refused search
    assert caught.value.retryable
    assert caught.value.retry_after == 3600
    assert "3600" in str(caught.value)
    assert isinstance(batch.fatal, RateLimitedError)
    assert batch.results == {}
    assert len(batch.errors) < 200  # lookups after the fatal error were never launched


def test_wrong_spotify_credentials_are_a_clear_authentication_error(
    emulator_url: Callable[..., str],
) -> None:
    url = emulator_url(credentials={"spotify_client_id": "right", "spotify_client_secret": "ok"})
    with spotify_client(url, client_id="wrong") as client:
        with pytest.raises(AuthenticationError, match="the Spotify client id") as caught:
            client.search_tracks_by_isrc("USRC17607839")
        batch = client.search_many(["USRC17607839", "USRC17607840", "USRC17607841"])
        token_requests = client.stats.snapshot().by_status.get(400, 0)
    assert "sp-client-SECRET" not in str(caught.value)
    assert isinstance(batch.fatal, AuthenticationError)
    assert token_requests == 1  # the refusal is remembered, the token endpoint not hammered


def test_wrong_beatport_refresh_token_is_a_clear_authentication_error(
    emulator_url: Callable[..., str],
) -> None:
    url = emulator_url(credentials={"beatport_refresh_token": "right"})
    with (
        BeatportAPIClient(
            f"{url}/v4",
            None,
            refresh_token="bp-refresh-SECRET",
            client_id="bp-client-SECRET",
            max_concurrency=BEATPORT_CONCURRENCY,
        ) as client,
        pytest.raises(AuthenticationError, match="the Beatport refresh token") as caught,
    ):
        crawl(client)
    assert "bp-refresh-SECRET" not in str(caught.value)


def in_process_spotify(app_client: TestClient, clock: Callable[[], float]) -> SpotifyAPIClient:
    """A Spotify client on the emulator app in this process, its token cache on `clock`."""
    transport = InProcessTransport(app_client)
    return spotify_client("http://emulator", transport=transport, clock=clock)


def test_expiring_spotify_tokens_are_renewed_before_they_expire() -> None:
    now = [0.0]  # one clock for the emulator and the client's token cache, moved by the test
    app = create_app(EmulatorConfig(spotify_token_lifetime_s=1), clock=lambda: now[0])
    with (
        TestClient(app, base_url="http://emulator") as app_client,
        in_process_spotify(app_client, clock=lambda: now[0]) as client,
    ):
        for _ in range(3):  # at 0, 0.6 and 1.2 s of a 1 s lifetime
            assert isinstance(client.search_tracks_by_isrc("USRC17607839"), list)
            now[0] += 0.6
        counters = client.stats.snapshot()
    assert counters.by_status == {200: 5}  # 3 searches and 2 tokens: renewed early, never a 401


def test_a_token_that_expired_unnoticed_is_refreshed_once_after_its_401() -> None:
    now = [0.0]  # the emulator's clock only: the client's token cache does not see time pass
    app = create_app(EmulatorConfig(spotify_token_lifetime_s=1), clock=lambda: now[0])
    with (
        TestClient(app, base_url="http://emulator") as app_client,
        in_process_spotify(app_client, clock=lambda: 0.0) as client,
    ):
        for _ in range(3):
            assert isinstance(client.search_tracks_by_isrc("USRC17607839"), list)
            now[0] += 0.6
        counters = client.stats.snapshot()
    assert counters.by_status == {
        200: 5,
        401: 1,
    }  # the search at 1.2 s: refused, refreshed, retried


@pytest.mark.slow
def test_no_secret_reaches_logs_exceptions_or_reprs(
    emulator_url: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    faults = FaultRates(server_error=0.2, truncated=0.2, beatport_401_after=2, burst_429=0.03)
    url = emulator_url(profile="flaky", faults=faults)
    strict = emulator_url(
        credentials={
            "spotify_client_id": "x",
            "spotify_client_secret": "y",
            "beatport_client_id": "z",
            "beatport_access_token": "t",
        }
    )
    texts: list[str] = []
    beatport = BeatportAPIClient(
        f"{url}/v4",
        "bp-access-SECRET",
        refresh_token="bp-refresh-SECRET",
        client_id="bp-client-SECRET",
        policy=FAST,
        page_size=50,
        max_concurrency=BEATPORT_CONCURRENCY,
    )
    spotify = spotify_client(url)
    texts += [repr(beatport), repr(spotify), repr(beatport._auth), repr(spotify._auth)]
    crawl(beatport)
    batch = spotify.search_many([f"USRC1760{n:04d}" for n in range(30)])
    texts += [repr(batch), str(batch.errors)]
    failing = [
        lambda: crawl(
            BeatportAPIClient(
                f"{strict}/v4",
                "bp-access-SECRET",
                policy=FAST,
                max_concurrency=BEATPORT_CONCURRENCY,
            )
        ),
        lambda: crawl(
            BeatportAPIClient(
                f"{strict}/v4",
                None,
                refresh_token="bp-refresh-SECRET",
                client_id="bp-client-SECRET",
                max_concurrency=BEATPORT_CONCURRENCY,
            )
        ),
        lambda: spotify_client(strict).search_tracks_by_isrc("USRC17607839"),
    ]
    for action in failing:
        with pytest.raises(AuthenticationError) as caught:
            action()
        texts += [str(caught.value), repr(caught.value)]
    beatport.close()
    spotify.close()
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    assert len(texts) > 10
    leaked = [(secret, text) for text in texts for secret in SECRETS if secret in text]
    assert leaked == []


@pytest.mark.slow
def test_queries_past_the_count_cap_are_split_by_day_then_by_genre(
    emulator_url: Callable[..., str],
) -> None:
    """2,200 tracks at a tenth of the cap (support/scaled_cap.py), 1,100 a genre: `count` is
    capped for the whole query and for each genre."""
    per_day = scaled_cap.CAP // 10  # per genre
    url = emulator_url(tracks_per_day=per_day, **scaled_cap.EMULATOR)
    genres, first, last = [5, 11], date(2024, 3, 1), date(2024, 3, 11)
    with BeatportAPIClient(
        f"{url}/v4",
        "bp-access-SECRET",
        max_concurrency=BEATPORT_CONCURRENCY,
        **scaled_cap.CLIENT,
    ) as client:
        crawl = client.crawl(genres, first, last)
        pages = list(crawl)
    ids = [track["id"] for page in pages for track in page.tracks]
    params = {"publish_date": f"{first}:{last}", "genre_id": "5,11"}
    truth_tracks = httpx.get(f"{url}/_emulator/truth", params=params, timeout=60).json()["tracks"]
    expected = {track["beatport_id"] for track in truth_tracks}
    assert len(expected) == 2 * 11 * per_day
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert crawl.complete
    assert all(outcome.count and outcome.count < scaled_cap.CAP for outcome in crawl.outcomes)
    assert sum(outcome.count or 0 for outcome in crawl.outcomes) == len(expected)
