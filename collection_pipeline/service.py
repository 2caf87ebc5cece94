"""CollectionService: the three pipeline steps, with batching, lineage and resumability.

The service decides *what* happens in which transaction and holds no SQL and no HTTP: the
repositories of a unit of work own the SQL, the clients own the HTTP. Every page or batch is
committed in its own unit of work, so a crash loses at most the batch in flight and a re-run
converges to the state an uninterrupted run would have produced.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from collection_pipeline.clients import ApiError
from collection_pipeline.domain import (
    CollectResult,
    DatabaseUnavailableError,
    DateWindow,
    DayCollect,
    EnrichResult,
    LearnedRate,
    MatchOutcome,
    MatchStatus,
    NormalizedTrack,
    PendingLookup,
    ProcessResult,
    Progress,
    TrackToMatch,
    no_progress,
)
from collection_pipeline.matching import Matcher
from collection_pipeline.normalization import (
    MalformedRecord,
    content_key,
    normalize_beatport_track,
    parse_iso_date,
)
from collection_pipeline.storage import (
    RawRecordIn,
    UnitOfWork,
    UnitOfWorkFactory,
    UpsertCounts,
)

if TYPE_CHECKING:
    from collection_pipeline.clients import (
        BeatportAPIClient,
        LookupBatch,
        QueryOutcome,
        SpotifyAPIClient,
    )

PROVIDER_BEATPORT = "beatport"
PROVIDER_SPOTIFY = "spotify"
ENTITY_TRACK = "track"
MAX_REASON_LENGTH = 200

T = TypeVar("T")

RATE_SAVE_EVERY_S = 60.0
"""How often a long enrichment saves the Spotify pacer's learned rate (and once at its end)."""

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The service's default clock (timezone-aware UTC)."""
    return datetime.now(UTC)


class ServiceError(Exception):
    """An error the service raises; callers decide from `retryable` alone.

    Client exceptions stay below the service: it wraps the ones it cannot handle, keeping the
    cause, so the Dagster layer and the CLI depend on the service's errors, never on a client's.
    `retryable` means "try this step again later" (a retry, the next run); `False` needs a human.
    """

    retryable: bool = False

    def __init__(self, message: str, cause: Exception) -> None:
        super().__init__(message)
        self.retryable = bool(getattr(cause, "retryable", False))


class CollectionAbortedError(ServiceError):
    """The Beatport crawl stopped on a failure no query can escape (credentials, a ban past the
    cap); every page received before it is stored."""


class EnrichmentAbortedError(ServiceError):
    """The Spotify step stopped early on a failure no retry can fix within this run.

    Every outcome finished before the failure has been saved; the tracks not yet searched
    stay pending and are picked up by the next run. `retryable` is the cause's: a penalty
    past the cap passes with time, wrong credentials need a human.
    """


class CollectionService:
    """Collect raw Beatport tracks, normalize them, and match them on Spotify."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        run_id: str,
        beatport: BeatportAPIClient | None = None,
        spotify: SpotifyAPIClient | None = None,
        matcher: Matcher | None = None,
        not_found_ttl: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._uow_factory = uow_factory
        self._run_id = run_id
        self._beatport = beatport
        self._spotify = spotify
        self._matcher = matcher or Matcher()
        self._not_found_ttl = not_found_ttl
        self._clock = clock

    @property
    def clock(self) -> Callable[[], datetime]:
        """The one time source of the service's writes, for readers that judge what it wrote."""
        return self._clock

    # ------------------------------------------------------------ collect

    def collect_beatport_tracks_raw(
        self, window: DateWindow, genre_ids: Sequence[int], progress: Progress = no_progress
    ) -> CollectResult:
        """Upsert every Beatport page of the window, one transaction per page; judge each day.

        A query that fails or stays short of its API `count` does not stop the collect: every
        other query is still crawled and stored, and only the days the failed query covers are
        marked incomplete in `result.days`, with its reason. Only failures no query can escape
        (credentials, a rate-limit ban past the policy's cap) raise.
        """
        if self._beatport is None:
            raise RuntimeError("collect_beatport_tracks_raw needs a Beatport client")
        started = time.monotonic()
        before = self._beatport.stats.snapshot()
        result = CollectResult(days={day: DayCollect() for day in window.days()})
        crawl = self._beatport.crawl(genre_ids, window.start, window.last_day)
        filed: dict[str, tuple[date | None, str]] = {}
        try:
            for page in crawl:
                result.pages += 1
                result.duplicates_dropped += page.duplicates_dropped
                records = [_raw_record_in(track, window) for track in page.tracks]
                if records:
                    self._store_page(records, result, filed)
                progress(
                    f"collect {page.query.label}: page {page.number}/{page.total_pages}, "
                    f"{result.records} records so far (new {result.new}, changed "
                    f"{result.changed}, unchanged {result.unchanged})"
                )
        except ApiError as exc:
            raise CollectionAbortedError(
                f"Beatport collection of {window} stopped after {result.pages} pages "
                f"({result.records} records stored): {type(exc).__name__}: {exc}",
                exc,
            ) from exc
        _judge_days(result, crawl.outcomes)
        result.requests = self._beatport.stats.since(before)
        result.seconds = time.monotonic() - started
        return result

    def _store_page(
        self,
        records: list[RawRecordIn],
        result: CollectResult,
        filed: dict[str, tuple[date | None, str]],
    ) -> None:
        """One transaction for the page, one upsert per publish day so each day is counted.

        `filed` holds, per record stored earlier in this collect, its day and how it counted
        (new, changed, unchanged). A track that moved to another day mid-collect arrives again:
        the upsert re-files it under its new day, and it is counted once, on that day, as what
        it was to the catalogue before the collect (new stays new; anything else changed).
        """
        by_day: dict[date | None, list[RawRecordIn]] = {}
        for record in records:
            by_day.setdefault(record.partition_date, []).append(record)
        now = self._clock()

        def upsert(uow: UnitOfWork) -> dict[date | None, UpsertCounts]:
            return {
                day: uow.raw.upsert_records(
                    PROVIDER_BEATPORT, ENTITY_TRACK, group, self._run_id, now=now
                )
                for day, group in by_day.items()
            }

        for day, counts in self._write(upsert).items():
            result.records += counts.duplicates_dropped
            result.duplicates_dropped += counts.duplicates_dropped
            for external_id in dict.fromkeys(record.external_id for record in by_day[day]):
                inserted = counts.inserted.get(external_id)
                kind = "unchanged" if inserted is None else "new" if inserted else "changed"
                earlier = filed.get(external_id)
                if earlier is not None:  # stored before in this collect: it moved, count it once
                    _count_stored(result, earlier[0], earlier[1], -1)
                    kind = "new" if earlier[1] == "new" else "changed"
                filed[external_id] = (day, kind)
                _count_stored(result, day, kind, 1)

    # ------------------------------------------------------------ process

    def process_unprocessed_beatport_tracks(
        self, window: DateWindow, batch_size: int = 1000, progress: Progress = no_progress
    ) -> ProcessResult:
        """Normalize the window's unprocessed raw tracks in keyset batches, one transaction each.

        A malformed record is quarantined with its reason inside the same transaction as the
        rest of its batch, so it never fails the batch and is never retried blindly. The next
        batch is read and normalized on a second thread while the current one is written, so
        the database's time and the normalization's CPU overlap instead of adding up.
        """
        _require_positive(batch_size, "batch_size")
        started = time.monotonic()
        result = ProcessResult()
        reasons: Counter[str] = Counter()
        written: Counter[str] = Counter()
        with ThreadPoolExecutor(1, thread_name_prefix="normalize") as reader:
            upcoming = reader.submit(self._read_batch, window, 0, batch_size)
            while (batch := upcoming.result()).last_id is not None:
                upcoming = reader.submit(self._read_batch, window, batch.last_id, batch_size)
                now = self._clock()
                written.update(
                    self._write(lambda uow, batch=batch, now=now: self._save_batch(uow, batch, now))
                )
                reasons.update(batch.quarantined.values())
                result.batches += 1
                result.processed += len(batch.good)
                result.quarantined += len(batch.quarantined)
                progress(
                    f"process {window}: batch {result.batches}, {result.processed} processed, "
                    f"{result.quarantined} quarantined"
                )
        result.quarantine_reasons = dict(reasons)
        result.entities_written = dict(written)
        result.seconds = time.monotonic() - started
        return result

    def _save_batch(
        self, uow: UnitOfWork, batch: _NormalizedBatch, now: datetime
    ) -> Mapping[str, int]:
        """Write one normalized batch and mark its records, all stamped `now` (one reading of
        the service's clock per batch), each with normalization's ISRC finding (for the
        `isrc_validity` check); the entity counts written."""
        written: Mapping[str, int] = {}
        if batch.good:
            written = uow.catalog.save_tracks(batch.good, self._run_id, now=now)
            uow.raw.mark_processed(
                [raw_id for raw_id, _ in batch.good],
                self._run_id,
                now=now,
                content_hashes=batch.content_hashes,
                isrc_rejected=[raw_id for raw_id, track in batch.good if track.isrc_rejected],
            )
        if batch.quarantined:
            uow.raw.mark_quarantined(
                batch.quarantined, self._run_id, now=now, content_hashes=batch.content_hashes
            )
        return written

    def _read_batch(self, window: DateWindow, after_id: int, limit: int) -> _NormalizedBatch:
        """The next keyset batch of unprocessed raw tracks, normalized or quarantined."""
        records = self._read(
            lambda uow: uow.raw.fetch_unprocessed(
                PROVIDER_BEATPORT, ENTITY_TRACK, window, after_id, limit
            )
        )
        batch = _NormalizedBatch(last_id=records[-1].id if records else None)
        for record in records:
            batch.content_hashes[record.id] = record.content_hash
            try:
                batch.good.append((record.id, normalize_beatport_track(record.payload)))
            except MalformedRecord as exc:
                batch.quarantined[record.id] = exc.reason
        return batch

    # ------------------------------------------------------------ enrich

    def enrich_tracks_with_spotify_data(
        self, window: DateWindow, batch_size: int = 500, progress: Progress = no_progress
    ) -> EnrichResult:
        """Search Spotify once per pending ISRC and record one outcome per track.

        A search that failed is recorded as `error` (pending again next run), never as
        `not_found`. When the client stops a batch on a fatal failure, the outcomes already
        decided are saved before `EnrichmentAbortedError` is raised.
        """
        if self._spotify is None:
            raise RuntimeError("enrich_tracks_with_spotify_data needs a Spotify client")
        _require_positive(batch_size, "batch_size")
        started = time.monotonic()
        before = self._spotify.stats.snapshot()
        now = self._clock()
        result = EnrichResult()
        rate_memory = _RateMemory(self._uow_factory, self._spotify, self._clock)
        rate_memory.load()
        result.total = self._read(
            lambda uow: uow.spotify.pending_count(window, self._not_found_ttl, now)
        )
        after_isrc: str | None = None
        skipped: Counter[str] = Counter()
        try:
            while True:
                lookups = self._read(
                    lambda uow, after=after_isrc: self._pending_lookups(
                        uow, window, now, after, batch_size
                    )
                )
                if not lookups:
                    break
                batch = self._spotify.search_many([lookup.isrc for lookup in lookups])
                searched_at = self._clock()
                outcomes, spotify_tracks = self._decide(lookups, batch, searched_at)
                if outcomes:
                    self._write(
                        lambda uow, o=outcomes, t=spotify_tracks, at=searched_at: (
                            self._save_outcomes(uow, o, t, at)
                        )
                    )
                result.batches += 1
                result.isrcs_searched += len(batch.results) + len(batch.errors)
                result.search_pages += batch.pages
                skipped.update(batch.skipped)
                result.candidates_skipped = dict(sorted(skipped.items()))
                _tally(result, outcomes)
                progress(
                    f"enrich {window}: batch {result.batches}, {result.processed}/{result.total} "
                    f"tracks (found {result.found}, not found {result.not_found}, "
                    f"errors {result.errors})"
                )
                if batch.fatal is not None:
                    raise EnrichmentAbortedError(
                        f"Spotify enrichment of {window} stopped after {result.processed} of "
                        f"{result.total} tracks (their outcomes are saved; the rest stay pending "
                        f"for the next run): {type(batch.fatal).__name__}: {batch.fatal}",
                        batch.fatal,
                    ) from batch.fatal
                after_isrc = lookups[-1].isrc
                rate_memory.save(periodic=True)
        finally:
            rate_memory.save()
            result.requests = self._spotify.stats.since(before)
            result.seconds = time.monotonic() - started
        return result

    def _pending_lookups(
        self, uow: UnitOfWork, window: DateWindow, now: datetime, after: str | None, limit: int
    ) -> list[PendingLookup]:
        """The next `limit` pending ISRCs after `after`, each with its pending tracks and their
        credited names (the outcomes know what is pending, the catalogue who is credited)."""
        pending = uow.spotify.pending_tracks(window, self._not_found_ttl, now, after, limit)
        names = uow.catalog.artist_names([track.track_id for track in pending])
        grouped: dict[str, list[TrackToMatch]] = {}
        for track in pending:
            grouped.setdefault(track.isrc, []).append(
                TrackToMatch(track.track_id, track.isrc, track.name, names.get(track.track_id, ()))
            )
        return [PendingLookup(isrc, tuple(tracks)) for isrc, tracks in grouped.items()]

    def _save_outcomes(
        self,
        uow: UnitOfWork,
        outcomes: Sequence[MatchOutcome],
        spotify_tracks: Sequence[dict[str, Any]],
        searched_at: datetime,
    ) -> None:
        """The chosen Spotify tracks' raw JSON, then the outcomes linked to it, stamped with the
        instant the outcomes were searched at.

        The JSON is stored once per Spotify id (rewritten only when it changed) and as already
        processed: nothing normalizes it, and this keeps it out of the processing queue.
        """
        records = [RawRecordIn(str(item["id"]), item, None) for item in spotify_tracks]
        if records:
            uow.raw.upsert_records(
                PROVIDER_SPOTIFY,
                ENTITY_TRACK,
                records,
                self._run_id,
                now=searched_at,
                processed=True,
            )
        chosen = sorted({o.spotify_track_id for o in outcomes if o.spotify_track_id})
        linked = uow.raw.record_ids(PROVIDER_SPOTIFY, ENTITY_TRACK, chosen)
        uow.spotify.save_outcomes(outcomes, self._run_id, spotify_record_ids=linked)

    def _decide(
        self, lookups: Sequence[PendingLookup], batch: LookupBatch, searched_at: datetime
    ) -> tuple[list[MatchOutcome], list[dict[str, Any]]]:
        """One outcome per track of every answered ISRC, and the chosen Spotify tracks' JSON."""
        outcomes: list[MatchOutcome] = []
        chosen: dict[str, dict[str, Any]] = {}
        for lookup in lookups:
            if lookup.isrc in batch.errors:
                error = batch.errors[lookup.isrc]
                message = f"{type(error).__name__}: {error}"[:MAX_REASON_LENGTH]
                outcomes.extend(
                    MatchOutcome(track.track_id, MatchStatus.ERROR, searched_at, error=message)
                    for track in lookup.tracks
                )
                continue
            if lookup.isrc not in batch.results:
                continue  # never sent (the batch stopped early): stays pending
            candidates = batch.results[lookup.isrc]
            by_id = {candidate.id: candidate for candidate in candidates}
            for track in lookup.tracks:
                decision = self._matcher.choose(lookup.isrc, track.artist_names, candidates)
                if decision.spotify_track_id is not None:
                    chosen[decision.spotify_track_id] = by_id[decision.spotify_track_id].raw
                outcomes.append(
                    MatchOutcome(
                        track_id=track.track_id,
                        status=MatchStatus.FOUND if decision.found else MatchStatus.NOT_FOUND,
                        searched_at=searched_at,
                        spotify_track_id=decision.spotify_track_id,
                        rule=decision.rule,
                        score=decision.score,
                        candidate_count=decision.candidate_count,
                    )
                )
        return outcomes, [chosen[key] for key in sorted(chosen)]

    # ------------------------------------------------------------ transactions

    def _read(self, work: Callable[[UnitOfWork], T]) -> T:
        """`work` in a read-only transaction (no write lock), retried over database outages."""
        return self._uow_factory(read_only=True).run(work)

    def _write(self, work: Callable[[UnitOfWork], T]) -> T:
        """`work` in one committed transaction, retried over database outages."""
        return self._uow_factory().run(work)


# ---------------------------------------------------------------- helpers


def _count_stored(result: CollectResult, day: date | None, kind: str, step: int) -> None:
    """Count one stored record (`step` 1) or take it back (-1): the run's and its day's."""
    result.records += step
    setattr(result, kind, getattr(result, kind) + step)
    tally = result.days.get(day) if day is not None else None
    if tally is not None:
        tally.received += step
        setattr(tally, kind, getattr(tally, kind) + step)


def _judge_days(result: CollectResult, outcomes: Sequence[QueryOutcome]) -> None:
    """Each day's API count and completeness, from the verdicts on the queries covering it."""
    for outcome in outcomes:
        result.api_counts[outcome.query.label] = outcome.count or 0
        for day, received in outcome.received_by_day.items():
            tally = result.days.get(day)
            if tally is None:
                continue
            if not outcome.complete:
                tally.incomplete = tally.incomplete or outcome.reason
            else:
                tally.api_count = (tally.api_count or 0) + received
    for tally in result.days.values():
        if tally.incomplete is not None:
            tally.api_count = None


def _raw_record_in(track: Any, window: DateWindow) -> RawRecordIn:
    """The raw record of one Beatport listing entry, partitioned by its publish date.

    An entry without a usable id (or not an object at all, such as a `null` in `results`)
    is still stored, keyed by its content and put in the crawled window's first day when it
    has no usable publish date, so that processing quarantines it visibly instead of it
    vanishing before anyone sees it. The payload is kept exactly as received.
    """
    fields = track if isinstance(track, Mapping) else {}
    track_id = fields.get("id")
    if isinstance(track_id, int) and not isinstance(track_id, bool):
        external_id = str(track_id)
    else:
        external_id = content_key(track)
    partition = parse_iso_date(fields.get("publish_date")) or window.start
    payload = dict(track) if isinstance(track, Mapping) else track
    return RawRecordIn(external_id=external_id, payload=payload, partition_date=partition)


class _RateMemory:
    """The Spotify pacer's learned budget, kept in the catalogue between runs.

    Loaded when enrichment starts, saved every `RATE_SAVE_EVERY_S` and when it ends. Saving is
    one attempt, never retried: losing it costs the next run a rediscovery, whereas waiting out
    an outage for it would hold up a step that is already failing.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        client: SpotifyAPIClient,
        clock: Callable[[], datetime],
    ) -> None:
        self._uow_factory = uow_factory
        self._client = client
        self._clock = clock
        self._saved: LearnedRate | None = None
        self._saved_at = -math.inf

    def load(self) -> None:
        key = self._client.rate_key
        learned = self._uow_factory(read_only=True).run(lambda uow: uow.pacer_rates.get(key))
        if learned is not None and self._client.pacer.resume(learned, self._clock()):
            self._saved = learned

    def save(self, *, periodic: bool = False) -> None:
        if periodic and time.monotonic() - self._saved_at < RATE_SAVE_EVERY_S:
            return
        now = self._clock()
        learned = self._client.pacer.learned(now)
        if learned is None or learned == self._saved:
            return
        key = self._client.rate_key
        try:
            self._uow_factory(retry=False).run(
                lambda uow: uow.pacer_rates.save(key, learned, now=now)
            )
        except DatabaseUnavailableError as exc:
            log.warning("Spotify's learned rate was not saved: %s", exc)
            return
        self._saved, self._saved_at = learned, time.monotonic()


@dataclass
class _NormalizedBatch:
    """One keyset batch after normalization; `last_id` None means the queue is drained."""

    last_id: int | None
    good: list[tuple[int, NormalizedTrack]] = field(default_factory=list)
    quarantined: dict[int, str] = field(default_factory=dict)
    content_hashes: dict[int, str] = field(default_factory=dict)


def _tally(result: EnrichResult, outcomes: Sequence[MatchOutcome]) -> None:
    for outcome in outcomes:
        result.processed += 1
        if outcome.status is MatchStatus.FOUND:
            result.found += 1
        elif outcome.status is MatchStatus.NOT_FOUND:
            result.not_found += 1
        else:
            result.errors += 1


def _require_positive(value: int, name: str) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
