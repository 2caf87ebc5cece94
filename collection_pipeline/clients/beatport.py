"""Beatport API v4 client: complete, de-duplicated track crawls by genre and publish date.

A crawl never ends short without saying so, and one query's trouble never stops the others.
Every crawled query (a leaf of the split tree, see beatport_query.py) is checked against the
`count` the API reports at the END of the crawl: after all pages, every leaf's count is read
again, and a leaf that is short is repaired (its new tail fetched when the count grew, else split
in halves to find where tracks were missed, else re-crawled) and all leaves are read again, until
one full round finds none short; with that round's counts, per publish day, the listing
confirms that every track known on that day is still there (tracks move between days
mid-crawl; a moved track is passed on again, to be re-filed on its new day). Pages of a query
are passed on as they arrive, and let go of once passed on. A leaf whose count reaches the
10,000 cap is split by publish day, genre and new-release date; a part no filter splits is read
in both directions of `release_id` and kept complete only when the two reads provably meet. What
stays incomplete, or fails after the transport's retries, is reported per leaf (`QueryOutcome`)
with its reason.
"""

from __future__ import annotations

import functools
import itertools
import math
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import httpx

from collection_pipeline.clients.auth import BeatportCredentials
from collection_pipeline.clients.beatport_query import (
    COUNT_CAP,
    ORDER,
    UNION_ORDER,
    BeatportQuery,
    QueryOutcome,
    TrackKey,
)
from collection_pipeline.clients.errors import (
    ApiError,
    AuthenticationError,
    IncompleteCrawlError,
    MalformedResponseError,
    RateLimitedError,
)
from collection_pipeline.clients.policy import HttpPolicy, PolicySender, redact_url
from collection_pipeline.clients.stats import RequestStats
from collection_pipeline.normalization import content_key

__all__ = [
    "COUNT_CAP",
    "BeatportAPIClient",
    "BeatportCrawl",
    "BeatportPage",
    "BeatportQuery",
    "QueryOutcome",
]

MAX_ROUNDS = 60
"""Verification rounds that found the catalogue changed, before what is still short is given up.

A round re-reads the counts of the leaves that changed since their last read; when none of those
is short, it re-reads all the others and confirms every day in one wave (all three at once when
the changed leaves already hold what their last read counted), so the crawl ends only on a round
in which every leaf was read and none was short. A round counts against this budget when it saw the
catalogue change (a count unlike the same query's previous read, a known track on another day or
gone from its day): a catalogue that never stops moving is given up after this many. Rounds that
only repair what earlier reads already showed missing count against MAX_QUIET_ROUNDS instead, so
a catalogue that stops moving late in the crawl still gets every round its repair needs."""
MAX_QUIET_ROUNDS = 30
"""Rounds that saw nothing change: a listing that never serves what it counts ends here (a
leaf's re-crawls at an unchanged count are bounded by `max_recrawls` long before)."""
CONFIRM_CHUNK = 200
"""Track ids per `id`-filtered count that confirms tracks are still on their day (a URL of
about 2 kB)."""
PAGES_WORTH_RECRAWLING = 2
"""A short leaf of at most this many pages is re-crawled; a bigger one is halved first."""
PREFETCH_WAVES = 2
"""Pools' worth of the root's pages submitted with page 1, at most: past the first pool's
they only queue, and are cancelled unsent if page 1 shows they are not needed."""


@dataclass(frozen=True)
class BeatportPage:
    """One fetched page of `query`: its tracks not seen earlier in this crawl, in page order.

    Entries that are not track objects with an integer id (null, malformed) are passed on as
    they came, so that storage can keep and quarantine them instead of dropping them unseen.
    """

    query: BeatportQuery
    number: int
    total_pages: int
    count: int
    tracks: list[Any] = field(repr=False)
    duplicates_dropped: int = 0


_Check = tuple["_Leaf", BeatportQuery, "Future[int]", int]
"""One confirming count: the leaf, its day's query, the answer to come, the ids asked about."""


@dataclass
class _Envelope:
    count: int
    number: int
    total_pages: int
    results: list[Any]
    next: str | None


@dataclass
class _Leaf:
    """A crawled query awaiting (or past) verification."""

    query: BeatportQuery
    count: int | None = None
    paged_count: int | None = None
    """`count` when its pages were last fetched (None: never paged, only counted)."""
    error: str | None = None
    final: bool = False
    """Decided for good: no further reads (both-directions union, or an atomic failure)."""
    recrawls: int = 0
    tailed: bool = False
    """Its tail was fetched once; if it is short again, rows did not only append."""
    dirty: bool = True
    """Changed since its count was last read and found satisfied."""
    fresh_count: int | None = None
    """The `count` every page of its last paging reported, when they all agreed."""
    observed: int | None = None
    """The `count` its latest read (page or count) reported: a read unlike it saw a change."""
    recrawled_at: int | None = None
    """`count` when it was last re-crawled: re-crawls are bounded per count, since a count that
    moved means the catalogue changed, not that the listing fails to serve what it counts."""


class BeatportCrawl:
    """One crawl of a window: iterate it for pages, then read `outcomes` (one per leaf)."""

    def __init__(self, client: BeatportAPIClient, root: BeatportQuery) -> None:
        self._client = client
        self._root = root
        self._seen: dict[int, TrackKey] = {}
        """Every track passed on, as last received: a track seen again with other fields moved."""
        self._by_day: dict[date, dict[int, TrackKey]] = {}
        self._unkeyed: dict[str, BeatportQuery] = {}
        """Entries without an id, by content (objects) or listing place (null): the query they
        arrived in, which is all that is known of where they belong."""
        self._sampled: dict[int, TrackKey] = {}
        """Tracks of capped first pages, which are not passed on: they only guide splits."""
        self._leaves: list[_Leaf] = []
        self._confirmable = True
        self._changed = False
        """Set by any read that saw the catalogue change since the crawl's previous read."""
        self.rounds = (0, 0)
        """(rounds that saw the catalogue change, rounds that did not), when iteration ends."""
        self.outcomes: list[QueryOutcome] = []
        """Filled when iteration ends: every leaf, complete or not."""

    @property
    def complete(self) -> bool:
        return all(outcome.complete for outcome in self.outcomes)

    def __iter__(self) -> Iterator[BeatportPage]:
        yield from self._descend([self._root], self._prefetch())
        changing = quiet = 0
        while changing < MAX_ROUNDS and quiet < MAX_QUIET_ROUNDS:
            still = not self._changed  # nothing read since the last round began saw a change
            self._changed = False
            dirty = [leaf for leaf in self._leaves if leaf.dirty]
            settled = [leaf for leaf in self._leaves if not leaf.final and not leaf.dirty]
            if still and self._likely_satisfied(dirty):
                short = self._final_round([*dirty, *settled])
            else:
                short = self._verify_round(dirty) or self._final_round(settled)
            if not short:
                break
            for leaf in short:
                leaf.dirty = True
                yield from self._repair(leaf)
            changing, quiet = (changing + 1, quiet) if self._changed else (changing, quiet + 1)
        else:
            self._give_up(changing)
        self.rounds = (changing, quiet)
        self.outcomes = [self._outcome(leaf) for leaf in self._leaves]

    def _give_up(self, changing: int) -> None:
        """Out of rounds: every leaf still short, or holding a day whose tracks left it, is
        reported incomplete (never a silently short or misfiled day)."""
        why = (
            f"still short: the catalogue changed in each of {changing} verification rounds"
            if changing >= MAX_ROUNDS
            else f"still short after {MAX_QUIET_ROUNDS} verification rounds without a change"
        )
        reads, checks = self._submit_counts(self._leaves), self._submit_confirmations()
        for leaf in [*self._short(reads), *self._stale_days(checks)]:
            leaf.error = leaf.error or why
            leaf.final = True

    # ------------------------------------------------------------------ descent

    def _prefetch(self) -> int:
        """Pages of the root to request together with its first one.

        The first page's `count` is what says how many pages there are; until it arrives the
        pool would sit idle. A page per publish day of the window is a floor for a catalogue
        that publishes every day in these genres, so pages 2..days, at most PREFETCH_WAVES
        pools' worth, are submitted with page 1. The first of them go out with it; the others
        wait in the pool's queue and go out as soon as a slot is free, so a slot that answers
        before page 1 goes on to the next page instead of idling until page 1's count is read.
        Once it is, pages queued past the last one are cancelled unsent; one already sent
        answers 404 "Invalid page." (DRF's documented answer) and is dropped, costing one
        request. A one-day window prefetches none.
        """
        ahead = min(self._root.days, PREFETCH_WAVES * self._client.max_concurrency)
        return max(0, ahead - 1)

    def _descend(
        self, queries: Sequence[BeatportQuery], prefetch: int = 0
    ) -> Iterator[BeatportPage]:
        """Crawl `queries` (first pages fetched together), splitting any at the cap; with
        `prefetch`, the first query's pages 2..prefetch+1 are requested with them."""
        firsts = [self._client.submit_page(q, 1) for q in queries]
        ahead = deque(self._client.submit_page(queries[0], n) for n in range(2, prefetch + 2))
        for query, future in zip(queries, firsts, strict=True):
            early, ahead = ahead, deque()
            try:
                first = future.result()
            except ApiError as exc:
                _reraise_global(exc)
                self._leaves.append(_Leaf(query, error=_describe(exc)))
                _drop(early)
                continue
            if first.count >= self._client.count_cap:
                _drop(early)
                yield from self._split_capped(query, first)
                continue
            leaf = _Leaf(query, count=first.count, paged_count=first.count)
            self._leaves.append(leaf)
            self._observe(leaf, first.count)
            yield from self._pages(leaf, first, early=early)

    def _split_capped(self, query: BeatportQuery, first: _Envelope) -> Iterator[BeatportPage]:
        self._remember(first.results)
        parts = query.split_for_cap(self._keys(query))
        if parts:
            yield from self._descend(parts)
        else:
            yield from self._union(query)

    def _pages(
        self,
        leaf: _Leaf,
        first: _Envelope,
        order: str = ORDER,
        early: deque[Future[_Envelope]] | None = None,
    ) -> Iterator[BeatportPage]:
        """The first page, then the others fetched concurrently (bounded by the pool); `early`
        holds pages 2.. already requested (taken over), of which those past the last page are
        dropped.

        The other pages are requested before the first is passed on, so that they are on
        their way while the caller stores it."""
        pending = early if early is not None else deque()
        wanted = first.total_pages - 1
        while len(pending) > wanted:
            pending.pop().cancel()  # past the last page: cancelled unsent, or its 404 ignored
        pending.extend(
            self._client.submit_page(leaf.query, n, order)
            for n in range(len(pending) + 2, first.total_pages + 1)
        )
        counts = {first.count}
        leaf.fresh_count = None
        try:
            yield self._page(leaf.query, first)
            for envelope in _answered(pending):
                counts.add(envelope.count)
                self._observe(leaf, envelope.count)
                yield self._page(leaf.query, envelope)
        except ApiError as exc:
            _reraise_global(exc)
            leaf.error = _describe(exc)
            return
        finally:
            _drop(pending)
        if len(counts) == 1:
            leaf.fresh_count = first.count

    def _union(self, query: BeatportQuery) -> Iterator[BeatportPage]:
        """Both directions of `release_id` for a part at the cap that no filter splits.

        Every row keyed below the ascending read's last key was in it, every row keyed above the
        descending read's last key in that one: once the descending read passes below the
        ascending one's last key, nothing is missing, whatever the rows carry (no tempo, no
        sub-genre). So the descending read goes a wave of pages at a time and stops there: the
        part costs about its own size in pages, not twice the cap.
        """
        leaf = _Leaf(query, count=self._client.count_cap, final=True)
        self._leaves.append(leaf)
        pending: deque[Future[_Envelope]] = deque()
        try:
            first = self._client.submit_page(query, 1, UNION_ORDER).result()
            pending.extend(
                self._client.submit_page(query, n, UNION_ORDER)
                for n in range(2, first.total_pages + 1)
            )
            highest = -1  # no release id seen: nothing the descending read could meet
            for envelope in itertools.chain([first], _taken(pending)):
                highest = max(highest, *_release_ids(envelope.results), -1)
                yield self._page(query, envelope)
            met = False
            descending = f"-{UNION_ORDER}"
            wave = self._client.max_concurrency
            number, total = 1, first.total_pages
            while not met and number <= total:
                stop = min(number + wave, total + 1)
                pending.extend(
                    self._client.submit_page(query, n, descending) for n in range(number, stop)
                )
                number = stop
                for envelope in _taken(pending):
                    total = envelope.total_pages
                    lowest = min(_release_ids(envelope.results), default=highest)
                    yield self._page(query, envelope)
                    met = met or lowest < highest
        except ApiError as exc:
            _reraise_global(exc)
            leaf.error = _describe(exc)
            return
        finally:
            _drop(pending)
        if not met:
            leaf.error = (
                f"at the {self._client.count_cap:,} cap where no documented filter splits it "
                f"further, and the two directions of {UNION_ORDER} did not meet"
            )

    # ------------------------------------------------------------------ verification

    def _verify_round(self, leaves: Sequence[_Leaf]) -> list[_Leaf]:
        """Read the counts of the open ones of `leaves` again, concurrently; the short ones."""
        return self._short(self._submit_counts(leaves))

    def _final_round(self, leaves: Sequence[_Leaf]) -> list[_Leaf]:
        """The open ones of `leaves` counted and every day confirmed, in one wave; the leaves
        that are short or hold a day a known track left ([] ends the crawl).

        Sending the confirmation with the counts is as sound as sending it after them: both
        observe the catalogue after the last page (every page of the crawl was answered before
        either goes out), and neither request depends on the other's answer, since a count adds
        no track to those the confirmation asks about. Its verdict is used only when no count
        is short, as before: a short leaf is repaired first, and what its repair reads is
        confirmed in a later round. So a final round costs one wave of the pool, not two; the
        counts go out first, and the first short one cancels the confirmations not yet sent.
        """
        reads = self._submit_counts(leaves)
        checks = self._submit_confirmations()
        short = self._short(reads, on_short=lambda: _drop(future for _, _, future, _ in checks))
        return short or self._stale_days(checks)

    def _likely_satisfied(self, leaves: Sequence[_Leaf]) -> bool:
        """Whether a count round of `leaves` will probably find none short: each holds as many
        tracks as its latest read (page or count) reported. Only a guess about when to send the
        final round with them, never a verdict: the counts are read again either way. The
        caller asks only when nothing read since the last round saw the catalogue change: while
        it moves (`drift`), a guess from earlier reads is mostly wrong, and each wrong one
        re-reads every settled leaf for nothing."""
        return all(
            leaf.final
            or (
                leaf.observed is not None
                and leaf.observed < self._client.count_cap
                and self._received(leaf.query) >= leaf.observed
            )
            for leaf in leaves
        )

    def _submit_counts(self, leaves: Sequence[_Leaf]) -> list[tuple[_Leaf, Future[int]]]:
        """The open ones of `leaves`, each with its count requested now."""
        return [(leaf, self._count_future(leaf)) for leaf in leaves if not leaf.final]

    def _short(
        self,
        reads: Sequence[tuple[_Leaf, Future[int]]],
        on_short: Callable[[], None] | None = None,
    ) -> list[_Leaf]:
        """The leaves whose count (or its read) says tracks are missing; `on_short` is called
        once, as soon as the first is known.

        A leaf holding more known tracks than it counts is not short, but stays open: a track
        it held may have moved to a leaf that is short until the track is read there.
        """
        short = []
        for leaf, future in reads:
            try:
                leaf.count = future.result()
            except ApiError as exc:
                _reraise_global(exc)
                leaf.error = _describe(exc)
                short.append(leaf)
            else:
                self._observe(leaf, leaf.count)
                received = self._received(leaf.query)
                if leaf.count >= self._client.count_cap or received < leaf.count:
                    short.append(leaf)
                else:
                    leaf.error = None  # whatever failed earlier, every counted track is here
                    leaf.dirty = received > leaf.count
            if short and on_short is not None:
                on_short()
                on_short = None
        return short

    def _count_future(self, leaf: _Leaf) -> Future[int]:
        """The leaf's count now. A crawl that is a single leaf whose pages (the last requests
        made) all reported one count needs no further read: that count is the final one."""
        if len(self._leaves) == 1 and leaf.fresh_count is not None:
            done: Future[int] = Future()
            done.set_result(leaf.fresh_count)
            leaf.fresh_count = None
            return done
        return self._client.submit_count(leaf.query)

    def _submit_confirmations(self) -> list[_Check]:
        """Ask, per publish day, whether every track known on it is still listed there.

        Counts cannot see a track that moved to another day after both days were read (or two
        that swapped days): every count still agrees. So once they do, the listing is asked,
        per publish day, how many of the tracks known on that day it still lists there (the
        documented `id` filter, in chunks). All on their days, and each leaf holding exactly
        its count, means every track is known on its day now (`_stale_days` reads the answers).
        A day's tracks can only be proved on it by a filter on that day alone: a count over
        several days cannot see a track move between them, so it is one request a day.
        """
        if self._root.days == 1 or not self._confirmable:  # one day: nowhere for a track to move
            return []
        checks: list[_Check] = []
        for leaf in (leaf for leaf in self._leaves if not leaf.final):
            for day in leaf.query.publish_days():
                query = replace(leaf.query, date_from=day, date_to=day)
                ids = [i for i, key in self._by_day.get(day, {}).items() if query.holds(key)]
                for start in range(0, len(ids), CONFIRM_CHUNK):
                    chunk = ids[start : start + CONFIRM_CHUNK]
                    future = self._client.submit_count(query, {"id": ",".join(map(str, chunk))})
                    checks.append((leaf, query, future, len(chunk)))
        return checks

    def _stale_days(self, checks: Sequence[_Check]) -> list[_Leaf]:
        """The days where the confirmation found a known track gone, to be read again.

        A leaf with a day that fails is replaced by its days; a failing day forgets the tracks
        it held and is read again, and a track that left it is re-filed where the next read
        finds it. A listing that counts more of the ids than were asked for ignores the
        filter: then counts are all there is.
        """
        failing: dict[int, set[BeatportQuery]] = {}
        for leaf, query, future, known in checks:
            try:
                confirmed = future.result()
            except ApiError as exc:
                _reraise_global(exc)
                confirmed = -1
            if confirmed > known:  # the `id` filter is not honoured: counts are all there is
                self._confirmable = False
                _drop([future for _, _, future, _ in checks])
                return []
            if confirmed != known:  # a known track left its day since it was read
                self._changed = True
                failing.setdefault(id(leaf), set()).add(query)
        stale: list[_Leaf] = []
        for leaf in [leaf for leaf in self._leaves if id(leaf) in failing]:
            index = self._leaves.index(leaf)
            days = [replace(leaf.query, date_from=d, date_to=d) for d in leaf.query.publish_days()]
            parts = [_Leaf(query) for query in days]
            self._leaves[index : index + 1] = parts
            for part in parts:
                if part.query in failing[id(leaf)]:
                    self._forget(part.query)
                    stale.append(part)
        return stale

    def _forget(self, query: BeatportQuery) -> None:
        """Drop what is known of the query's tracks, so that reading them again files them."""
        for day in query.publish_days():
            held = self._by_day.get(day, {})
            for track_id in [i for i, key in held.items() if query.holds(key)]:
                del held[track_id]
                del self._seen[track_id]

    def _repair(self, leaf: _Leaf) -> Iterator[BeatportPage]:
        """One step towards completing a short or failed leaf."""
        count = leaf.count
        if count is not None and count >= self._client.count_cap and not leaf.error:
            self._leaves.remove(leaf)
            yield from self._split_capped(leaf.query, _Envelope(count, 1, 1, [], None))
            return
        grew = count is not None and leaf.paged_count is not None and count > leaf.paged_count
        if not leaf.error and grew and not leaf.tailed:
            leaf.tailed = True
            yield from self._tail(leaf)
            return
        parts = leaf.query.halves()
        if parts and (leaf.error or leaf.recrawls or self._worth_halving(leaf)):
            index = self._leaves.index(leaf)
            self._leaves[index : index + 1] = [_Leaf(part) for part in parts]
            return
        if leaf.recrawls and count != leaf.recrawled_at:  # the catalogue moved, not the listing
            leaf.recrawls = 0
        if leaf.recrawls >= (1 if leaf.error else self._client.max_recrawls):
            leaf.error = leaf.error or "still short after re-crawling"
            leaf.final = True
            return
        leaf.recrawls += 1
        leaf.recrawled_at = count
        leaf.error = None
        try:
            first = self._client.submit_page(leaf.query, 1).result()
        except ApiError as exc:
            _reraise_global(exc)
            leaf.error = _describe(exc)
            return
        self._observe(leaf, first.count)
        leaf.paged_count = first.count
        if first.count >= self._client.count_cap:
            yield from self._repair(leaf)
            return
        yield from self._pages(leaf, first)

    def _worth_halving(self, leaf: _Leaf) -> bool:
        """Halving finds a few missing tracks with two count reads per level; when most of a
        leaf is missing, or it is a couple of pages, re-crawling it is cheaper."""
        count = leaf.count or 0
        pages = math.ceil(count / self._client.page_size)
        return pages > PAGES_WORTH_RECRAWLING and self._received(leaf.query) * 2 >= count

    def _tail(self, leaf: _Leaf) -> Iterator[BeatportPage]:
        """The pages past what was paged: where an ascending order puts newly published rows."""
        size = self._client.page_size
        start, stop = leaf.paged_count or 0, leaf.count or 0
        numbers = range(start // size + 1, math.ceil(stop / size) + 1)
        pending = deque(self._client.submit_page(leaf.query, n) for n in numbers)
        leaf.paged_count = stop
        leaf.fresh_count = None
        try:
            for envelope in _answered(pending):
                self._observe(leaf, envelope.count)
                yield self._page(leaf.query, envelope)
        except ApiError as exc:
            _reraise_global(exc)
            leaf.error = _describe(exc)
        finally:
            _drop(pending)

    # ------------------------------------------------------------------ bookkeeping

    def _observe(self, leaf: _Leaf, count: int) -> None:
        """Note the leaf's count as just read; one unlike its previous read is a change."""
        if leaf.observed is not None and count != leaf.observed:
            self._changed = True
        leaf.observed = count

    def _page(self, query: BeatportQuery, envelope: _Envelope) -> BeatportPage:
        tracks: list[Any] = []
        dropped = 0
        for position, entry in enumerate(envelope.results):
            track_id = entry.get("id") if isinstance(entry, Mapping) else None
            if isinstance(track_id, int) and not isinstance(track_id, bool):
                track_key = TrackKey.of(entry)
                if track_key.publish_date is None:  # no day accounts for it: count it as unkeyed
                    self._note_unkeyed(f"id:{track_id}", query)
                if self._seen.get(track_id) == track_key:
                    dropped += 1
                    continue
                self._add(track_id, track_key)  # new, or moved: passed on again to re-file it
            else:
                key = (
                    content_key(entry)
                    if isinstance(entry, Mapping)
                    else f"entry:{query.label}:{envelope.number}:{position}"
                )
                self._note_unkeyed(key, query)
            tracks.append(entry)
        return BeatportPage(
            query=query,
            number=envelope.number,
            total_pages=envelope.total_pages,
            count=envelope.count,
            tracks=tracks,
            duplicates_dropped=dropped,
        )

    def _note_unkeyed(self, key: str, query: BeatportQuery) -> None:
        """An entry no publish day accounts for counts towards the narrowest query it was seen in.

        Re-crawls narrow a short query; an entry first seen in the wide one must then count
        for the narrow part that holds it too, or that part stays short forever.
        """
        origin = self._unkeyed.get(key)
        if origin is None or query.within(origin):
            self._unkeyed[key] = query

    def _remember(self, results: Sequence[Any]) -> None:
        """Note tracks of a page whose records are not passed on (a capped query's first page)."""
        for entry in results:
            track_id = entry.get("id") if isinstance(entry, Mapping) else None
            if isinstance(track_id, int) and track_id not in self._seen:
                self._sampled[track_id] = TrackKey.of(entry)

    def _add(self, track_id: int, key: TrackKey) -> None:
        previous = self._seen.get(track_id)
        if previous is not None:
            self._changed = True  # known, with fields that moved since
        if previous is not None and previous.publish_date is not None:
            self._by_day[previous.publish_date].pop(track_id, None)
        self._seen[track_id] = key
        if key.publish_date is not None:
            self._by_day.setdefault(key.publish_date, {})[track_id] = key

    def _keys(self, query: BeatportQuery) -> list[TrackKey]:
        seen = [k for day in query.publish_days() for k in self._by_day.get(day, {}).values()]
        return [k for k in (*seen, *self._sampled.values()) if query.holds(k)]

    def _received_keyed(self, query: BeatportQuery) -> int:
        """Tracks known (as last received) to belong to the query."""
        return sum(
            1
            for day in query.publish_days()
            for k in self._by_day.get(day, {}).values()
            if query.holds(k)
        )

    def _received(self, query: BeatportQuery) -> int:
        unkeyed = sum(1 for origin in self._unkeyed.values() if origin.within(query))
        return self._received_keyed(query) + unkeyed

    def _outcome(self, leaf: _Leaf) -> QueryOutcome:
        query = leaf.query
        by_day = {
            day: sum(1 for k in self._by_day.get(day, {}).values() if query.holds(k))
            for day in query.publish_days()
        }
        received = self._received(query)
        count = received if leaf.final and leaf.error is None else leaf.count
        return QueryOutcome(query, count, received, leaf.error, by_day)


def _taken(pending: deque[Future[_Envelope]]) -> Iterator[_Envelope]:
    """The answers of `pending` in order, each future let go of as it is taken.

    A list of futures would keep every decoded page of a query alive until its last one (a
    100-page leaf is some 100 MB of Python objects), and the cyclic garbage collector walks
    them all again each time the heap grows by a quarter. What is not taken stays in `pending`
    for the caller to drop.
    """
    while pending:
        result = pending.popleft().result()
        yield result


def _answered(pending: deque[Future[_Envelope]]) -> Iterator[_Envelope]:
    """The answers of `pending` as they arrive (those already in, in the order requested), each
    future let go of as it is taken; what is not taken stays in `pending` for the caller to drop.

    Taking pages in the order requested made the crawl wait on a slow page with later ones in
    hand, and then work through all of them at once: after the last page of a window arrived,
    the pages behind it were still to be read before the next round could be sent.
    """
    while pending:
        future = next((future for future in pending if future.done()), None)
        if future is None:
            wait(pending, return_when=FIRST_COMPLETED)
            continue
        pending.remove(future)
        result = future.result()
        del future  # nothing here holds a page once it is passed on
        yield result


def _drop(futures: Iterable[Future[Any]]) -> None:
    """Pages requested ahead that are not wanted: cancelled if not yet sent, else ignored
    (a page past the end answers 404, a failure that belongs to no query)."""
    for future in futures:
        future.cancel()


def _reraise_global(exc: ApiError) -> None:
    """Failures no other query can escape (credentials, a ban past the cap) end the crawl."""
    if isinstance(exc, AuthenticationError) or (
        isinstance(exc, RateLimitedError) and exc.beyond_cap
    ):
        raise exc


def _release_ids(results: Sequence[Any]) -> list[int]:
    keys = (TrackKey.of(entry) for entry in results if isinstance(entry, Mapping))
    return [key.release_id for key in keys if key.release_id is not None]


def _describe(exc: ApiError) -> str:
    return f"{type(exc).__name__}: {exc}"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once per process and shared by every client.

    Making one loads the CA bundle, about 40 ms: a client built per crawl paid it each time,
    on the crawl's critical path, though an `http` base URL never uses it. An SSLContext is
    safe to share between connections and threads once configured, as this one is.
    """
    return httpx.create_ssl_context()


class BeatportAPIClient:
    def __init__(
        self,
        base_url: str,
        access_token: str | None,
        *,
        refresh_token: str | None = None,
        client_id: str | None = None,
        policy: HttpPolicy | None = None,
        max_concurrency: int,
        page_size: int = 100,
        max_recrawls: int = 3,
        count_cap: int = COUNT_CAP,
        transport: httpx.BaseTransport | None = None,
        credential_names: Mapping[str, str] | None = None,
    ) -> None:
        """`credential_names`: what error messages call each credential (`auth.CREDENTIALS`).

        `count_cap` is the API's, never a setting: only tests lower it, with an emulator whose
        listing caps at the same value (a client above its listing's cap would take a capped
        `count` for an exact one), to cross the cap with a tenth of the tracks.
        """
        self.base_url = base_url.rstrip("/")
        self.policy = policy or HttpPolicy()
        self.stats = RequestStats()
        self.page_size = page_size
        self.max_recrawls = max_recrawls
        self.count_cap = count_cap
        self.max_concurrency = max_concurrency
        self._http = httpx.Client(
            timeout=self.policy.timeout(),
            limits=httpx.Limits(max_connections=max_concurrency + 2),
            transport=transport,
            verify=_ssl_context(),
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
            credential_names=credential_names,
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

    def crawl(self, genre_ids: Sequence[int], date_from: date, date_to: date) -> BeatportCrawl:
        """A crawl of tracks published `date_from`..`date_to` (inclusive) in any of `genre_ids`.

        Iterate it for pages; afterwards `outcomes` says, per leaf query, whether it is complete
        against the API's final `count`. Only credential failures and rate-limit bans past the
        policy's cap raise out of the iteration; any other failure is that query's outcome.
        """
        if date_to < date_from:
            raise ValueError(f"date_to {date_to} is before date_from {date_from}")
        if not genre_ids:
            raise ValueError("at least one genre id is needed")
        return BeatportCrawl(self, BeatportQuery(tuple(sorted(set(genre_ids))), date_from, date_to))

    def get_tracks(
        self, genre_ids: Sequence[int], date_from: date, date_to: date
    ) -> Iterator[BeatportPage]:
        """Every page of `crawl`, then IncompleteCrawlError if any query stayed incomplete."""
        crawl = self.crawl(genre_ids, date_from, date_to)
        yield from crawl
        for outcome in crawl.outcomes:
            if not outcome.complete:
                raise IncompleteCrawlError(outcome)

    # ------------------------------------------------------------------ requests

    def submit_page(
        self, query: BeatportQuery, number: int, order: str = ORDER
    ) -> Future[_Envelope]:
        params = query.params(self.page_size, order)
        params["page"] = number
        return self._pool.submit(self._fetch, self._tracks_url, params)

    def submit_count(
        self, query: BeatportQuery, extra: Mapping[str, str] | None = None
    ) -> Future[int]:
        """The query's `count` (narrowed by `extra` filters), from a one-track page."""
        params = {**query.params(1), **(extra or {})}
        return self._pool.submit(lambda: self._fetch(self._tracks_url, params).count)

    # ------------------------------------------------------------------ HTTP

    @property
    def _tracks_url(self) -> str:
        return f"{self.base_url}/catalog/tracks/"

    def _fetch(self, url: str, params: Mapping[str, str | int]) -> _Envelope:
        """One page; a body that is JSON but not a Beatport page is fetched once more.

        (The transport already retried bodies that are not JSON at all.) Pages are addressed by
        our own parameters rather than the server's `next` links, so the token is never sent to
        a host other than the configured base URL and every page of a query is the same query.
        """
        try:
            return self._parse(self._get(url, params), url, params)
        except MalformedResponseError:
            return self._parse(self._get(url, params), url, params)

    def _get(self, url: str, params: Mapping[str, str | int]) -> Any:
        return self._sender.request_json("GET", url, params=params, auth=self._auth)

    @staticmethod
    def _parse(body: Any, url: str, params: Mapping[str, str | int]) -> _Envelope:
        try:
            number, total = (int(part) for part in str(body["page"]).split("/", 1))
            results = body["results"]
            if not isinstance(results, list):
                raise TypeError("results is not a list")
            return _Envelope(int(body["count"]), number, total, results, body.get("next"))
        except (KeyError, TypeError, ValueError) as exc:
            shown = redact_url(httpx.URL(url, params=params))
            raise MalformedResponseError(
                f"GET {shown} answered JSON that is not a Beatport page ({type(exc).__name__})",
                shown,
            ) from None
