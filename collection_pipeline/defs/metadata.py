"""Figures -> Dagster metadata: each day's own figures on its materialization, the run's in its log.

A partition is one publish day, so a day's materialization carries only what is true of that
day (its row count, outcome counts, match rate and a preview of its rows); the UI then plots one
point per day on the Partitions axis. What belongs to the run as a whole (requests, 429s,
seconds, throughput) is written once to the run log by `run_summary`.

The catalogue conventions (`dagster/table_name`, `dagster/column_schema`) describe the tables each
asset writes and are attached to the asset definitions.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import sqlalchemy as sa

from collection_pipeline.domain import (
    CollectResult,
    DayCollect,
    EnrichResult,
    ProcessResult,
    RawStateCounts,
    RequestCounters,
)
from collection_pipeline.storage import schema
from collection_pipeline.views import EnrichedDay, ProcessedDay

# ---------------------------------------------------------------- tables the assets write


_TYPE_NAMES = (
    (sa.DateTime, "timestamp"),
    (sa.Date, "date"),
    (sa.JSON, "json"),
    (sa.Float, "float"),
    (sa.Integer, "integer"),
    (sa.Boolean, "boolean"),
    (sa.String, "string"),
)


def _type_name(column: sa.Column[Any]) -> str:
    type_ = column.type
    if isinstance(type_, sa.TypeDecorator):
        type_ = type_.impl_instance
    return next(name for kind, name in _TYPE_NAMES if isinstance(type_, kind))


def _schema(table: sa.Table, described: str) -> dg.TableSchema:
    """The columns of `table` a reader of the asset needs, typed as the table declares them.
    `described` holds one `column: description` line each, so the metadata cannot name a column
    the table lacks (loading fails) or show a type the table does not have."""
    columns = []
    for line in described.strip().splitlines():
        name, text = (part.strip() for part in line.split(":", 1))
        columns.append(dg.TableColumn(name, _type_name(table.c[name]), description=text))
    return dg.TableSchema(columns=columns)


RAW_TABLE = {
    "dagster/table_name": "external_data",
    "dagster/column_schema": _schema(
        schema.external_data,
        """
provider: `beatport` for these rows
entity_type: `track`
external_id: Beatport track id (or a content key when it had none)
payload: the track JSON exactly as the API sent it
content_hash: hash of the canonical payload: unchanged records are skipped
partition_date: publish day: the partition the record belongs to
first_seen_at: when the record first arrived
last_seen_at: when a crawl last returned it
processed_at: when it was normalized or quarantined; NULL = pending
processing_error: quarantine reason; NULL when normalized
""",
    ),
}
PROCESSED_TABLE = {
    "dagster/table_name": "tracks",
    "dagster/column_schema": _schema(
        schema.tracks,
        """
beatport_id: Beatport track id (unique)
name: track title
mix_name: mix, e.g. `Original Mix`, `Extended Remix`
isrc: validated ISRC; NULL when missing or malformed
bpm: tempo
key_name: musical key as Beatport names it
camelot: Camelot wheel key
length_ms: duration in milliseconds
publish_date: Beatport publish day: the partition
new_release_date: release day
catalog_number: label catalogue number
genre_id: -> genres
sub_genre_id: -> sub_genres
release_id: -> releases (-> labels)
source_record_id: -> external_data: the raw record it came from
""",
    ),
    "catalogue/other_tables": "artists, track_artists (artist and remixer credits), releases, "
    "labels, genres, sub_genres",
}
ENRICHMENT_TABLE = {
    "dagster/table_name": "spotify_track_matches",
    "dagster/column_schema": _schema(
        schema.spotify_track_matches,
        """
track_id: -> tracks (one outcome per track)
status: `found`, `not_found` (searched again after the TTL) or `error`
spotify_track_id: the matched Spotify track; NULL unless found
isrc: the ISRC that was searched
match_rule: which matching rule chose the candidate
match_score: similarity score of the chosen candidate
candidate_count: Spotify results for the ISRC
attempts: searches made for this track
error_reason: why the last search failed (status `error`)
searched_at: when the outcome was decided
""",
    ),
}


# ---------------------------------------------------------------- one day's figures


def markdown_table(rows: list[dict[str, Any]]) -> dg.MetadataValue:
    """A pandas markdown rendering of a few rows; an explicit note when there are none.

    pandas is imported here, not with the module: it is 0.7 s of the start-up of every process
    that loads the definitions (the CLI, code servers, `definitions validate`), and only a step
    that writes a preview needs it.
    """
    if not rows:
        return dg.MetadataValue.md("_no rows on this day_")
    import pandas as pd

    return dg.MetadataValue.md(pd.DataFrame(rows).to_markdown(index=False))


def rate(value: float | None) -> dg.MetadataValue:
    """A share as a float metadata value, or null when it is undefined (nothing looked up)."""
    return dg.MetadataValue.null() if value is None else dg.MetadataValue.float(round(value, 3))


def count(value: int | None) -> dg.MetadataValue:
    """A count as an int metadata value, or null when there is none (no API count arrived)."""
    return dg.MetadataValue.null() if value is None else dg.MetadataValue.int(value)


def raw_day(collected: DayCollect, state: RawStateCounts) -> dict[str, Any]:
    """One day of `raw_beatport_tracks`: what the crawl delivered and what is stored."""
    return {
        "dagster/row_count": state.total,
        "api_count": count(collected.api_count),
        "received": collected.received,
        "new": collected.new,
        "changed": collected.changed,
        "unchanged": collected.unchanged,
    }


def processed_day(day: ProcessedDay) -> dict[str, Any]:
    """One day of `processed_tracks`: its catalogue tracks and the state of its raw records."""
    return {
        "dagster/row_count": day.tracks,
        "processed": day.raw.processed,
        "quarantined": day.raw.quarantined,
        "stuck": day.raw.pending,
        "invalid_isrcs": day.invalid_isrcs,
        "quarantine_reasons": dg.MetadataValue.json(day.quarantine_reasons),
        "preview": markdown_table(day.preview),
    }


def enrichment_day(day: EnrichedDay) -> dict[str, Any]:
    """One day of `spotify_enrichments`: its outcomes by status and its match rate."""
    outcomes = day.outcomes
    return {
        "dagster/row_count": outcomes.found + outcomes.not_found + outcomes.error,
        "found": outcomes.found,
        "not_found": outcomes.not_found,
        "error": outcomes.error,
        "pending": outcomes.pending,
        "match_rate": rate(outcomes.match_rate),
        "preview": markdown_table(day.preview),
    }


# ---------------------------------------------------------------- the run as a whole


def _per_second(count: int, seconds: float) -> str:
    return f"{count / seconds:.1f}/s" if seconds > 0 else "n/a"


def _requests(counters: RequestCounters) -> str:
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(counters.by_status.items()))
    return (
        f"{counters.requests} requests, {counters.retries} retries, "
        f"{counters.rate_limited} rate-limited (429)" + (f" [{statuses}]" if statuses else "")
    )


def collect_summary(result: CollectResult) -> str:
    return (
        f"collect: {result.records} records from {result.pages} pages "
        f"(API count {result.expected}), {_requests(result.requests)}, "
        f"{result.seconds:.1f} s, {_per_second(result.records, result.seconds)}"
    )


def process_summary(results: list[ProcessResult]) -> str:
    done = sum(r.processed + r.quarantined for r in results)
    seconds = sum(r.seconds for r in results)
    batches = sum(r.batches for r in results)
    return (
        f"process: {done} records in {batches} batches, {seconds:.1f} s, "
        f"{_per_second(done, seconds)}"
    )


def enrich_summary(results: list[EnrichResult]) -> str:
    searched = sum(r.isrcs_searched for r in results)
    seconds = sum(r.seconds for r in results)
    counters = RequestCounters()
    for result in results:
        counters.requests += result.requests.requests
        counters.retries += result.requests.retries
        counters.rate_limited += result.requests.rate_limited
        for status, n in result.requests.by_status.items():
            counters.by_status[status] = counters.by_status.get(status, 0) + n
    return (
        f"enrich: {searched} ISRCs searched, {_requests(counters)}, {seconds:.1f} s, "
        f"{_per_second(searched, seconds)}"
    )
