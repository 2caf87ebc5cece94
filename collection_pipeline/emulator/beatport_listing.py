"""Beatport's track listing: filter parsing, ordering and page arithmetic.

The common query (genres x publish days, ordered by id or publish date) is answered by
arithmetic over fixed-size (day, genre) blocks, generating only the tracks on the page asked for,
so even an unfiltered listing of the whole catalogue is cheap. Other filters and orderings
enumerate the window and are bounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from collection_pipeline.emulator.catalogue import BeatportCatalogue
from collection_pipeline.emulator.codecs import EPOCH, LAST_DAY, Slot, decode_isrc
from collection_pipeline.emulator.reference_data import GENRES, GENRES_BY_ID

COUNT_CAP = 10_000
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
MAX_SCAN = 200_000
BLOCK_ORDERS = {"id": False, "publish_date": False, "-id": True, "-publish_date": True}
SORTABLE_FIELDS = ("id", "publish_date", "new_release_date", "name", "bpm", "release_date")


class QueryError(Exception):
    """A filter value the real API rejects with 400 and a field-keyed body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.body = {field: [message]}


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date

    def days(self) -> int:
        return max(0, (self.last - self.first).days + 1)


@dataclass(frozen=True)
class TrackQuery:
    genre_slots: tuple[int, ...]
    publish: DateRange
    new_release: DateRange | None
    sub_genre_ids: frozenset[int] | None
    isrcs: tuple[str, ...] | None
    order_by: str


def parse_date(field: str, value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise QueryError(field, "Enter a valid date.") from exc


def parse_slice(field: str, value: str | None) -> DateRange | None:
    """`A:B`, `A:`, `:B` (inclusive) or an exact day, clipped to the catalogue's days."""
    if value is None or value == "":
        return None
    if ":" in value:
        start, _, end = value.partition(":")
        first = parse_date(field, start) if start.strip() else EPOCH
        last = parse_date(field, end) if end.strip() else LAST_DAY
    else:
        first = last = parse_date(field, value)
    return DateRange(max(first, EPOCH), min(last, LAST_DAY))


def parse_ids(field: str, value: str | None) -> list[int] | None:
    if value is None or value.strip() == "":
        return None
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise QueryError(field, "Enter a whole number.") from exc


def parse_query(params: Any) -> TrackQuery:
    genre_ids = parse_ids("genre_id", params.get("genre_id"))
    if genre_ids is None:
        slots = tuple(genre.slot for genre in GENRES)
    else:
        unknown = [gid for gid in genre_ids if gid not in GENRES_BY_ID]
        if unknown:
            raise QueryError(
                "genre_id",
                f"Select a valid choice. {unknown[0]} is not one of the available choices.",
            )
        slots = tuple(sorted({GENRES_BY_ID[gid].slot for gid in genre_ids}))
    sub_genres = parse_ids("sub_genre_id", params.get("sub_genre_id"))
    isrc = params.get("isrc")
    return TrackQuery(
        genre_slots=slots,
        publish=parse_slice("publish_date", params.get("publish_date"))
        or DateRange(EPOCH, LAST_DAY),
        new_release=parse_slice("new_release_date", params.get("new_release_date")),
        sub_genre_ids=frozenset(sub_genres) if sub_genres is not None else None,
        isrcs=tuple(p.strip().upper() for p in isrc.split(",") if p.strip()) if isrc else None,
        order_by=(params.get("order_by") or "id").split(",")[0].strip(),
    )


def parse_per_page(value: str | None) -> int:
    """DRF semantics: a positive integer clamped at the maximum, anything else the default."""
    try:
        number = int(value) if value is not None else DEFAULT_PER_PAGE
    except ValueError:
        return DEFAULT_PER_PAGE
    return min(number, MAX_PER_PAGE) if number > 0 else DEFAULT_PER_PAGE


def parse_page(value: str | None) -> int | None:
    """The page number, or None for a value DRF answers with 404 "Invalid page."."""
    if value is None:
        return 1
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number >= 1 else None


@dataclass(frozen=True)
class Listing:
    """How many tracks match and a way to fetch any contiguous range of them."""

    count: int
    catalogue: BeatportCatalogue
    query: TrackQuery
    materialized: Sequence[dict[str, Any]] | None = None

    def slice(self, start: int, stop: int) -> list[dict[str, Any]]:
        stop = min(stop, self.count)
        if start >= stop:
            return []
        if self.materialized is not None:
            return list(self.materialized[start:stop])
        return [self._block_track(position) for position in range(start, stop)]

    def _block_track(self, position: int) -> dict[str, Any]:
        descending = BLOCK_ORDERS[self.query.order_by]
        if descending:
            position = self.count - 1 - position
        per_day = self.catalogue.tracks_per_day
        block, index = divmod(position, per_day)
        day_offset, genre_position = divmod(block, len(self.query.genre_slots))
        day = self.query.publish.first + timedelta(days=day_offset)
        return self.catalogue.tracks_for(day, self.query.genre_slots[genre_position])[index]


def plan_listing(catalogue: BeatportCatalogue, query: TrackQuery) -> Listing:
    simple = (
        query.new_release is None
        and query.sub_genre_ids is None
        and query.isrcs is None
        and query.order_by in BLOCK_ORDERS
    )
    if simple:
        total = query.publish.days() * len(query.genre_slots) * catalogue.tracks_per_day
        return Listing(count=total, catalogue=catalogue, query=query)
    tracks = _filtered(catalogue, query)
    return Listing(count=len(tracks), catalogue=catalogue, query=query, materialized=tracks)


def _candidate_slots(catalogue: BeatportCatalogue, query: TrackQuery) -> list[Slot]:
    if query.isrcs is not None:
        slots: set[Slot] = set()
        for isrc in query.isrcs:
            origin = decode_isrc(catalogue.seed, isrc)
            if catalogue.valid_slot(origin) and catalogue.core(origin).kind == "original":
                slots.add(origin)
                slots.update(catalogue.reusers(origin))
        return sorted(
            s
            for s in slots
            if s.genre_slot in query.genre_slots
            and query.publish.first <= s.day <= query.publish.last
        )
    scan = query.publish.days() * len(query.genre_slots) * catalogue.tracks_per_day
    if scan > MAX_SCAN:
        raise QueryError(
            "publish_date",
            f"The emulator scans at most {MAX_SCAN} tracks for this filter; narrow publish_date.",
        )
    return [
        Slot(query.publish.first + timedelta(days=offset), genre_slot, index)
        for offset in range(query.publish.days())
        for genre_slot in query.genre_slots
        for index in range(catalogue.tracks_per_day)
    ]


def _filtered(catalogue: BeatportCatalogue, query: TrackQuery) -> list[dict[str, Any]]:
    tracks = []
    for slot in _candidate_slots(catalogue, query):
        track = catalogue.tracks_for(slot.day, slot.genre_slot)[slot.index]
        if query.new_release is not None:
            released = date.fromisoformat(track["new_release_date"])
            if not query.new_release.first <= released <= query.new_release.last:
                continue
        if query.sub_genre_ids is not None and (
            track["sub_genre"] is None or track["sub_genre"]["id"] not in query.sub_genre_ids
        ):
            continue
        if query.isrcs is not None and track["isrc"] not in query.isrcs:
            continue
        tracks.append(track)
    field = query.order_by.lstrip("-")
    field = "new_release_date" if field == "release_date" else field
    if field in SORTABLE_FIELDS:
        tracks.sort(key=lambda t: (t[field], t["id"]), reverse=query.order_by.startswith("-"))
    return tracks


def page_envelope(
    listing: Listing, page: int, per_page: int, link_base: str, params: list[tuple[str, str]]
) -> dict[str, Any] | None:
    """The real envelope, or None when `page` is past the last page (404 "Invalid page.")."""
    visible = min(listing.count, COUNT_CAP)
    pages = max(1, math.ceil(visible / per_page))
    if page > pages:
        return None
    start = (page - 1) * per_page
    results = listing.slice(start, min(start + per_page, visible))
    return {
        "results": results,
        "next": _link(link_base, params, page + 1) if page < pages else None,
        "previous": _link(link_base, params, page - 1) if page > 1 else None,
        "count": visible,
        "page": f"{page}/{pages}",
        "per_page": per_page,
    }


def shifted_page(
    listing: Listing, page: int, per_page: int, envelope: dict[str, Any]
) -> dict[str, Any]:
    """The flaky page: one slot early, so it repeats the previous page's last track."""
    start = (page - 1) * per_page
    shifted = dict(envelope)
    shifted["results"] = listing.slice(start - 1, start - 1 + len(envelope["results"]))
    return shifted


def _link(base: str, params: list[tuple[str, str]], page: int) -> str:
    """Scheme-less link keeping every filter in order; page 1 drops `page` as DRF does."""
    from urllib.parse import urlencode

    kept = [(k, v) for k, v in params if k != "page"]
    if page > 1:
        replaced = False
        rebuilt = []
        for key, value in params:
            if key == "page":
                if not replaced:
                    rebuilt.append(("page", str(page)))
                    replaced = True
                continue
            rebuilt.append((key, value))
        kept = rebuilt if replaced else [*kept, ("page", str(page))]
    query = urlencode(kept, safe=",:")
    return f"{base}?{query}" if query else base
