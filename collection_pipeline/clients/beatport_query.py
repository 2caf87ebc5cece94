"""Beatport listing queries: their filters, how they split, and which tracks belong to them.

A crawl is a tree of queries. The root is every genre over the whole window; a query whose
`count` reaches the 10,000 cap is split into disjoint parts that together hold all its tracks (by
publish day, by genre, then by new-release-date slices), and a query that came back short is
split the same way to find where tracks were missed. Splits only ever use filters the
API documents; the one ordering a crawl relies on is `publish_date`, and nothing depends on how
the API breaks its ties: completeness is always checked against `count`, never inferred from order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

COUNT_CAP = 10_000
"""Beatport never reports a `count` above this: a query that reaches it may hold more."""
ORDER = "publish_date"
UNION_ORDER = "release_id"
"""Both directions of this are unioned for a part no filter splits under the cap."""
RELEASED_FLOOR, RELEASED_CEILING = date(1900, 1, 1), date(2199, 12, 31)


@dataclass(frozen=True)
class TrackKey:
    """The fields of a received track that decide which queries it belongs to."""

    genre_id: int | None
    publish_date: date | None
    new_release_date: date | None
    release_id: int | None

    @classmethod
    def of(cls, track: Mapping[str, Any]) -> TrackKey:
        genre = track.get("genre")
        release = track.get("release")
        return cls(
            genre_id=_int(genre.get("id")) if isinstance(genre, Mapping) else None,
            publish_date=_day(track.get("publish_date")),
            new_release_date=_day(track.get("new_release_date")),
            release_id=_int(release.get("id")) if isinstance(release, Mapping) else None,
        )


@dataclass(frozen=True)
class BeatportQuery:
    """Tracks of any of `genre_ids` published `date_from`..`date_to`, optionally narrowed.

    `released` (new-release date) is an inclusive range; None means unfiltered.
    """

    genre_ids: tuple[int, ...]
    date_from: date
    date_to: date
    released: tuple[date, date] | None = None

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def label(self) -> str:
        genres = ",".join(str(g) for g in self.genre_ids)
        text = f"genre {genres} {self.date_from.isoformat()}:{self.date_to.isoformat()}"
        if self.released is not None:
            text += f" released {_released_param(self.released)}"
        return text

    def publish_days(self) -> list[date]:
        return [self.date_from + timedelta(days=n) for n in range(self.days)]

    def params(self, per_page: int, order_by: str = ORDER) -> dict[str, str | int]:
        params: dict[str, str | int] = {
            "genre_id": ",".join(str(g) for g in self.genre_ids),
            "publish_date": f"{self.date_from.isoformat()}:{self.date_to.isoformat()}",
        }
        if self.released is not None:
            params["new_release_date"] = _released_param(self.released)
        return {**params, "per_page": per_page, "order_by": order_by, "page": 1}

    def holds(self, key: TrackKey) -> bool:
        """Whether a track with these fields belongs to this query."""
        if key.genre_id not in self.genre_ids or key.publish_date is None:
            return False
        if not self.date_from <= key.publish_date <= self.date_to:
            return False
        if self.released is not None:
            released = key.new_release_date
            return released is not None and self.released[0] <= released <= self.released[1]
        return True

    def within(self, other: BeatportQuery) -> bool:
        """Whether every track of this query belongs to `other` too."""
        return (
            set(self.genre_ids) <= set(other.genre_ids)
            and other.date_from <= self.date_from
            and self.date_to <= other.date_to
            and _inside(self.released, other.released, (RELEASED_FLOOR, RELEASED_CEILING))
        )

    def halves(self) -> list[BeatportQuery]:
        """Two disjoint halves, by publish days, then by genres; [] for one genre on one day.

        Publish days go first so that parts line up with the daily partitions.
        """
        if self.days > 1:
            middle = self.date_from + timedelta(days=self.days // 2 - 1)
            return [
                replace(self, date_to=middle),
                replace(self, date_from=middle + timedelta(days=1)),
            ]
        if len(self.genre_ids) > 1:
            half = len(self.genre_ids) // 2
            return [
                replace(self, genre_ids=self.genre_ids[:half]),
                replace(self, genre_ids=self.genre_ids[half:]),
            ]
        return []

    def split_for_cap(self, keys: Sequence[TrackKey]) -> list[BeatportQuery]:
        """Disjoint parts that together hold every track of a query at the cap; [] when no
        documented filter can split it so.

        After days and genres, a new-release slice is cut around the sample's most common date
        (a busy day's tracks mostly come out on the day), isolating the cluster in one step.
        Only filters on fields every track carries split: a bpm range never selects a track
        without a tempo, nor a sub-genre one without a sub-genre, and the total of a capped query
        is unknown, so what such parts miss could not even be counted. `keys` are the tracks of
        this query seen so far (its first page at least); one without a new-release date ends
        the splitting too.
        """
        parts = self.halves()
        if parts:
            return parts
        released = self.released or (RELEASED_FLOOR, RELEASED_CEILING)
        if released[0] < released[1] and all(k.new_release_date for k in keys):
            common_day = _most_common([k.new_release_date for k in keys if k.new_release_date])
            return [replace(self, released=r) for r in _cut(released, common_day, timedelta(1))]
        return []


@dataclass(frozen=True)
class QueryOutcome:
    """The verdict on one crawled query (a leaf): complete, or why not.

    `count` is the API's `count` at the query's last read (None when no read ever succeeded);
    `received` the distinct tracks of the query that arrived, entries without an id (null,
    malformed) included since the listing counts them too; `received_by_day` splits the tracks
    with an id by publish day. The leaves of one crawl are disjoint and cover the window.
    """

    query: BeatportQuery
    count: int | None
    received: int
    error: str | None = None
    received_by_day: dict[date, int] = field(default_factory=dict)
    """`received` per publish day of the query."""

    @property
    def complete(self) -> bool:
        return self.error is None

    @property
    def reason(self) -> str | None:
        """One line naming the query, the count and what arrived; None when complete."""
        if self.error is None:
            return None
        counted = "unknown" if self.count is None else str(self.count)
        return (
            f"Beatport query {self.query.label}: API count {counted}, "
            f"{self.received} distinct tracks arrived; {self.error}"
        )


def _cut(bounds: tuple[Any, Any], value: Any, step: Any) -> list[tuple[Any, Any]]:
    """[lo, value-1], [value, value], [value+1, hi] (the empty ones left out); halves when the
    value is unknown or outside the bounds."""
    low, high = bounds
    if value is None or not low <= value <= high:
        middle = low + (high - low) // 2
        return [(low, middle), (middle + step, high)]
    parts = [(low, value - step), (value, value), (value + step, high)]
    return [(a, b) for a, b in parts if a <= b]


def _inside(inner: tuple[Any, Any] | None, outer: tuple[Any, Any] | None, whole: Any) -> bool:
    low, high = inner or whole
    outer_low, outer_high = outer or whole
    return outer_low <= low and high <= outer_high


def _most_common(values: Sequence[Any]) -> Any:
    return Counter(values).most_common(1)[0][0] if values else None


def _released_param(released: tuple[date, date]) -> str:
    low, high = released
    if low == high:
        return low.isoformat()
    first = "" if low <= RELEASED_FLOOR else low.isoformat()
    last = "" if high >= RELEASED_CEILING else high.isoformat()
    return f"{first}:{last}"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _day(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
