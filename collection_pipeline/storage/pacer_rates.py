"""The request rate each rate-limited API allowed us, remembered across runs."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from collection_pipeline.domain import LearnedRate
from collection_pipeline.storage.schema import pacer_rates
from collection_pipeline.storage.sql import upsert


class PacerRateRepository:
    """One row per pacer key (an API and the account it paces). Works inside the caller's
    transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, key: str) -> LearnedRate | None:
        row = self._conn.execute(
            sa.select(pacer_rates.c.budget, pacer_rates.c.window_s, pacer_rates.c.learned_at).where(
                pacer_rates.c.key == key
            )
        ).one_or_none()
        if row is None:
            return None
        return LearnedRate(budget=row.budget, window_s=row.window_s, learned_at=row.learned_at)

    def save(self, key: str, learned: LearnedRate, *, now: datetime) -> None:
        """Remember `learned` for `key`; `updated_at` is the caller's `now`, not a clock of
        this repository's own."""
        values = {
            "key": key,
            "budget": learned.budget,
            "window_s": learned.window_s,
            "learned_at": learned.learned_at,
            "updated_at": now,
        }
        statement = upsert(self._conn, pacer_rates).values(values)
        self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[pacer_rates.c.key],
                set_={name: statement.excluded[name] for name in values if name != "key"},
            )
        )
