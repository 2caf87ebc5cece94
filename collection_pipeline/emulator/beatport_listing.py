"""Beatport's track listing: filter parsing, ordering and page arithmetic.

The common query (genres x publish days, ordered by id or publish date) is answered by
arithmetic over (day, genre) blocks, generating only the tracks on the page asked for, so even an
unfiltered listing of the whole catalogue is cheap. The over-cap block's extra slots and the late
(drift) tracks are further segments of that arithmetic, placed where their ids sort them: ties of
`publish_date` are broken by id, so a late track goes after every earlier track of its day, and
by id after every track there is. Other filters and orderings select slots by their cheap facets
(bpm, new-release date, sub-genre, release id), memoised per query, and build JSON only for the
page asked for.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from collection_pipeline.emulator.catalogue import BeatportCatalogue, Facets
from collection_pipeline.emulator.codecs import EPOCH, LAST_DAY, Slot, decode_isrc, stable_hash
from collection_pipeline.emulator.reference_data import GENRES, GENRES_BY_ID

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
MAX_SCAN = 200_000
BLOCK_ORDERS = {"id": False, "publish_date": False, "-id": True, "-publish_date": True}
FACET_ORDERS: dict[str, Callable[[Facets], Any]] = {
    "id": lambda f: f.id,
    "publish_date": lambda f: (f.day, f.id),
    "release_date": lambda f: (f.new_release_date, f.id),
    "new_release_date": lambda f: (f.new_release_date, f.id),
    "bpm": lambda f: (f.bpm is not None, f.bpm or 0, f.id),
    "release_id": lambda f: (f.release_id, f.id),
}
JSON_ORDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "name": lambda t: (t["name"], t["id"]),
    "genre": lambda t: (t["genre"]["name"], t["id"]),
    "label": lambda t: (t["release"]["label"]["name"], t["id"]),
}
MAX_PUBLISHING_DAYS = 400  # a listing wider than this publishes no late tracks


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

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


@dataclass(frozen=True)
class TrackQuery:
    genre_slots: tuple[int, ...]
    publish: DateRange
    new_release: DateRange | None
    sub_genre_ids: frozenset[int] | None
    isrcs: tuple[str, ...] | None
    order_by: str
    bpm: tuple[int, int] | None = None
    ids: frozenset[int] | None = None

    @property
    def simple(self) -> bool:
        """Answerable by block arithmetic: no filter but genre and publish date."""
        return (
            self.new_release is None
            and self.sub_genre_ids is None
            and self.isrcs is None
            and self.bpm is None
            and self.ids is None
            and self.order_by in BLOCK_ORDERS
        )


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


def parse_bpm(value: str | None) -> tuple[int, int] | None:
    """`bpm`: exact (`128`) or a range (`120:130`, `120:`, `:130`), inclusive."""
    if value is None or value.strip() == "":
        return None
    try:
        if ":" not in value:
            exact = round(float(value))
            return exact, exact
        low, _, high = value.partition(":")
        return (
            round(float(low)) if low.strip() else 0,
            round(float(high)) if high.strip() else 10**6,
        )
    except ValueError as exc:
        raise QueryError("bpm", "Enter a number.") from exc


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
    ids = parse_ids("id", params.get("id"))
    isrc = params.get("isrc")
    return TrackQuery(
        genre_slots=slots,
        publish=parse_slice("publish_date", params.get("publish_date"))
        or DateRange(EPOCH, LAST_DAY),
        new_release=parse_slice("new_release_date", params.get("new_release_date")),
        sub_genre_ids=frozenset(sub_genres) if sub_genres is not None else None,
        isrcs=tuple(p.strip().upper() for p in isrc.split(",") if p.strip()) if isrc else None,
        order_by=(params.get("order_by") or "id").split(",")[0].strip(),
        bpm=parse_bpm(params.get("bpm")),
        ids=frozenset(ids) if ids is not None else None,
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


# ---------------------------------------------------------------- segments


@dataclass(frozen=True)
class _Run:
    """`days` consecutive days x `genre_slots`, `tracks_per_day` ordinary slots per block."""

    first: date
    days: int
    genre_slots: tuple[int, ...]
    per_day: int

    def __len__(self) -> int:
        return self.days * len(self.genre_slots) * self.per_day

    def slot(self, position: int) -> Slot:
        block, index = divmod(position, self.per_day)
        day_offset, genre_position = divmod(block, len(self.genre_slots))
        day = self.first + timedelta(days=day_offset)
        return Slot(day, self.genre_slots[genre_position], index)


@dataclass(frozen=True)
class _Extras:
    """The over-cap block's slots past `tracks_per_day`."""

    day: date
    genre_slot: int
    indexes: range

    def __len__(self) -> int:
        return len(self.indexes)

    def slot(self, position: int) -> Slot:
        return Slot(self.day, self.genre_slot, self.indexes[position])


@dataclass(frozen=True)
class _Slots:
    slots: Sequence[Slot]

    def __len__(self) -> int:
        return len(self.slots)

    def slot(self, position: int) -> Slot:
        return self.slots[position]


_Segment = _Run | _Extras | _Slots


@dataclass(frozen=True)
class Listing:
    """How many tracks match and a way to fetch any contiguous range of them."""

    count: int
    catalogue: BeatportCatalogue
    segments: tuple[_Segment, ...]
    descending: bool = False

    def slice(self, start: int, stop: int) -> list[dict[str, Any]]:
        stop = min(stop, self.count)
        if start >= stop:
            return []
        starts, total = [], 0
        for segment in self.segments:
            starts.append(total)
            total += len(segment)
        tracks = []
        for position in range(max(start, 0), stop):
            if self.descending:
                position = self.count - 1 - position
            index = bisect.bisect_right(starts, position) - 1
            slot = self.segments[index].slot(position - starts[index])
            tracks.append(self.catalogue.track_at(slot))
        return tracks


def plan_listing(catalogue: BeatportCatalogue, query: TrackQuery) -> Listing:
    if query.simple:
        segments = tuple(s for s in _block_segments(catalogue, query) if len(s))
        return Listing(
            count=sum(len(s) for s in segments),
            catalogue=catalogue,
            segments=segments,
            descending=BLOCK_ORDERS[query.order_by],
        )
    key = (query, catalogue.version)
    slots = catalogue.remember(key, lambda: _filtered(catalogue, query))
    return Listing(count=len(slots), catalogue=catalogue, segments=(_Slots(slots),))


def _block_segments(catalogue: BeatportCatalogue, query: TrackQuery) -> list[_Segment]:
    """Ascending segments: by id, ordinary blocks, then over-cap extras, then late tracks;
    by publish date, the same three within each day. A day that a move touched is listed slot by
    slot; so is a whole window by id, where a moved track keeps its place among the ids."""
    window, genres, per_day = query.publish, query.genre_slots, catalogue.tracks_per_day
    touched = catalogue.moves.touches(window.first, window.last, genres)
    if query.order_by.lstrip("-") != "id":
        return _day_segments(catalogue, query, touched)
    if touched:
        if window.days() * len(genres) * per_day > MAX_SCAN:
            raise QueryError("publish_date", "The emulator orders at most this many tracks by id.")
        segments = _day_segments(catalogue, query, touched)
        slots = [segment.slot(n) for segment in segments for n in range(len(segment))]
        return [_Slots(sorted(slots, key=catalogue.track_id_of))]
    late = catalogue.drift.in_window(window.first, window.last, genres)
    extras = catalogue.overcap_extras(window.first, window.last, genres)
    big = catalogue.oversized
    segments: list[_Segment] = [_Run(window.first, window.days(), genres, per_day)]
    if extras and big is not None:
        segments.append(_Extras(big.day, big.genre_slot, extras))
    segments.append(_Slots(late))
    return segments


def _day_segments(
    catalogue: BeatportCatalogue, query: TrackQuery, touched: set[date]
) -> list[_Segment]:
    window, genres, per_day = query.publish, query.genre_slots, catalogue.tracks_per_day
    late = catalogue.drift.in_window(window.first, window.last, genres)
    extras = catalogue.overcap_extras(window.first, window.last, genres)
    big = catalogue.oversized
    late_by_day: dict[date, list[Slot]] = {}
    for slot in late:
        late_by_day.setdefault(slot.day, []).append(slot)
    big_days = [big.day] if extras and big is not None else []
    special = sorted({*late_by_day, *big_days, *touched})
    segments: list[_Segment] = []
    cursor = window.first
    for day in special:
        if day > cursor:
            segments.append(_Run(cursor, (day - cursor).days, genres, per_day))
        cursor = day + timedelta(days=1)
        if day in touched:
            segments.append(_Slots(catalogue.slots_of_day(day, genres)))
            continue
        segments.append(_Run(day, 1, genres, per_day))
        if extras and big is not None and day == big.day:
            segments.append(_Extras(big.day, big.genre_slot, extras))
        segments.append(_Slots(late_by_day.get(day, [])))
    if cursor <= window.last:
        segments.append(_Run(cursor, (window.last - cursor).days + 1, genres, per_day))
    return segments


def _candidate_slots(catalogue: BeatportCatalogue, query: TrackQuery) -> list[Slot]:
    window, genres = query.publish, query.genre_slots
    if query.ids is not None:
        found = (catalogue.slot_for_id(value) for value in query.ids)
        return sorted(
            s
            for s in found
            if s is not None and s.genre_slot in genres and catalogue.moves.day_of(s) in window
        )
    if query.isrcs is not None:
        slots: set[Slot] = set()
        for isrc in query.isrcs:
            origin = decode_isrc(catalogue.seed, isrc)
            if catalogue.valid_slot(origin) and catalogue.core(origin).kind == "original":
                slots.add(origin)
                slots.update(catalogue.reusers(origin))
        return sorted(
            s for s in slots if s.genre_slot in genres and catalogue.moves.day_of(s) in window
        )
    extras = catalogue.overcap_extras(window.first, window.last, genres)
    scan = window.days() * len(genres) * catalogue.tracks_per_day + len(extras)
    if scan > MAX_SCAN:
        raise QueryError(
            "publish_date",
            f"The emulator scans at most {MAX_SCAN} tracks for this filter; narrow publish_date.",
        )
    by_id = TrackQuery(genres, window, None, None, None, "id")
    segments = _block_segments(catalogue, by_id)
    return [segment.slot(n) for segment in segments for n in range(len(segment))]


def _filtered(catalogue: BeatportCatalogue, query: TrackQuery) -> list[Slot]:
    kept = []
    for slot in _candidate_slots(catalogue, query):
        facets = catalogue.facets(slot)
        if query.new_release is not None and facets.new_release_date not in query.new_release:
            continue
        if query.sub_genre_ids is not None and facets.sub_genre_id not in query.sub_genre_ids:
            continue
        if query.bpm is not None and (
            facets.bpm is None or not query.bpm[0] <= facets.bpm <= query.bpm[1]
        ):
            continue
        if query.isrcs is not None and catalogue.core(slot).isrc not in query.isrcs:
            continue
        kept.append(slot)
    field = query.order_by.lstrip("-")
    descending = query.order_by.startswith("-")
    if field in FACET_ORDERS:
        key = FACET_ORDERS[field]
        kept.sort(key=lambda s: key(catalogue.facets(s)), reverse=descending)
    elif field in JSON_ORDERS:
        json_key = JSON_ORDERS[field]
        kept.sort(key=lambda s: json_key(catalogue.track_at(s)), reverse=descending)
    return kept


def page_envelope(
    listing: Listing,
    page: int,
    per_page: int,
    count_cap: int,
    link_base: str,
    params: list[tuple[str, str]],
) -> dict[str, Any] | None:
    """The real envelope, or None when `page` is past the last page (404 "Invalid page.").

    Like the real API, `count` and the results served stop at `count_cap`."""
    visible = min(listing.count, count_cap)
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


def publish_late_tracks(catalogue: BeatportCatalogue, query: TrackQuery, limit: int) -> int:
    """`drift`: publish up to `limit` late tracks into blocks of the window being paged.

    Blocks are drawn from the window's pending ones in a seeded order, so where a late track lands
    (which day, which genre) varies between requests but not between runs of the same sequence.
    Returns how many were published.
    """
    drift = catalogue.drift
    window = query.publish
    if drift.per_block <= 0 or window.days() > MAX_PUBLISHING_DAYS:
        return 0
    pending = [
        (window.first + timedelta(days=offset), genre_slot)
        for offset in range(window.days())
        for genre_slot in query.genre_slots
        if drift.pending(window.first + timedelta(days=offset), genre_slot) > 0
    ]
    published = 0
    while pending and published < limit:
        pick = stable_hash(catalogue.seed, "drift", drift.version) % len(pending)
        day, genre_slot = pending[pick]
        drift.publish(day, genre_slot)
        if drift.pending(day, genre_slot) <= 0:
            pending.pop(pick)
        published += 1
    return published


def move_tracks(catalogue: BeatportCatalogue, query: TrackQuery, limit: int) -> int:
    """`drift`: move up to `limit` ordinary tracks to another day of the window being crawled.

    A move edits only `publish_date`, the way a label correcting a release date would: the track
    keeps its id, so by publish date it leaves its place on one day and takes its id's place among
    the other day's tracks, shifting every offset page in between. The window is the span of the
    listings paged so far (so a request for one day moves tracks into and out of the others), and
    the track, its block (of the query's genres) and its new day are drawn from it in a seeded
    order. Returns how many moved.
    """
    moves = catalogue.moves
    if moves.per_block <= 0:
        return 0
    span = moves.widen(query.publish.first, query.publish.last, MAX_PUBLISHING_DAYS)
    if span is None or span[0] == span[1]:
        return 0
    days = [span[0] + timedelta(days=offset) for offset in range((span[1] - span[0]).days + 1)]
    pending = [(d, g) for d in days for g in query.genre_slots if moves.pending(d, g) > 0]
    moved = 0
    while pending and moved < limit:
        roll = stable_hash(catalogue.seed, "move", moves.version)
        day, genre_slot = pending[roll % len(pending)]
        if moves.pending(day, genre_slot) == 1:
            pending.remove((day, genre_slot))
        slot = Slot(day, genre_slot, (roll >> 20) % catalogue.tracks_per_day)
        while slot in moves.moved:  # the next unmoved slot of the block
            slot = Slot(day, genre_slot, (slot.index + 1) % catalogue.tracks_per_day)
        others = [d for d in days if d != day]
        moves.move(slot, others[(roll >> 40) % len(others)])
        moved += 1
    return moved


def covers(query: TrackQuery, genre_slot: int, day: date) -> bool:
    """Whether the listing's result could include tracks of (genre, day)."""
    return genre_slot in query.genre_slots and day in query.publish
