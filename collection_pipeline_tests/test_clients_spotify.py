"""SpotifyAPIClient against a fake API (httpx.MockTransport): typed results, tokens, batches."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from collection_pipeline.clients import (
    AuthenticationError,
    HttpPolicy,
    SpotifyAPIClient,
    TransientError,
)
from collection_pipeline.testing.defaults import SPOTIFY_CONCURRENCY

CAPTURE = Path(__file__).parent / "reference" / "spotify" / "search_isrc_multiple.json"
NO_WAIT = HttpPolicy(max_attempts=2, backoff_base=0.0, backoff_max=0.0)


class FakeSpotify:
    """Token endpoint plus search; `fail_searches_after` turns every later search into a 401."""

    def __init__(self, fail_searches_after: int | None = None, search_status: int = 200) -> None:
        self.capture = json.loads(CAPTURE.read_text())
        self.capture["tracks"]["items"].insert(1, None)
        self.fail_searches_after = fail_searches_after
        self.search_status = search_status
        self.lock = threading.Lock()
        self.token_requests = 0
        self.searches: list[httpx.QueryParams] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            if request.url.path == "/api/token":
                self.token_requests += 1
                assert request.headers["Authorization"].startswith("Basic ")
                return httpx.Response(200, json={"access_token": "T", "expires_in": 3600})
            self.searches.append(request.url.params)
            after = self.fail_searches_after
            if after is not None and len(self.searches) > after:
                return httpx.Response(401, json={"error": {"status": 401, "message": "Invalid"}})
        if self.search_status != 200:
            return httpx.Response(self.search_status)
        if request.url.params["q"] == "isrc:NOTHING00000":
            return httpx.Response(200, json={"tracks": {"items": [], "total": 0}})
        return httpx.Response(200, json=self.capture)


def client_for(fake: FakeSpotify, **kwargs: object) -> SpotifyAPIClient:
    kwargs.setdefault("max_concurrency", SPOTIFY_CONCURRENCY)
    return SpotifyAPIClient(
        "https://api.test/v1",
        "https://accounts.test/api/token",
        "id",
        "secret",
        transport=httpx.MockTransport(fake),
        **kwargs,  # type: ignore[arg-type]
    )


def test_search_returns_typed_candidates_and_drops_null_items() -> None:
    fake = FakeSpotify()
    with client_for(fake) as client:
        candidates = client.search_tracks_by_isrc("JPPO02100907")
    assert len(candidates) == 6
    first = candidates[0]
    assert first.isrc == "JPPO02100907"
    assert first.artist_names == ("back number",)
    assert first.album_type == "album"
    assert first.release_date_precision == "day"
    assert first.raw["id"] == first.id
    assert {c.album_type for c in candidates} >= {"album", "single", "compilation"}
    params = fake.searches[0]
    assert (params["q"], params["type"], params["limit"]) == ("isrc:JPPO02100907", "track", "10")


def test_an_empty_answer_is_not_found_and_an_error_is_never_not_found() -> None:
    with client_for(FakeSpotify()) as client:
        assert client.search_tracks_by_isrc("NOTHING00000") == []
    failing = client_for(FakeSpotify(search_status=500), policy=NO_WAIT)
    with failing, pytest.raises(TransientError):
        failing.search_tracks_by_isrc("JPPO02100907")


def test_the_token_is_fetched_once_and_shared_by_concurrent_lookups() -> None:
    fake = FakeSpotify()
    with client_for(fake) as client:
        batch = client.search_many([f"ISRC{n:08d}" for n in range(40)])
    assert len(batch.results) == 40
    assert fake.token_requests == 1


def test_limit_above_development_mode_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="search_limit"):
        client_for(FakeSpotify(), search_limit=11)


def test_a_fatal_error_stops_new_lookups_and_keeps_finished_ones() -> None:
    fake = FakeSpotify(fail_searches_after=10)
    isrcs = [f"ISRC{n:08d}" for n in range(300)]
    with client_for(fake, max_concurrency=4) as client:
        batch = client.search_many(isrcs)
    assert isinstance(batch.fatal, AuthenticationError)
    assert "check the Spotify client id and the Spotify client secret" in str(batch.fatal)
    assert len(batch.results) == 10
    assert not set(batch.results) & set(batch.errors)
    never_sent = set(isrcs) - set(batch.results) - set(batch.errors)
    assert len(never_sent) > 250
    assert len(fake.searches) < 40
