"""Spotify Web API client: ISRC search with typed candidates, paced concurrent batches.

An empty list means "Spotify has no track with this ISRC"; every failure raises a typed ApiError,
so an outage can never be recorded as "not found".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import httpx

from collection_pipeline.clients.auth import SpotifyCredentials
from collection_pipeline.clients.errors import (
    ApiError,
    AuthenticationError,
    MalformedResponseError,
    RateLimitedError,
)
from collection_pipeline.clients.pacing import AdaptivePacer
from collection_pipeline.clients.policy import HttpPolicy, PolicySender
from collection_pipeline.clients.stats import RequestStats

MAX_SEARCH_LIMIT = 10
"""Development-mode apps get `400 Invalid limit` above 10."""


@dataclass(frozen=True)
class SpotifyCandidate:
    """One track of a search answer, reduced to what matching needs (`raw` keeps the rest)."""

    id: str
    name: str
    isrc: str | None
    artist_names: tuple[str, ...]
    album_type: str
    release_date: str | None
    release_date_precision: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> SpotifyCandidate:
        album = item.get("album") or {}
        return cls(
            id=str(item["id"]),
            name=str(item["name"]),
            isrc=(item.get("external_ids") or {}).get("isrc"),
            artist_names=tuple(str(a["name"]) for a in item.get("artists") or () if a),
            album_type=str(album.get("album_type") or ""),
            release_date=album.get("release_date"),
            release_date_precision=album.get("release_date_precision"),
            raw=dict(item),
        )


@dataclass
class LookupBatch:
    """Answers of `search_many`; ISRCs in neither dict were never sent and stay pending."""

    results: dict[str, list[SpotifyCandidate]] = field(default_factory=dict)
    errors: dict[str, ApiError] = field(default_factory=dict)
    fatal: ApiError | None = None


def is_fatal(error: ApiError) -> bool:
    """Errors after which no further lookup can succeed in this run."""
    return isinstance(error, AuthenticationError) or (
        isinstance(error, RateLimitedError) and error.beyond_cap
    )


class SpotifyAPIClient:
    def __init__(
        self,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        policy: HttpPolicy | None = None,
        pacer: AdaptivePacer | None = None,
        max_concurrency: int = 32,
        search_limit: int = 10,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= search_limit <= MAX_SEARCH_LIMIT:
            raise ValueError(f"search_limit must be within 1..{MAX_SEARCH_LIMIT}")
        self.base_url = base_url.rstrip("/")
        self.policy = policy or HttpPolicy()
        self.stats = RequestStats()
        self.pacer = pacer or AdaptivePacer(max_in_flight=max_concurrency)
        self.max_concurrency = max_concurrency
        self.search_limit = search_limit
        self._http = httpx.Client(
            timeout=self.policy.timeout(),
            limits=httpx.Limits(max_connections=max_concurrency + 4),
            transport=transport,
        )
        self._sender = PolicySender(self._http, self.policy, self.stats, pacer=self.pacer)
        self._auth = SpotifyCredentials(
            token_url,
            client_id,
            client_secret,
            lambda url, data, headers: self._sender.request_json(
                "POST", url, data=data, headers=headers, paced=False
            ),
        )

    def __repr__(self) -> str:
        return f"SpotifyAPIClient(base_url={self.base_url!r}, auth={self._auth!r})"

    def __enter__(self) -> SpotifyAPIClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def search_tracks_by_isrc(self, isrc: str) -> list[SpotifyCandidate]:
        """Tracks carrying `isrc` ([] when none); raises ApiError on any failure."""
        url = f"{self.base_url}/search"
        body = self._sender.request_json(
            "GET",
            url,
            params={"q": f"isrc:{isrc}", "type": "track", "limit": self.search_limit},
            auth=self._auth,
        )
        try:
            items = body["tracks"]["items"]
            return [SpotifyCandidate.from_json(item) for item in items if item]
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponseError(
                f"GET {url} answered JSON without the expected tracks.items shape "
                f"({type(exc).__name__})",
                url,
            ) from None

    def search_many(self, isrcs: Sequence[str]) -> LookupBatch:
        """Search every distinct ISRC concurrently under the shared pacer.

        After a fatal error no new lookup starts; lookups already running finish and are kept.
        """
        batch = LookupBatch()
        pending = list(dict.fromkeys(isrcs))
        running: dict[Future[list[SpotifyCandidate]], str] = {}
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="spotify") as pool:
            position = 0
            while position < len(pending) or running:
                while (
                    batch.fatal is None
                    and position < len(pending)
                    and len(running) < self.max_concurrency
                ):
                    isrc = pending[position]
                    running[pool.submit(self.search_tracks_by_isrc, isrc)] = isrc
                    position += 1
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    isrc = running.pop(future)
                    error = future.exception()
                    if error is None:
                        batch.results[isrc] = future.result()
                    elif isinstance(error, ApiError):
                        batch.errors[isrc] = error
                        if is_fatal(error) and batch.fatal is None:
                            batch.fatal = error
                    else:
                        raise error
        return batch
