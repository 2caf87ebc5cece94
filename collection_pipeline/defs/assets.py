"""The three partitioned assets, executed by one step that judges and reports each day.

`raw_beatport_tracks -> processed_tracks -> spotify_enrichments` are three assets with their
own lineage, checks, tables and automation, computed by one subsettable step: any selection
of them (a daily run, a UI backfill, an enrichment-only recheck) runs in a single process over
the whole day range (`BackfillPolicy.single_run()`), and because the step reports every day
itself (`DaysStep`), one bad day fails alone while the others are processed and enriched.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from collection_pipeline.defs.checks import CHECK_SPECS, ENRICHMENT, PROCESSED, RAW
from collection_pipeline.defs.days import DaysStep, Event
from collection_pipeline.defs.interrupts import interrupts_are_final
from collection_pipeline.defs.metadata import ENRICHMENT_TABLE, PROCESSED_TABLE, RAW_TABLE
from collection_pipeline.defs.partitions import daily_partitions, window_of
from collection_pipeline.defs.resources import (
    ApiSourceResource,
    BeatportResource,
    DatabaseResource,
    SpotifyResource,
    collection_service,
    configuration_error,
)
from collection_pipeline.domain import DatabaseUnavailableError
from collection_pipeline.service import ServiceError

GROUP = "catalogue"
OWNERS = ["team:catalogue"]
SPOTIFY_POOL = "spotify_api"
"""The step's pool. Every run of the step but a processing-only one searches Spotify, whose rate
limit is the tightest, so one step at a time across runs; a crawl runs inside the same step."""

API_RETRY = dg.RetryPolicy(
    max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Transient API trouble (5xx bursts, a Retry-After past the client's cap) heals by waiting;
batches already committed are skipped on the retry, so retrying costs little. A database outage
is not retried here: the step already waited it out up to its deadline."""

SPECS = (
    dg.AssetSpec(
        RAW,
        description="Raw Beatport track JSON, one row per track in `external_data`, crawled by "
        "genre and publish date. Unchanged records are left alone; changed ones are re-queued.",
        group_name=GROUP,
        kinds={"python", "sql", "beatport"},
        owners=OWNERS,
        tags={"source": "beatport", "layer": "raw"},
        metadata=RAW_TABLE,
        skippable=True,
    ),
    dg.AssetSpec(
        PROCESSED,
        deps=[RAW],
        description="The normalized catalogue: tracks, artists (with remixer roles), releases, "
        "labels, genres and sub-genres, each row traced to its raw record. Records that cannot "
        "be normalized are quarantined with a reason instead of failing the batch.",
        group_name=GROUP,
        kinds={"python", "sql"},
        owners=OWNERS,
        tags={"source": "beatport", "layer": "catalogue"},
        metadata=PROCESSED_TABLE,
        automation_condition=dg.AutomationCondition.eager(),
        skippable=True,
    ),
    dg.AssetSpec(
        ENRICHMENT,
        deps=[PROCESSED],
        description="One Spotify outcome per track with an ISRC: found (Spotify id, rule, "
        "score), not_found (searched again after the TTL) or error (retried, never reported as "
        "not found).",
        group_name=GROUP,
        kinds={"python", "sql", "spotify"},
        owners=OWNERS,
        tags={"source": "spotify", "layer": "enrichment"},
        metadata=ENRICHMENT_TABLE,
        automation_condition=dg.AutomationCondition.eager(),
        skippable=True,
    ),
)
"""A tuple: module-level lists of specs would be loaded as extra definitions of these keys."""


@contextmanager
def non_retryable_errors_fail_fast() -> Iterator[None]:
    """Turn what a step retry cannot fix into a final failure: a service error that waiting
    cannot fix (bad credentials), and a database unreachable past the outage deadline, which
    the step has already spent waiting inside (a retry would wait the deadline out again)."""
    try:
        yield
    except ServiceError as exc:
        if exc.retryable:
            raise
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    except DatabaseUnavailableError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc


@dg.multi_asset(
    name="catalogue_days",
    specs=SPECS,
    check_specs=CHECK_SPECS,
    can_subset=True,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=SPOTIFY_POOL,
    retry_policy=API_RETRY,
    description="Collect, process and enrich the selected assets over the run's publish days, "
    "reporting and checking each day on its own.",
)
def catalogue_days(
    context: dg.AssetExecutionContext,
    source: ApiSourceResource,
    beatport: BeatportResource,
    spotify: SpotifyResource,
    database: DatabaseResource,
) -> Iterator[Event]:
    selected = context.selected_asset_keys
    calls_beatport, calls_spotify = RAW in selected, ENRICHMENT in selected
    apis = [api for api, called in ((beatport, calls_beatport), (spotify, calls_spotify)) if called]
    problem = configuration_error(database, source, apis)
    if problem is not None:  # raised here, so its traceback holds one frame of ours
        raise problem
    with (
        interrupts_are_final(),
        non_retryable_errors_fail_fast(),
        collection_service(
            database,
            source,
            context.run.run_id,
            beatport=beatport if calls_beatport else None,
            spotify=spotify if calls_spotify else None,
        ) as service,
    ):
        step = DaysStep(context, service, database, window_of(context.partition_time_window))
        yield from step.run(beatport.genre_ids)
