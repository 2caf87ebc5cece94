"""Spotify Web API client: ISRC search with typed candidates, paced concurrent batches.

An empty list means "Spotify has no track with this ISRC"; every failure raises a typed ApiError,
so an outage can never be recorded as "not found". An answer that is not a search result is
such a failure; a malformed item inside a good answer is skipped and counted by reason, so one
odd candidate neither crashes the lookup nor hides the others. When `tracks.total` says more
items exist than the first page returned, the following pages are fetched (bounded, each one a
paced request like any other) before anything is chosen from the candidates.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
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
MAX_SEARCH_PAGES = 10
"""Pages read per ISRC at most (100 items at limit 10): no real ISRC has more recordings."""
_RELEASE_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")

SKIP_NULL_ITEM = "null_item"
SKIP_NOT_AN_OBJECT = "not_an_object"
SKIP_BAD_ID = "bad_id"
SKIP_BAD_ALBUM = "bad_album"
SKIP_BAD_RELEASE_DATE = "bad_release_date"
SKIP_MISSING_EXTERNAL_IDS = "missing_external_ids"
SKIP_MISSING_ARTISTS = "missing_artists"


class MalformedCandidate(ValueError):  # noqa: N818 - a reason, not a failure of the lookup
    """A search item the matcher cannot use; `reason` is one of the stable SKIP_* codes."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _valid_release_date(value: object) -> bool:
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD` naming a real day (year 1 or later)."""
    if not isinstance(value, str):
        return False
    found = _RELEASE_DATE.match(value)
    if found is None:
        return False
    year, month, day = (int(part) if part else 1 for part in found.groups())
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


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
    def from_json(cls, item: object) -> SpotifyCandidate:
        """The candidate of one search item; raises `MalformedCandidate` naming what is wrong."""
        if item is None:
            raise MalformedCandidate(SKIP_NULL_ITEM)
        if not isinstance(item, Mapping):
            raise MalformedCandidate(SKIP_NOT_AN_OBJECT)
        track_id = item.get("id")
        if not isinstance(track_id, str) or not track_id.strip() or "\x00" in track_id:
            raise MalformedCandidate(SKIP_BAD_ID)
        album = item.get("album")
        if not isinstance(album, Mapping):
            raise MalformedCandidate(SKIP_BAD_ALBUM)
        release_date = album.get("release_date")
        if not _valid_release_date(release_date):
            raise MalformedCandidate(SKIP_BAD_RELEASE_DATE)
        external_ids = item.get("external_ids")
        if not isinstance(external_ids, Mapping):
            raise MalformedCandidate(SKIP_MISSING_EXTERNAL_IDS)
        artists = item.get("artists")
        names = (
            tuple(str(a["name"]) for a in artists if isinstance(a, Mapping) and a.get("name"))
            if isinstance(artists, list)
            else ()
        )
        if not names:
            raise MalformedCandidate(SKIP_MISSING_ARTISTS)
        isrc = external_ids.get("isrc")
        precision = album.get("release_date_precision")
        return cls(
            id=track_id,
            name=str(item.get("name") or ""),
            isrc=isrc if isinstance(isrc, str) else None,
            artist_names=names,
            album_type=str(album.get("album_type") or ""),
            release_date=release_date,  # type: ignore[arg-type] - validated above
            release_date_precision=precision if isinstance(precision, str) else None,
            raw=dict(item),
        )


@dataclass
class SearchAnswer:
    """Every usable candidate of one ISRC search (all pages) and the items skipped, by reason."""

    candidates: list[SpotifyCandidate] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    total: int = 0
    """`tracks.total` as the first page reported it."""
    pages: int = 0

    def add(self, items: Sequence[object]) -> None:
        for item in items:
            try:
                self.candidates.append(SpotifyCandidate.from_json(item))
            except MalformedCandidate as skipped:
                self.skipped[skipped.reason] += 1


@dataclass
class LookupBatch:
    """Answers of `search_many`; ISRCs in neither dict were never sent and stay pending."""

    results: dict[str, list[SpotifyCandidate]] = field(default_factory=dict)
    errors: dict[str, ApiError] = field(default_factory=dict)
    fatal: ApiError | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    """Malformed items skipped over all answered ISRCs, by reason."""
    pages: int = 0
    """Search requests that returned a page (more than one per ISRC when results were paged)."""


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
        max_concurrency: int,
        search_limit: int = 10,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        credential_names: Mapping[str, str] | None = None,
    ) -> None:
        """`clock` times the token's renewal (a test moves it with the emulator's clock);
        `credential_names` is what error messages call each credential (`auth.CREDENTIALS`)."""
        if not 1 <= search_limit <= MAX_SEARCH_LIMIT:
            raise ValueError(f"search_limit must be within 1..{MAX_SEARCH_LIMIT}")
        self.base_url = base_url.rstrip("/")
        self.policy = policy or HttpPolicy()
        self.stats = RequestStats()
        self.pacer = pacer or AdaptivePacer(max_in_flight=max_concurrency)
        self.max_concurrency = max_concurrency
        self.search_limit = search_limit
        account = hashlib.sha256(f"{self.base_url} {client_id}".encode()).hexdigest()[:16]
        self.rate_key = f"spotify:{account}"
        """Whose allowed rate the pacer learns: one app at one API URL (the client id is a
        credential, so only its hash is stored)."""
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
            clock=clock,
            credential_names=credential_names,
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
        return self.search_isrc(isrc).candidates

    def search_isrc(self, isrc: str) -> SearchAnswer:
        """Every page of the ISRC's search, parsed; raises ApiError on any failure.

        Later pages are requested by offset on our own base URL (never by following `next`,
        which names Spotify's host) until `total` items were seen, a page comes back empty,
        or MAX_SEARCH_PAGES were read.
        """
        answer = SearchAnswer()
        offset = 0
        while True:
            page = self._search_page(isrc, offset)
            answer.pages += 1
            items = page["items"]
            if answer.pages == 1:
                answer.total = page["total"]
            answer.add(items)
            offset += len(items)
            if not items or offset >= answer.total or answer.pages >= MAX_SEARCH_PAGES:
                return answer

    def _search_page(self, isrc: str, offset: int) -> dict[str, Any]:
        """One search page's `tracks` object, checked to be a paging object of tracks."""
        url = f"{self.base_url}/search"
        params: dict[str, str | int] = {
            "q": f"isrc:{isrc}",
            "type": "track",
            "limit": self.search_limit,
        }
        if offset:
            params["offset"] = offset
        body = self._sender.request_json("GET", url, params=params, auth=self._auth)
        tracks = body.get("tracks") if isinstance(body, Mapping) else None
        if (
            not isinstance(tracks, Mapping)
            or not isinstance(tracks.get("items"), list)
            or not isinstance(tracks.get("total"), int)
            or isinstance(tracks.get("total"), bool)
        ):
            raise MalformedResponseError(
                f"GET {url} answered JSON that is not a track search result "
                "(expected tracks.items as a list and tracks.total as an integer)",
                url,
            )
        return dict(tracks)

    def search_many(self, isrcs: Sequence[str]) -> LookupBatch:
        """Search every distinct ISRC concurrently under the shared pacer.

        After a fatal error no new lookup starts; lookups already running finish and are kept.
        """
        batch = LookupBatch()
        pending = list(dict.fromkeys(isrcs))
        running: dict[Future[SearchAnswer], str] = {}
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="spotify") as pool:
            position = 0
            while position < len(pending) or running:
                while (
                    batch.fatal is None
                    and position < len(pending)
                    and len(running) < self.max_concurrency
                ):
                    isrc = pending[position]
                    running[pool.submit(self.search_isrc, isrc)] = isrc
                    position += 1
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    isrc = running.pop(future)
                    error = future.exception()
                    if error is None:
                        answer = future.result()
                        batch.results[isrc] = answer.candidates
                        batch.skipped.update(answer.skipped)
                        batch.pages += answer.pages
                    elif isinstance(error, ApiError):
                        batch.errors[isrc] = error
                        if is_fatal(error) and batch.fatal is None:
                            batch.fatal = error
                    else:
                        raise error
        return batch
