"""One step over the days of a run: collect, process and enrich, judged and reported per day.

Dagster's own output path materializes every partition of a step's range at once, so a ranged
run could not otherwise fail one day and keep the others. This step therefore reports each
day itself: an `AssetMaterialization` per day that is sound, carrying that day's figures, and
an `AssetCheckEvaluation` per checked day, and at the end the freshness check as the run
leaves the asset. A day whose crawl is incomplete or whose records are
stuck goes no further and gets no materialization; the other days are processed and enriched
all the same, and the step fails at the end naming the failed days, so Dagster marks exactly
those partitions Failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any, TypeVar

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from collection_pipeline import settings, views
from collection_pipeline.defs import checks, metadata
from collection_pipeline.defs.checks import ENRICHMENT, PROCESSED, RAW
from collection_pipeline.defs.partitions import DAYS_TAG, contiguous_windows, partition_key
from collection_pipeline.defs.resources import DatabaseResource
from collection_pipeline.domain import DateWindow, DayCollect
from collection_pipeline.service import CollectionService
from collection_pipeline.storage import UnitOfWork

Event = dg.AssetMaterialization | dg.AssetCheckEvaluation
FINGERPRINTS: dict[dg.AssetKey, views.Fingerprint] = {
    RAW: views.raw_fingerprint,
    PROCESSED: views.processed_fingerprint,
    ENRICHMENT: views.enrichment_fingerprint,
}
"""Each asset's data version (`dagster/data_version`) of a day."""
T = TypeVar("T")
R = TypeVar("R")


class DaysStep:
    """The work of one run over `window`, limited to the selected assets and checks."""

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        service: CollectionService,
        database: DatabaseResource,
        window: DateWindow,
    ) -> None:
        self._context = context
        self._clock = service.clock
        """The service's clock, so outcomes are judged (is a not-found past its TTL?) at the
        same time source the service stamps its writes with."""
        self._service = service
        self._database = database
        self._window = window
        self._selected = context.selected_asset_keys
        self._checks = context.selected_asset_check_keys
        self.failed: dict[date, str] = {}
        """Days that went no further, with the reason shown on the run's failure."""
        self.summary: list[str] = []
        """Run-wide figures (requests, 429s, seconds, throughput): the run log, not the days."""

    # ------------------------------------------------------------ driver

    def run(self, genre_ids: Sequence[int]) -> Iterator[Event]:
        self._tag_run_with_days()
        if RAW in self._selected:
            yield from self._collect(genre_ids)
        if PROCESSED in self._selected:
            yield from self._process()
        if ENRICHMENT in self._selected:
            yield from self._enrich()
            yield self._freshness()
        self._context.log.info("Run summary: " + "; ".join(self.summary or ["nothing to do"]))
        if self.failed:
            raise dg.Failure(
                description=f"{len(self.failed)} of {len(self._window)} days failed, the "
                "others were materialized: "
                + "; ".join(f"{day}: {reason}" for day, reason in sorted(self.failed.items())),
                metadata={"failed_days": {partition_key(d): r for d, r in self.failed.items()}},
                allow_retries=False,
            )

    def _tag_run_with_days(self) -> None:
        """Name the run's days in a visible tag, however the run was launched."""
        run = self._context.run
        if DAYS_TAG not in run.tags:
            self._context.instance.add_run_tags(run.run_id, {DAYS_TAG: str(self._window)})

    # ------------------------------------------------------------ steps

    def _collect(self, genre_ids: Sequence[int]) -> Iterator[Event]:
        self._context.log.info(f"Collecting Beatport tracks published {self._window}")
        result = self._service.collect_beatport_tracks_raw(
            self._window, genre_ids, progress=self._context.log.info
        )
        self.summary.append(metadata.collect_summary(result))
        states = self._read(lambda uow: views.raw_states(uow, self._window))
        for day in self._window.days():
            collected = result.days.get(day, DayCollect())
            if collected.complete:
                yield self._materialize(RAW, day, metadata.raw_day(collected, states[day]))
            else:
                self._fail(day, f"incomplete crawl: {collected.incomplete}")
            if checks.COMPLETE.key in self._checks:
                yield self._targeted(checks.completeness(day, collected, states[day]))

    def _process(self) -> Iterator[Event]:
        days, results = self._over_open_days(
            "Processing raw Beatport records published",
            self._service.process_unprocessed_beatport_tracks,
        )
        self.summary.append(metadata.process_summary(results))
        figures = self._read(lambda uow: views.processed_days(uow, self._window))
        for day in days:
            processed = figures[day]
            if processed.raw.pending:
                self._fail(day, f"{processed.raw.pending} raw records stuck unprocessed")
            else:
                yield self._materialize(PROCESSED, day, metadata.processed_day(processed))
            if checks.NOT_STUCK.key in self._checks:
                yield self._targeted(
                    checks.not_stuck(day, processed.raw, processed.quarantine_reasons)
                )
            if checks.ISRC_VALID.key in self._checks:
                yield self._targeted(
                    checks.isrc_validity(day, processed.tracks, processed.invalid_isrcs)
                )

    def _enrich(self) -> Iterator[Event]:
        days, results = self._over_open_days(
            "Searching Spotify by ISRC for tracks published",
            self._service.enrich_tracks_with_spotify_data,
        )
        self.summary.append(metadata.enrich_summary(results))
        now, ttl = self._clock(), self._database.not_found_ttl
        figures = self._read(lambda uow: views.enriched_days(uow, self._window, ttl, now))
        floor = settings.match_rate_floor()
        for day in days:
            outcomes = figures[day].outcomes
            yield self._materialize(ENRICHMENT, day, metadata.enrichment_day(figures[day]))
            if checks.NO_PENDING.key in self._checks:
                yield self._targeted(checks.no_pending(day, outcomes))
            if checks.MATCH_RATE.key in self._checks:
                yield self._targeted(checks.match_rate(day, outcomes, floor))

    def _freshness(self) -> dg.AssetCheckEvaluation:
        """Whether the day due by the latest deadline is materialized now that this run wrote
        its days, so the check reads what the run left, failed day or not, instead of Skipped
        (or Execution failed) until its sensor comes by. Evaluated in every run that
        materializes the asset, whether or not the run planned the check."""
        due = checks.freshness_due(self._clock(), settings.freshness_deadline_hour())
        records = self._context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=ENRICHMENT, asset_partitions=[partition_key(due.day)]),
            limit=1,
        ).records
        return checks.freshness(due, materialized=bool(records))

    # ------------------------------------------------------------ helpers

    def _over_open_days(self, doing: str, command: Callable[..., R]) -> tuple[list[date], list[R]]:
        """Run a service command over the days not failed yet, in the fewest windows that hold
        them (good days still go in large batches), logging each window first."""
        days = self._open_days()
        results = []
        for window in contiguous_windows(days):
            self._context.log.info(f"{doing} {window}")
            results.append(command(window, progress=self._context.log.info))
        return days, results

    def _open_days(self) -> list[date]:
        """The days of the window that have not failed earlier in this run."""
        return [day for day in self._window.days() if day not in self.failed]

    def _fail(self, day: date, reason: str) -> None:
        self._context.log.error(f"{day} failed: {reason}")
        self.failed[day] = reason

    def _materialize(
        self, key: dg.AssetKey, day: date, figures: dict[str, Any]
    ) -> dg.AssetMaterialization:
        fingerprint = FINGERPRINTS[key]
        version = self._read(lambda uow: fingerprint(uow, DateWindow.single_day(day)))
        return dg.AssetMaterialization(
            asset_key=key,
            partition=partition_key(day),
            metadata=figures,
            tags={"dagster/data_version": version},
        )

    def _targeted(self, evaluation: dg.AssetCheckEvaluation) -> dg.AssetCheckEvaluation:
        """The evaluation bound to the day's latest materialization, as `AssetCheckResult` is:
        the UI shows a day's check status only while it targets that day's latest data."""
        latest = self._context.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=evaluation.asset_key, asset_partitions=[evaluation.partition or ""]
            ),
            limit=1,
        ).records
        if not latest:
            return evaluation
        return dg.AssetCheckEvaluation(
            asset_key=evaluation.asset_key,
            check_name=evaluation.check_name,
            passed=evaluation.passed,
            metadata=evaluation.metadata,
            target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
                storage_id=latest[0].storage_id,
                run_id=latest[0].run_id,
                timestamp=latest[0].timestamp,
            ),
            severity=evaluation.severity,
            description=evaluation.description,
            blocking=evaluation.blocking,
            partition=evaluation.partition,
        )

    def _read(self, work: Callable[[UnitOfWork], T]) -> T:
        return self._database.database.unit_of_work(read_only=True).run(work)
