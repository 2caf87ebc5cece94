"""An in-memory unit of work, for fast tests of the service's rules without a database.

cosmicpython's fake repositories: each fake keeps its table family in dicts and answers the
methods the service calls, with the same meaning as the SQL repositories (which their own tests
prove on both engines). A transaction is modelled whole: `run(work)` applies `work`'s changes
only if it returns, so a test can also see what a failed transaction left behind (nothing).
`FakeDatabase.transactions` records each committed writer, so "one transaction per page" is a
fact a test can assert.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from collection_pipeline.domain import (
    DateWindow,
    LearnedRate,
    MatchOutcome,
    MatchStatus,
    NormalizedTrack,
    PendingTrack,
)
from collection_pipeline.storage import RawRecordIn, UpsertCounts
from collection_pipeline.storage.hashing import canonical_json, content_hash
from collection_pipeline.storage.raw import RawRecord
from collection_pipeline.storage.sql import last_wins

T = TypeVar("T")


@dataclass
class FakeRawRow:
    id: int
    provider: str
    entity_type: str
    external_id: str
    payload: Any
    partition_date: date | None
    content_hash: str
    run_id: str
    processed_at: datetime | None = None
    processing_error: str | None = None
    isrc_rejected: bool | None = None


@dataclass
class FakeState:
    """Every table the fakes hold: what a transaction snapshots and restores."""

    raw: dict[tuple[str, str, str], FakeRawRow] = field(default_factory=dict)
    tracks: dict[int, NormalizedTrack] = field(default_factory=dict)
    """Catalogue tracks by Beatport id."""
    pacer_rates: dict[str, LearnedRate] = field(default_factory=dict)
    outcomes: dict[int, FakeOutcomeRow] = field(default_factory=dict)
    """Spotify outcomes by track id (a catalogue track's id here is its Beatport id)."""
    next_id: int = 1


@dataclass
class FakeOutcomeRow:
    outcome: MatchOutcome
    isrc: str
    """The ISRC searched: a later change of the track's ISRC re-queues it."""
    spotify_record_id: int | None
    attempts: int


class FakeRawRecords:
    """`RawRecordRepository` over `FakeState.raw`."""

    def __init__(self, state: FakeState) -> None:
        self._state = state

    def upsert_records(
        self,
        provider: str,
        entity_type: str,
        records: Sequence[RawRecordIn],
        run_id: str,
        *,
        now: datetime,
        processed: bool = False,
    ) -> UpsertCounts:
        rows, dropped = last_wins(records, key=lambda record: record.external_id)
        written: dict[str, bool] = {}
        for record in rows:
            key = (provider, entity_type, record.external_id)
            digest = content_hash(canonical_json(record.payload))
            stored = self._state.raw.get(key)
            if stored is not None and stored.content_hash == digest:
                continue
            row_id = stored.id if stored else self._new_id()
            self._state.raw[key] = FakeRawRow(
                row_id,
                provider,
                entity_type,
                record.external_id,
                record.payload,
                record.partition_date,
                digest,
                run_id,
                processed_at=now if processed else None,
            )
            written[record.external_id] = stored is None
        new = sum(written.values())
        changed = len(written) - new
        return UpsertCounts(new, changed, len(rows) - new - changed, dropped, written)

    def fetch_unprocessed(
        self, provider: str, entity_type: str, window: DateWindow, after_id: int, limit: int
    ) -> list[RawRecord]:
        queued = sorted(
            (
                row
                for row in self._state.raw.values()
                if (row.provider, row.entity_type) == (provider, entity_type)
                and row.partition_date is not None
                and window.start <= row.partition_date < window.end
                and row.processed_at is None
                and row.id > after_id
            ),
            key=lambda row: row.id,
        )
        return [
            RawRecord(row.id, row.external_id, row.payload, row.partition_date, row.content_hash)
            for row in queued[:limit]
        ]

    def mark_processed(
        self,
        ids: Sequence[int],
        run_id: str,
        *,
        now: datetime,
        content_hashes: Mapping[int, str] | None = None,
        isrc_rejected: Collection[int] = (),
    ) -> None:
        self._finish(dict.fromkeys(ids), now, content_hashes, set(isrc_rejected))

    def mark_quarantined(
        self,
        reasons: Mapping[int, str],
        run_id: str,
        *,
        now: datetime,
        content_hashes: Mapping[int, str] | None = None,
    ) -> None:
        self._finish(dict(reasons), now, content_hashes, None)

    def _finish(
        self,
        errors: Mapping[int, str | None],
        now: datetime,
        content_hashes: Mapping[int, str] | None,
        isrc_rejected: set[int] | None,
    ) -> None:
        for row in self._state.raw.values():
            if row.id not in errors:
                continue
            if content_hashes is not None and content_hashes.get(row.id) != row.content_hash:
                continue  # re-collected as something else meanwhile: stays queued
            row.processed_at, row.processing_error = now, errors[row.id]
            row.isrc_rejected = None if isrc_rejected is None else row.id in isrc_rejected

    def record_ids(
        self, provider: str, entity_type: str, external_ids: Sequence[str]
    ) -> dict[str, int]:
        return {
            external_id: row.id
            for external_id in external_ids
            if (row := self._state.raw.get((provider, entity_type, external_id))) is not None
        }

    def rows(self, provider: str = "beatport") -> list[FakeRawRow]:
        """The stored rows of one provider, by id: what a test inspects."""
        found = [row for row in self._state.raw.values() if row.provider == provider]
        return sorted(found, key=lambda row: row.id)

    def _new_id(self) -> int:
        self._state.next_id += 1
        return self._state.next_id - 1


class FakeCatalog:
    """`CatalogRepository.save_tracks` over `FakeState.tracks` (the entities are not split)."""

    def __init__(self, state: FakeState) -> None:
        self._state = state

    def save_tracks(
        self, items: Sequence[tuple[int, NormalizedTrack]], run_id: str, *, now: datetime
    ) -> dict[str, int]:
        pairs, _ = last_wins(items, key=lambda pair: pair[1].beatport_id)
        stored = self._state.tracks
        changed = [track for _, track in pairs if stored.get(track.beatport_id) != track]
        for track in changed:
            self._state.tracks[track.beatport_id] = track
        return {"tracks": len(changed)} if changed else {}

    def artist_names(self, track_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        return {
            track_id: tuple(credit.artist.name for credit in track.credits)
            for track_id in track_ids
            if (track := self._state.tracks.get(track_id)) is not None
        }


class FakeOutcomes:
    """`SpotifyRepository` over `FakeState.outcomes`, with the same pending rule: an ISRC never
    searched, a failed search, a not-found past its TTL, or an ISRC changed since its search."""

    def __init__(self, state: FakeState) -> None:
        self._state = state

    def pending_count(self, window: DateWindow, not_found_ttl: timedelta, now: datetime) -> int:
        return len(self._pending(window, now - not_found_ttl))

    def pending_tracks(
        self,
        window: DateWindow,
        not_found_ttl: timedelta,
        now: datetime,
        after_isrc: str | None,
        limit: int,
    ) -> list[PendingTrack]:
        pending = [
            track
            for track in self._pending(window, now - not_found_ttl)
            if after_isrc is None or track.isrc > after_isrc
        ]
        isrcs = sorted({track.isrc for track in pending})[:limit]
        return sorted(
            (track for track in pending if track.isrc in isrcs),
            key=lambda track: (track.isrc, track.track_id),
        )

    def save_outcomes(
        self,
        outcomes: Sequence[MatchOutcome],
        run_id: str,
        *,
        spotify_record_ids: Mapping[str, int],
    ) -> None:
        rows, _ = last_wins(outcomes, key=lambda outcome: outcome.track_id)
        for outcome in rows:
            isrc = self._state.tracks[outcome.track_id].isrc
            if isrc is None:
                raise ValueError(f"an outcome for track {outcome.track_id} without ISRC")
            earlier = self._state.outcomes.get(outcome.track_id)
            record = spotify_record_ids.get(outcome.spotify_track_id or "")
            attempts = earlier.attempts + 1 if earlier else 1
            self._state.outcomes[outcome.track_id] = FakeOutcomeRow(outcome, isrc, record, attempts)

    def _pending(self, window: DateWindow, cutoff: datetime) -> list[PendingTrack]:
        found = []
        for track_id, track in sorted(self._state.tracks.items()):
            day = track.publish_date
            if track.isrc is None or day is None or not window.start <= day < window.end:
                continue
            row = self._state.outcomes.get(track_id)
            if (
                row is None
                or row.outcome.status == MatchStatus.ERROR
                or (
                    row.outcome.status == MatchStatus.NOT_FOUND and row.outcome.searched_at < cutoff
                )
                or row.isrc != track.isrc
            ):
                found.append(PendingTrack(track_id, track.isrc, track.name))
        return found


class FakePacerRates:
    def __init__(self, state: FakeState) -> None:
        self._state = state

    def get(self, key: str) -> LearnedRate | None:
        return self._state.pacer_rates.get(key)

    def save(self, key: str, learned: LearnedRate, *, now: datetime) -> None:
        self._state.pacer_rates[key] = learned


class FakeUnitOfWork:
    """One transaction over copies of the state; `run` publishes them only if `work` returns."""

    def __init__(self, database: FakeDatabase, *, read_only: bool) -> None:
        self._database = database
        self.read_only = read_only

    def run(self, work: Callable[[FakeUnitOfWork], T]) -> T:
        state = copy.deepcopy(self._database.state)
        self.raw = FakeRawRecords(state)
        self.catalog = FakeCatalog(state)
        self.spotify = FakeOutcomes(state)
        self.pacer_rates = FakePacerRates(state)
        value = work(self)
        if not self.read_only:
            self._database.state = state
            self._database.transactions += 1
        return value


@dataclass
class FakeDatabase:
    """What the service is given as its `uow_factory` (`FakeDatabase().unit_of_work`)."""

    state: FakeState = field(default_factory=FakeState)
    transactions: int = 0
    """Committed writer transactions."""

    def unit_of_work(self, *, read_only: bool = False, retry: bool = True) -> FakeUnitOfWork:
        return FakeUnitOfWork(self, read_only=read_only)

    def read(self, work: Callable[[FakeUnitOfWork], T]) -> T:
        return self.unit_of_work(read_only=True).run(work)
