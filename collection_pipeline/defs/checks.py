"""Partitioned asset checks that read the window's state through `CollectionService.report`.

Raw completeness is evaluated inside `raw_beatport_tracks` (only the crawl knows the API's
`count`); the checks here run after their asset in the same run. Blocking checks stop the
downstream assets of a run when they fail with ERROR severity; findings that are handled by
design (quarantined records, transient Spotify errors awaiting the recheck sensor) are
reported at WARN severity so they are visible without halting the pipeline.
"""

import dagster as dg

from collection_pipeline import settings
from collection_pipeline.defs.partitions import daily_partitions, window_of
from collection_pipeline.defs.resources import DatabaseResource, collection_service
from collection_pipeline.domain import WindowReport

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


def _report(context: dg.AssetCheckExecutionContext, database: DatabaseResource) -> WindowReport:
    with collection_service(database, context.run.run_id) as service:
        return service.report(window_of(context.partition_time_window))


@dg.asset_check(
    asset="processed_tracks",
    partitions_def=daily_partitions,
    blocking=True,
    description="No raw record of the window is left unprocessed (stuck: blocks enrichment) "
    "or quarantined (a warning listing the reasons).",
)
def no_quarantined_or_stuck_records(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    report = _report(context, database)
    raw = report.raw
    return dg.AssetCheckResult(
        passed=raw.pending == 0 and raw.quarantined == 0,
        severity=ERROR if raw.pending else WARN,
        metadata={
            "raw_total": raw.total,
            "processed": raw.processed,
            "stuck": raw.pending,
            "quarantined": raw.quarantined,
            "quarantine_reasons": dg.MetadataValue.json(report.quarantine_reasons),
        },
    )


@dg.asset_check(
    asset="processed_tracks",
    partitions_def=daily_partitions,
    description="Every ISRC Beatport sent is valid or was dropped to NULL, never stored malformed.",
)
def isrc_validity(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    report = _report(context, database)
    return dg.AssetCheckResult(
        passed=report.invalid_isrcs == 0,
        severity=ERROR,
        metadata={"tracks": report.tracks, "invalid_isrcs": report.invalid_isrcs},
    )


@dg.asset_check(
    asset="spotify_enrichments",
    partitions_def=daily_partitions,
    description="No track with an ISRC is left without a Spotify outcome after enrichment "
    "(error outcomes warn: the recheck sensor retries them).",
)
def no_pending_lookups(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    outcomes = _report(context, database).outcomes
    return dg.AssetCheckResult(
        passed=outcomes.pending == 0 and outcomes.error == 0,
        severity=ERROR if outcomes.pending else WARN,
        metadata={
            "tracks_with_isrc": outcomes.tracks_with_isrc,
            "pending": outcomes.pending,
            "error": outcomes.error,
        },
    )


@dg.asset_check(
    asset="spotify_enrichments",
    partitions_def=daily_partitions,
    description="The share of looked-up tracks found on Spotify stays above a floor "
    "(COLLECTION_MATCH_RATE_FLOOR, a warning: catalogues differ).",
)
def match_rate(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    outcomes = _report(context, database).outcomes
    looked_up = outcomes.found + outcomes.not_found
    rate = outcomes.found / looked_up if looked_up else 1.0
    floor = settings.match_rate_floor()
    return dg.AssetCheckResult(
        passed=rate >= floor,
        severity=WARN,
        metadata={
            "match_rate": round(rate, 3),
            "floor": floor,
            "found": outcomes.found,
            "not_found": outcomes.not_found,
        },
    )


CHECKS = [no_quarantined_or_stuck_records, isrc_validity, no_pending_lookups, match_rate]
