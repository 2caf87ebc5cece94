"""Scripted API clients for service tests: the pages and verdicts a crawl yields, or the failure
it raises, and what each ISRC search answers, written out by the test instead of served over
HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from collection_pipeline.clients import (
    AdaptivePacer,
    ApiError,
    BeatportPage,
    BeatportQuery,
    LookupBatch,
    QueryOutcome,
    RateLimitedError,
    RequestStats,
    SpotifyCandidate,
)


class ScriptedCrawl:
    """Yields the scripted pages, then raises `fails_with` if given; `outcomes` afterwards."""

    def __init__(
        self,
        pages: Sequence[BeatportPage],
        outcomes: Sequence[QueryOutcome],
        fails_with: ApiError | None = None,
    ) -> None:
        self._pages = pages
        self._fails_with = fails_with
        self.outcomes = list(outcomes)

    def __iter__(self) -> Iterator[BeatportPage]:
        yield from self._pages
        if self._fails_with is not None:
            raise self._fails_with


class ScriptedBeatport:
    """`BeatportAPIClient.crawl` answered by one `ScriptedCrawl`; `asked` records each crawl."""

    def __init__(self, crawl: ScriptedCrawl) -> None:
        self.stats = RequestStats()
        self._crawl = crawl
        self.asked: list[tuple[tuple[int, ...], date, date]] = []

    def crawl(self, genre_ids: Sequence[int], date_from: date, date_to: date) -> ScriptedCrawl:
        self.asked.append((tuple(genre_ids), date_from, date_to))
        return self._crawl


def page(query: BeatportQuery, number: int, total: int, tracks: list[Any]) -> BeatportPage:
    """A page of `query` holding `tracks` (its count: what the scripted query holds)."""
    return BeatportPage(query, number, total, count=len(tracks), tracks=tracks)


class ScriptedSpotify:
    """Answers `search_many` from a script: candidates, an error, or a fatal stop."""

    def __init__(
        self,
        answers: dict[str, list[SpotifyCandidate] | Exception],
        *,
        fatal_at: str | None = None,
    ) -> None:
        self.answers = answers
        self.fatal_at = fatal_at
        self.stats = RequestStats()
        self.pacer = AdaptivePacer()
        self.rate_key = "spotify:scripted"
        self.searched: list[str] = []

    def search_many(self, isrcs: Sequence[str]) -> LookupBatch:
        batch = LookupBatch()
        for isrc in isrcs:
            self.stats.record_response(200)
            self.searched.append(isrc)
            if isrc == self.fatal_at:
                batch.fatal = RateLimitedError("penalty of 3600 s", 3600, beyond_cap=True)
                batch.errors[isrc] = batch.fatal
                return batch
            answer = self.answers.get(isrc, [])
            if isinstance(answer, Exception):
                batch.errors[isrc] = answer  # type: ignore[assignment]
            else:
                batch.results[isrc] = answer
        return batch


def spotify_item(track_id: str, isrc: str, artist: str, released: str = "2020") -> SpotifyCandidate:
    return SpotifyCandidate.from_json(
        {
            "id": track_id,
            "name": "Glue",
            "external_ids": {"isrc": isrc},
            "artists": [{"name": artist}],
            "album": {"album_type": "album", "release_date": released},
        }
    )
