"""Scripted API clients for fast service tests: the pages and verdicts a crawl yields, or the
failure it raises, written out by the test instead of served over HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from collection_pipeline.clients import ApiError, BeatportPage, BeatportQuery, QueryOutcome
from collection_pipeline.clients.stats import RequestStats


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
