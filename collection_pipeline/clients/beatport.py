"""Beatport API v4 client: complete, de-duplicated track crawls by genre and publish date.

A crawl must never end short without saying so. Every query's distinct tracks are checked against
the API's `count`; a short query is re-crawled finer (by genre, then by day, where single pages
cannot shift) a bounded number of times before an IncompleteCrawlError; and a query whose `count`
reaches the API's 10000 cap is split the same way before any of its pages is used.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from collection_pipeline.clients.auth import BeatportCredentials
from collection_pipeline.clients.errors import IncompleteCrawlError, MalformedResponseError
from collection_pipeline.clients.policy import HttpPolicy, PolicySender, redact_url
from collection_pipeline.clients.stats import RequestStats
from collection_pipeline.normalization import content_key

COUNT_CAP = 10_000
"""Beatport never reports a `count` above this: a query that reaches it may hold more."""


@dataclass(frozen=True)
class BeatportQuery:
    """Tracks of any of `genre_ids` published between `date_from` and `date_to` inclusive."""

    genre_ids: tuple[int, ...]
    date_from: date
    date_to: date

    @property
    def label(self) -> str:
        genres = ",".join(str(g) for g in self.genre_ids)
        return f"genre {genres} {self.date_from.isoformat()}:{self.date_to.isoformat()}"

    def params(self, per_page: int) -> dict[str, str | int]:
        return {
            "genre_id": ",".join(str(g) for g in self.genre_ids),
            "publish_date": f"{self.date_from.isoformat()}:{self.date_to.isoformat()}",
            "per_page": per_page,
            "order_by": "id",
            "page": 1,
        }

    def split(self) -> list[BeatportQuery]:
        """Disjoint finer queries covering this one: by genre, then by day; [] when atomic."""
        if len(self.genre_ids) > 1:
            return [BeatportQuery((g,), self.date_from, self.date_to) for g in self.genre_ids]
        days = (self.date_to - self.date_from).days + 1
        if days > 1:
            return [
                BeatportQuery(self.genre_ids, day, day)
                for day in (self.date_from + timedelta(n) for n in range(days))
            ]
        return []


@dataclass(frozen=True)
class BeatportPage:
    """One fetched page; `query`/`count` are those of the query whose completeness was checked.

    `source` is the finer query actually fetched when this page comes from a re-crawl of a short
    query (None otherwise); summing `count` over distinct `query` labels gives the expected total.
    """

    query: BeatportQuery
    number: int
    total_pages: int
    count: int
    tracks: list[dict] = field(repr=False)
    duplicates_dropped: int = 0
    source: BeatportQuery | None = None


@dataclass(frozen=True)
class _Envelope:
    count: int
    number: int
    total_pages: int
    results: list[Any]
    next: str | None


class BeatportAPIClient:
    def __init__(
        self,
        base_url: str,
        access_token: str | None,
        *,
        refresh_token: str | None = None,
        client_id: str | None = None,
        policy: HttpPolicy | None = None,
        max_concurrency: int = 8,
        page_size: int = 100,
        max_recrawls: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or HttpPolicy()
        self.stats = RequestStats()
        self.page_size = page_size
        self.max_recrawls = max_recrawls
        self._http = httpx.Client(
            timeout=self.policy.timeout(),
            limits=httpx.Limits(max_connections=max_concurrency + 2),
            transport=transport,
        )
        self._sender = PolicySender(self._http, self.policy, self.stats)
        self._auth = BeatportCredentials(
            f"{self.base_url}/auth/o/token/",
            access_token,
            refresh_token,
            client_id,
            lambda url, data, headers: self._sender.request_json(
                "POST", url, data=data, headers=headers
            ),
        )
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="beatport")
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"BeatportAPIClient(base_url={self.base_url!r}, auth={self._auth!r})"

    def __enter__(self) -> BeatportAPIClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._http.close()

    # ------------------------------------------------------------------ public API

    def get_tracks(
        self, genre_ids: Sequence[int], date_from: date, date_to: date
    ) -> Iterator[BeatportPage]:
        """Pages of tracks published `date_from`..`date_to` (inclusive) in any of `genre_ids`.

        Raises IncompleteCrawlError when a query stays short of its `count` after re-crawling.
        """
        if date_to < date_from:
            raise ValueError(f"date_to {date_to} is before date_from {date_from}")
        query = BeatportQuery(tuple(sorted(set(genre_ids))), date_from, date_to)
        yield from self._crawl(query, seen=set())

    # ------------------------------------------------------------------ crawling

    def _crawl(self, query: BeatportQuery, seen: set[int]) -> Iterator[BeatportPage]:
        first = self._fetch(self._tracks_url, query.params(self.page_size))
        if first.count >= COUNT_CAP:
            parts = query.split()
            if not parts:
                raise IncompleteCrawlError(query, expected=first.count, received=0)
            for part in parts:
                yield from self._crawl(part, seen)
            return
        received: set[int | str] = set()
        yield from self._pages(query, None, first, seen, received, first.count)
        level = [query]
        for _ in range(self.max_recrawls):
            if len(received) >= first.count:
                return
            level = [part for q in level for part in (q.split() or [q])]
            firsts = [
                self._pool.submit(self._fetch, self._tracks_url, q.params(self.page_size))
                for q in level
            ]
            for part, future in zip(level, firsts, strict=True):
                yield from self._pages(query, part, future.result(), seen, received, first.count)
        if len(received) < first.count:
            raise IncompleteCrawlError(query, expected=first.count, received=len(received))

    def _pages(
        self,
        query: BeatportQuery,
        source: BeatportQuery | None,
        first: _Envelope,
        seen: set[int],
        received: set[int | str],
        count: int,
    ) -> Iterator[BeatportPage]:
        """The first page, then the others fetched concurrently (bounded by the pool).

        `count` is the verified query's: a re-crawl page reports it, so counts add up per label.
        """
        yield self._page(query, source, first, count, seen, received)
        if first.total_pages <= 1:
            return
        template = self._page_url_template(first, source or query)
        futures: list[Future[_Envelope]] = [
            self._pool.submit(self._fetch, str(template.copy_set_param("page", n)), None)
            for n in range(2, first.total_pages + 1)
        ]
        try:
            for future in futures:
                yield self._page(query, source, future.result(), count, seen, received)
        finally:
            for future in futures:
                future.cancel()

    def _page(
        self,
        query: BeatportQuery,
        source: BeatportQuery | None,
        envelope: _Envelope,
        count: int,
        seen: set[int],
        received: set[int | str],
    ) -> BeatportPage:
        tracks: list[dict] = []
        dropped = 0
        for position, track in enumerate(envelope.results):
            track_id = track.get("id") if isinstance(track, dict) else None
            if not isinstance(track_id, int):
                label = (source or query).label
                received.add(_unkeyed_entry(track, f"{label}:{envelope.number}", position))
            else:
                received.add(track_id)
                if track_id in seen:
                    dropped += 1
                    continue
                seen.add(track_id)
            tracks.append(track)
        return BeatportPage(
            query=query,
            number=envelope.number,
            total_pages=envelope.total_pages,
            count=count,
            tracks=tracks,
            duplicates_dropped=dropped,
            source=source,
        )

    # ------------------------------------------------------------------ HTTP

    @property
    def _tracks_url(self) -> str:
        return f"{self.base_url}/catalog/tracks/"

    def _page_url_template(self, first: _Envelope, query: BeatportQuery) -> httpx.URL:
        """URL of later pages: `next` (scheme-less) kept on our own origin, or built from params.

        Only the path and query of `next` are used: the bearer token is never sent to a host other
        than the configured base URL, whatever the server links to.
        """
        base = httpx.URL(self.base_url)
        if first.next:
            link = first.next if "://" in first.next else f"{base.scheme}://{first.next}"
            parsed = httpx.URL(link)
            return base.copy_with(path=parsed.path, query=parsed.query or None)
        return httpx.URL(self._tracks_url, params=query.params(self.page_size))

    def _fetch(self, url: str, params: Mapping[str, str | int] | None) -> _Envelope:
        body = self._sender.request_json("GET", url, params=params, auth=self._auth)
        try:
            number, total = (int(part) for part in str(body["page"]).split("/", 1))
            results = body["results"]
            if not isinstance(results, list):
                raise TypeError("results is not a list")
            return _Envelope(int(body["count"]), number, total, results, body.get("next"))
        except (KeyError, TypeError, ValueError) as exc:
            shown = redact_url(httpx.URL(url, params=params) if params else url)
            raise MalformedResponseError(
                f"GET {shown} answered JSON that is not a Beatport page ({type(exc).__name__})",
                shown,
            ) from None


def _unkeyed_entry(track: object, page: str, position: int) -> str:
    """How an entry without an integer `id` counts towards the query's `count`.

    It is a record the listing counted, so it is received: an object by its content (the key
    it is stored under, so a repeat across pages counts once), anything else (`null`) by its
    place in the listing, since all such entries look alike.
    """
    if isinstance(track, dict):
        return content_key(track)
    return f"entry:{page}:{position}"
