"""Spotify side: raw Spotify tracks, one match outcome per track, and what still needs a search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from collection_pipeline.domain import (
    DateWindow,
    MatchOutcome,
    MatchStatus,
    OutcomeCounts,
    PendingTrack,
)
from collection_pipeline.storage.hashing import rows_hash
from collection_pipeline.storage.schema import spotify_track_matches, tracks
from collection_pipeline.storage.sql import chunks, in_window, last_wins, upsert, window_sample

m = spotify_track_matches


class SpotifyRepository:
    """All SQL on the Spotify outcomes. Works inside the caller's transaction.

    The raw Spotify JSON is `external_data`'s, so `RawRecordRepository` stores it and finds its
    ids, and credited names are the catalogue's: the service composes them (no repository
    holds another).
    """

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    @staticmethod
    def _pending(cutoff: datetime) -> sa.ColumnElement[bool]:
        """A track needs a search: never searched, last search failed, a `not_found` past its
        TTL, or its ISRC changed since the search (the old outcome answers another question).
        Applies to `tracks LEFT JOIN spotify_track_matches`."""
        return sa.and_(
            tracks.c.isrc.is_not(None),
            sa.or_(
                m.c.id.is_(None),
                m.c.status == MatchStatus.ERROR.value,
                sa.and_(m.c.status == MatchStatus.NOT_FOUND.value, m.c.searched_at < cutoff),
                m.c.isrc != tracks.c.isrc,
            ),
        )

    @staticmethod
    def _tracks_with_outcomes() -> sa.FromClause:
        return tracks.outerjoin(m, m.c.track_id == tracks.c.id)

    def pending_tracks(
        self,
        window: DateWindow,
        not_found_ttl: timedelta,
        now: datetime,
        after_isrc: str | None,
        limit: int,
    ) -> list[PendingTrack]:
        """Every pending track of the window carrying one of the next `limit` distinct pending
        ISRCs after `after_isrc`, by ISRC then track id, so the caller sends one request per
        ISRC."""
        pending = [in_window(tracks.c.publish_date, window), self._pending(now - not_found_ttl)]
        if after_isrc is not None:
            pending.append(tracks.c.isrc > after_isrc)
        isrc_query = (
            sa.select(tracks.c.isrc)
            .select_from(self._tracks_with_outcomes())
            .where(*pending)
            .group_by(tracks.c.isrc)
            .order_by(tracks.c.isrc)
            .limit(limit)
        )
        isrcs = list(self._conn.execute(isrc_query).scalars())
        if not isrcs:
            return []
        track_query = (
            sa.select(tracks.c.id, tracks.c.isrc, tracks.c.name)
            .select_from(self._tracks_with_outcomes())
            .where(*pending, tracks.c.isrc.in_(isrcs))
            .order_by(tracks.c.isrc, tracks.c.id)
        )
        return [PendingTrack(*row) for row in self._conn.execute(track_query)]

    def pending_count(self, window: DateWindow, not_found_ttl: timedelta, now: datetime) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(self._tracks_with_outcomes())
            .where(in_window(tracks.c.publish_date, window), self._pending(now - not_found_ttl))
        )
        return self._conn.execute(query).scalar_one()

    def save_outcomes(
        self,
        outcomes: Sequence[MatchOutcome],
        run_id: str,
        *,
        spotify_record_ids: Mapping[str, int],
    ) -> None:
        """Upsert one outcome per track (last wins in the batch); attempts count every save.

        The searched ISRC is recorded with the outcome so a later ISRC change re-queues the
        track; a `found` outcome links its stored Spotify JSON when `spotify_record_ids` (raw
        record id by Spotify id, `RawRecordRepository.record_ids`) holds it.
        """
        rows, _ = last_wins(outcomes, key=lambda outcome: outcome.track_id)
        if not rows:
            return
        isrcs = self._track_isrcs([outcome.track_id for outcome in rows])
        values = [
            {
                "track_id": outcome.track_id,
                "status": MatchStatus(outcome.status).value,
                "spotify_track_id": outcome.spotify_track_id,
                "isrc": isrcs[outcome.track_id],
                "match_rule": outcome.rule,
                "match_score": outcome.score,
                "candidate_count": outcome.candidate_count,
                "attempts": 1,
                "error_reason": outcome.error,
                "searched_at": outcome.searched_at,
                "spotify_record_id": spotify_record_ids.get(outcome.spotify_track_id or ""),
                "run_id": run_id,
            }
            for outcome in rows
        ]
        stmt = upsert(self._conn, m)
        stmt = stmt.on_conflict_do_update(
            index_elements=[m.c.track_id],
            set_={
                **{
                    name: stmt.excluded[name]
                    for name in values[0]
                    if name not in ("track_id", "attempts")
                },
                "attempts": m.c.attempts + 1,
            },
        )
        self._conn.execute(stmt, values)

    def _track_isrcs(self, track_ids: list[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for chunk in chunks(track_ids):
            query = sa.select(tracks.c.id, tracks.c.isrc).where(tracks.c.id.in_(chunk))
            found.update(self._conn.execute(query).all())
        missing = [track_id for track_id in track_ids if not found.get(track_id)]
        if missing:
            raise ValueError(f"outcomes for unknown tracks or tracks without ISRC: {missing[:10]}")
        return found

    def outcome_counts(
        self, window: DateWindow, not_found_ttl: timedelta, now: datetime
    ) -> OutcomeCounts:
        """Outcomes of the window's tracks with an ISRC, by status, and how many are pending:
        the window's `outcome_counts_by_day` added up (one rule for both)."""
        days = self.outcome_counts_by_day(window, not_found_ttl, now).values()
        return OutcomeCounts(
            **{
                field.name: sum(getattr(day, field.name) for day in days)
                for field in fields(OutcomeCounts)
            }
        )

    def outcome_counts_by_day(
        self, window: DateWindow, not_found_ttl: timedelta, now: datetime
    ) -> dict[date, OutcomeCounts]:
        """`outcome_counts` of every publish day of the window with a track that has an ISRC."""

        def status_count(status: MatchStatus) -> sa.ColumnElement[int]:
            return sa.func.count(sa.case((m.c.status == status.value, 1)))

        pending = sa.func.count(sa.case((self._pending(now - not_found_ttl), 1)))
        query = (
            sa.select(
                tracks.c.publish_date,
                sa.func.count(),
                status_count(MatchStatus.FOUND),
                status_count(MatchStatus.NOT_FOUND),
                status_count(MatchStatus.ERROR),
                pending,
            )
            .select_from(self._tracks_with_outcomes())
            .where(in_window(tracks.c.publish_date, window), tracks.c.isrc.is_not(None))
            .group_by(tracks.c.publish_date)
        )
        return {
            day: OutcomeCounts(
                tracks_with_isrc=total,
                found=found,
                not_found=not_found,
                error=error,
                pending=waiting,
            )
            for day, total, found, not_found, error, waiting in self._conn.execute(query)
        }

    def sample_outcomes(self, window: DateWindow, limit: int) -> list[dict[str, Any]]:
        """A few outcomes of the window with their track, for the UI preview."""
        columns = (
            tracks.c.beatport_id,
            tracks.c.name,
            tracks.c.isrc,
            m.c.status,
            m.c.spotify_track_id,
            m.c.match_rule.label("rule"),
            m.c.match_score.label("score"),
        )
        joined = m.join(tracks, tracks.c.id == m.c.track_id)
        return window_sample(self._conn, columns, joined, window, limit)

    def partitions_needing_recheck(self, not_found_ttl: timedelta, now: datetime) -> list[date]:
        """Publish days holding an `error` outcome or a `not_found` past its TTL."""
        query = (
            sa.select(tracks.c.publish_date)
            .select_from(m.join(tracks, tracks.c.id == m.c.track_id))
            .where(
                sa.or_(
                    m.c.status == MatchStatus.ERROR.value,
                    sa.and_(
                        m.c.status == MatchStatus.NOT_FOUND.value,
                        m.c.searched_at < now - not_found_ttl,
                    ),
                ),
                tracks.c.publish_date.is_not(None),
            )
            .distinct()
            .order_by(tracks.c.publish_date)
        )
        return list(self._conn.execute(query).scalars())

    def fingerprint(self, window: DateWindow) -> str:
        """Data version of the window's outcomes (what was decided, not when or how often)."""
        return rows_hash(self.state_rows(window))

    def state_rows(self, window: DateWindow | None = None) -> list[tuple[Any, ...]]:
        """Outcomes by Beatport track id, without times, runs or attempts: sorted."""
        query = sa.select(
            tracks.c.beatport_id,
            m.c.status,
            m.c.spotify_track_id,
            m.c.isrc,
            m.c.match_rule,
            m.c.match_score,
            m.c.candidate_count,
        ).select_from(m.join(tracks, tracks.c.id == m.c.track_id))
        if window is not None:
            query = query.where(in_window(tracks.c.publish_date, window))
        return sorted(self._conn.execute(query), key=lambda row: row[0])
