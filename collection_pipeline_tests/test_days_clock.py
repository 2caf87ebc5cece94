"""The enrichment step judges a day's outcomes (is a not-found past its TTL, so pending?) and the
freshness check (which day is due?) at the service's clock, not at a wall clock of its own:
fakes of the Dagster context, the service and the catalogue record what the step asks of them."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from collection_pipeline.defs.checks import ENRICHMENT
from collection_pipeline.defs.days import DaysStep
from collection_pipeline.defs.partitions import DAYS_TAG
from collection_pipeline.domain import DateWindow, EnrichResult

FIXED = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
"""Past the default deadline hour (6 UTC): the day due is the day before, 2030-05-31."""
TTL = timedelta(days=30)


class _RecordingSpotify:
    def __init__(self) -> None:
        self.judged_at: list[datetime] = []

    def outcome_counts_by_day(self, window: DateWindow, ttl: timedelta, now: datetime) -> dict:
        assert ttl == TTL
        self.judged_at.append(now)
        return {}

    def sample_outcomes(self, window: DateWindow, limit: int) -> list[dict[str, Any]]:
        return []

    def fingerprint(self, window: DateWindow) -> str:
        return "version"


def test_outcomes_are_judged_at_the_injected_clock():
    spotify = _RecordingSpotify()
    uow = SimpleNamespace(spotify=spotify)
    database = SimpleNamespace(
        not_found_ttl=TTL,
        database=SimpleNamespace(
            unit_of_work=lambda read_only: SimpleNamespace(run=lambda work: work(uow))
        ),
    )
    service = SimpleNamespace(
        clock=lambda: FIXED,
        enrich_tracks_with_spotify_data=lambda window, progress: EnrichResult(),
    )
    window = DateWindow.single_day(date(2024, 1, 1))
    asked: list[Any] = []

    def fetch_materializations(records_filter: Any, limit: int) -> Any:
        asked.append(records_filter)
        return SimpleNamespace(records=[])

    context = SimpleNamespace(
        instance=SimpleNamespace(fetch_materializations=fetch_materializations),
        selected_asset_keys={ENRICHMENT},
        selected_asset_check_keys=set(),
        log=logging.getLogger(__name__),
        run=SimpleNamespace(run_id="run", tags={DAYS_TAG: str(window)}),
    )
    step = DaysStep(context, service, database, window)  # type: ignore[arg-type]

    materialization, freshness = list(step.run(genre_ids=[]))

    assert spotify.judged_at == [FIXED]
    assert materialization.partition == "2024-01-01"
    [records_filter] = asked
    assert records_filter.asset_key == ENRICHMENT
    assert records_filter.asset_partitions == ["2030-05-31"]
    assert (freshness.check_name, freshness.passed) == ("freshness_check", False)
    assert freshness.partition is None
