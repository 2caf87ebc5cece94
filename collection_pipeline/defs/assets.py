"""The three partitioned assets. Each builds a service, calls one method, reports metadata.

Every asset runs a whole backfill range in one run (`BackfillPolicy.single_run()`): the
service receives all days of the range as one `DateWindow`, so a 30-day backfill is one
crawl and one batch loop, not thirty runs.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from collection_pipeline.clients.errors import ApiError
from collection_pipeline.defs.metadata import (
    collect_metadata,
    completeness_check,
    enrich_metadata,
    preview_metadata,
    process_metadata,
)
from collection_pipeline.defs.partitions import daily_partitions, window_of
from collection_pipeline.defs.resources import (
    BeatportResource,
    DatabaseResource,
    SpotifyResource,
    collection_service,
)

GROUP = "catalogue"
BEATPORT_POOL = "beatport_api"
SPOTIFY_POOL = "spotify_api"
RAW_COMPLETENESS_CHECK = "complete_against_api_count"

API_RETRY = dg.RetryPolicy(
    max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Transient API trouble (5xx bursts, a Retry-After past the client's cap) heals by waiting;
batches already committed are skipped on the retry, so retrying costs little."""
DB_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


@contextmanager
def _non_retryable_errors_fail_fast() -> Iterator[None]:
    """Turn an API error that waiting cannot fix (bad credentials) into a final failure."""
    try:
        yield
    except ApiError as exc:
        if exc.retryable:
            raise
        raise dg.Failure(description=str(exc), allow_retries=False) from exc


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    kinds={"python", "sql", "beatport"},
    pool=BEATPORT_POOL,
    retry_policy=API_RETRY,
    check_specs=[
        dg.AssetCheckSpec(
            RAW_COMPLETENESS_CHECK,
            asset="raw_beatport_tracks",
            blocking=True,
            partitions_def=daily_partitions,
            description="Every track the Beatport API counts for the window was stored. "
            "Blocking: an incomplete crawl must not be processed or enriched.",
        )
    ],
    description="Raw Beatport track JSON, one row per track in `external_data`, crawled by "
    "genre and publish date. Unchanged records are left alone; changed ones are re-queued.",
)
def raw_beatport_tracks(
    context: dg.AssetExecutionContext, beatport: BeatportResource, database: DatabaseResource
) -> dg.MaterializeResult:
    window = window_of(context.partition_time_window)
    context.log.info(f"Collecting Beatport tracks published {window}, genres {beatport.genre_ids}")
    with (
        _non_retryable_errors_fail_fast(),
        collection_service(database, context.run.run_id, beatport=beatport) as service,
    ):
        result = service.collect_beatport_tracks_raw(
            window, beatport.genre_ids, progress=context.log.info
        )
        # What arrived is committed; the blocking completeness check, not a blind retry,
        # stops processing and enrichment when a day stayed incomplete.
        for day, reason in result.incomplete_days.items():
            context.log.error(f"{day} incomplete: {reason}")
        stored = service.report(window).raw.total
        return dg.MaterializeResult(
            metadata=collect_metadata(result, stored),
            check_results=[completeness_check(RAW_COMPLETENESS_CHECK, result, stored)],
            data_version=dg.DataVersion(service.fingerprint("raw", window)),
        )


@dg.asset(
    deps=[raw_beatport_tracks],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    kinds={"python", "sql"},
    retry_policy=DB_RETRY,
    automation_condition=dg.AutomationCondition.eager(),
    description="The normalized catalogue: tracks, artists (with remixer roles), releases, "
    "labels, genres and sub-genres, each row traced to its raw record. Records that cannot "
    "be normalized are quarantined with a reason instead of failing the batch.",
)
def processed_tracks(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> dg.MaterializeResult:
    window = window_of(context.partition_time_window)
    context.log.info(f"Processing unprocessed raw Beatport records published {window}")
    with collection_service(database, context.run.run_id) as service:
        result = service.process_unprocessed_beatport_tracks(window, progress=context.log.info)
        report = service.report(window)
        return dg.MaterializeResult(
            metadata={
                **process_metadata(result, report),
                **preview_metadata(service.preview(window)),
            },
            data_version=dg.DataVersion(service.fingerprint("processed", window)),
        )


@dg.asset(
    deps=[processed_tracks],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    kinds={"python", "sql", "spotify"},
    pool=SPOTIFY_POOL,
    retry_policy=API_RETRY,
    automation_condition=dg.AutomationCondition.eager(),
    description="One Spotify outcome per track with an ISRC: found (Spotify id, rule, score), "
    "not_found (searched again after the TTL) or error (retried, never reported as not found).",
)
def spotify_enrichments(
    context: dg.AssetExecutionContext, spotify: SpotifyResource, database: DatabaseResource
) -> dg.MaterializeResult:
    window = window_of(context.partition_time_window)
    context.log.info(f"Searching Spotify by ISRC for tracks published {window}")
    with (
        _non_retryable_errors_fail_fast(),
        collection_service(database, context.run.run_id, spotify=spotify) as service,
    ):
        result = service.enrich_tracks_with_spotify_data(window, progress=context.log.info)
        report = service.report(window)
        return dg.MaterializeResult(
            metadata={
                **enrich_metadata(result, report),
                **preview_metadata(service.preview(window)),
            },
            data_version=dg.DataVersion(service.fingerprint("enrichment", window)),
        )


ASSETS = [raw_beatport_tracks, processed_tracks, spotify_enrichments]
