"""Service results -> Dagster metadata and check results, so asset functions stay a few lines.

The keys are what the UI shows after each run (DESIGN section 8): row counts, per-outcome
counts, HTTP requests and 429s, throughput and a small pandas preview.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from collection_pipeline.domain import (
    CollectResult,
    EnrichResult,
    ProcessResult,
    RequestCounters,
    WindowReport,
)


def _per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def _requests(counters: RequestCounters) -> dict[str, Any]:
    return {
        "requests": counters.requests,
        "retries": counters.retries,
        "rate_limited_429": counters.rate_limited,
        "responses_by_status": dg.MetadataValue.json(
            {str(status): count for status, count in sorted(counters.by_status.items())}
        ),
    }


def markdown_table(rows: list[dict[str, Any]]) -> dg.MetadataValue:
    """A pandas markdown rendering of a few rows; an explicit note when there are none."""
    if not rows:
        return dg.MetadataValue.md("_no rows in this window_")
    return dg.MetadataValue.md(pd.DataFrame(rows).to_markdown(index=False))


def preview_metadata(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"preview": markdown_table(rows)}


def collect_metadata(result: CollectResult, stored: int) -> dict[str, Any]:
    return {
        "dagster/row_count": stored,
        "records_received": result.records,
        "api_count": result.expected,
        "new": result.new,
        "changed": result.changed,
        "unchanged": result.unchanged,
        "duplicates_dropped": result.duplicates_dropped,
        "pages": result.pages,
        **_requests(result.requests),
        "seconds": round(result.seconds, 2),
        "records_per_second": _per_second(result.records, result.seconds),
        "api_count_by_query": markdown_table(
            [{"query": label, "count": count} for label, count in sorted(result.api_counts.items())]
        ),
    }


def completeness_check(name: str, result: CollectResult, stored: int) -> dg.AssetCheckResult:
    """Raw completeness: every track the API counted for the window reached the catalogue.

    Until checks are per partition, one incomplete day fails the check of the whole window.
    """
    missing = max(result.expected - result.records, 0)
    incomplete = result.incomplete_days
    passed = missing == 0 and not incomplete
    description = None
    if incomplete:
        description = f"{len(incomplete)} incomplete day(s): " + "; ".join(
            f"{day}: {reason}" for day, reason in list(incomplete.items())[:3]
        )
    elif missing:
        description = f"{missing} tracks counted by the API never arrived"
    return dg.AssetCheckResult(
        check_name=name,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "api_count": result.expected,
            "records_received": result.records,
            "stored_in_window": stored,
            "missing": missing,
            "incomplete_days": len(incomplete),
        },
        description=description,
    )


def process_metadata(result: ProcessResult, report: WindowReport) -> dict[str, Any]:
    return {
        "dagster/row_count": report.tracks,
        "processed": result.processed,
        "quarantined": result.quarantined,
        "batches": result.batches,
        "quarantine_reasons": dg.MetadataValue.json(result.quarantine_reasons),
        "entities_written": dg.MetadataValue.json(result.entities_written),
        "raw_pending": report.raw.pending,
        "seconds": round(result.seconds, 2),
        "records_per_second": _per_second(result.processed + result.quarantined, result.seconds),
    }


def enrich_metadata(result: EnrichResult, report: WindowReport) -> dict[str, Any]:
    outcomes = report.outcomes
    looked_up = outcomes.found + outcomes.not_found
    return {
        "dagster/row_count": outcomes.found + outcomes.not_found + outcomes.error,
        "needed_lookup": result.total,
        "processed": result.processed,
        "found": result.found,
        "not_found": result.not_found,
        "error": result.errors,
        "isrcs_searched": result.isrcs_searched,
        "batches": result.batches,
        **_requests(result.requests),
        "seconds": round(result.seconds, 2),
        "isrcs_per_second": _per_second(result.isrcs_searched, result.seconds),
        "window_found": outcomes.found,
        "window_not_found": outcomes.not_found,
        "window_error": outcomes.error,
        "window_pending": outcomes.pending,
        "window_match_rate": round(outcomes.found / looked_up, 3) if looked_up else 0.0,
    }
