"""Database outages on PostgreSQL, on the wall clock: whole runs that ride them out.

    python -m bench.bench_outage [--lengths 20 60] [--steps collect process enrich] [--no-burst]
                                 [--days 6] [--tracks-per-day 100]

The acceptance matrix of the outage handling, too slow for the test suite (6 to 8 minutes):
every scenario is one run of the `daily_collection` job, in process with the real resources
and the default outage deadline (120 s), on a scratch PostgreSQL database of its own and the
emulator in a process of its own. First a clean run; then, for every step and outage length,
a run during which the database refuses and drops every connection for that long from the
step's second write (`WallClockOutage`: real time, real sleeps); then a run meeting a
restart-like burst of killed sessions from the first page collected (`KillBurst`). Each run
must succeed without Dagster retrying its step (the outage is ridden out inside the step) and
end with the clean run's catalogue digest. Run seconds are reported beside the outage plus
the clean run's seconds; they are not judged, these machines are shared.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg

from bench.bench_storage import ADMIN_URL, scratch_postgres
from bench.common import Figure, print_table, standalone_emulator, write_results
from collection_pipeline.definitions import build_definitions
from collection_pipeline.defs.automation import JOB_NAME
from collection_pipeline.defs.partitions import range_tags
from collection_pipeline.defs.resources import (
    ApiSourceResource,
    BeatportResource,
    DatabaseResource,
    SpotifyResource,
)
from collection_pipeline.storage import Database
from collection_pipeline.testing.digest import database_digest
from collection_pipeline.testing.outage import (
    STEP_TABLES,
    KillBurst,
    Outage,
    StepTrigger,
    WallClockOutage,
)

FIRST_DAY = date(2024, 3, 1)
GENRES = [5, 11]
BURST = "burst"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
"""Dagster's console logger prints every event of every run; the table is what matters."""


@dataclass
class Outcome:
    step: str
    outage_s: float
    run_s: float
    succeeded: bool
    digest_equal: bool
    step_retries: int
    database_retries: int
    failure: str = ""

    @property
    def ok(self) -> bool:
        return self.succeeded and self.digest_equal and self.step_retries == 0


class RetryCounter(logging.Handler):
    """Counts the outage policy's "unreachable; retrying" warnings: proof the outage hit."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "unreachable" in record.getMessage()


@contextmanager
def counting_retries() -> Iterator[RetryCounter]:
    counter = RetryCounter()
    logger = logging.getLogger("collection_pipeline.storage.outage")
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)


def resources(emulator: str, database_url: str) -> dict[str, dg.ConfigurableResource]:
    """Live mode pointed at the standalone emulator, as with real credentials."""
    return {
        "source": ApiSourceResource(mode="live"),
        "beatport": BeatportResource(
            api_url=f"{emulator}/v4", access_token="bench", genre_ids=GENRES
        ),
        "spotify": SpotifyResource(
            api_url=f"{emulator}/v1",
            token_url=f"{emulator}/api/token",
            client_id="bench",
            client_secret="bench",
        ),
        "database": DatabaseResource(url=database_url),
    }


def failure_of(result: dg.ExecuteInProcessResult) -> str:
    """The innermost error of the first failure event, in one line."""
    for event in result.all_events:
        error = event.event_specific_data.error if event.is_failure else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            return error.message.strip().splitlines()[0]
    return ""


def run_once(
    emulator: str, days: int, scenario: str, outage_s: float, clean_digest: str | None
) -> tuple[Outcome, str]:
    """One run on a fresh database, disturbed as `scenario` says; its outcome and digest."""
    with scratch_postgres() as url:
        outage = Outage(ADMIN_URL, url)
        disturbance: AbstractContextManager[object] = nullcontext()
        if scenario == BURST:
            disturbance = KillBurst(outage, "collect")
        elif scenario in STEP_TABLES:
            disturbance = WallClockOutage(outage, scenario, outage_s)
        job = build_definitions(resources(emulator, url)).resolve_job_def(JOB_NAME)
        tags = range_tags(FIRST_DAY, FIRST_DAY + timedelta(days=days - 1))
        try:
            with dg.DagsterInstance.ephemeral() as instance, counting_retries() as retries:
                started = time.monotonic()
                with disturbance:
                    result = job.execute_in_process(
                        run_config=QUIET, instance=instance, tags=tags, raise_on_error=False
                    )
                run_s = time.monotonic() - started
                if isinstance(disturbance, KillBurst):
                    disturbance.join()
            db = Database(url)
            try:
                digest = database_digest(db)
            finally:
                db.dispose()
        finally:
            outage.close()
        fired = not isinstance(disturbance, StepTrigger) or disturbance.fired_at is not None
        step_retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        outcome = Outcome(
            step=scenario,
            outage_s=outage_s,
            run_s=run_s,
            succeeded=result.success and fired,
            digest_equal=clean_digest is None or digest == clean_digest,
            step_retries=len(step_retries),
            database_retries=retries.count,
            failure=failure_of(result) or ("" if fired else "the disturbance never started"),
        )
        return outcome, digest


def print_outcomes(outcomes: list[Outcome]) -> None:
    print("| step | outage | run seconds | succeeded | digest equal | database retries |")
    print("|---|---|---|---|---|---|")
    for o in outcomes:
        outage = (
            "none" if o.step == "clean" else "burst" if o.step == BURST else f"{o.outage_s:g} s"
        )
        step = "collect" if o.step == BURST else o.step
        print(
            f"| {step} | {outage} | {o.run_s:.1f} | {'yes' if o.succeeded else 'NO'} "
            f"| {'yes' if o.digest_equal else 'NO'} | {o.database_retries} |"
        )
    for o in outcomes:
        if not o.ok:
            print(
                f"FAILED {o.step} {o.outage_s:g} s: {o.failure or 'digest differs'}"
                f"{f' ({o.step_retries} step retries)' if o.step_retries else ''}"
            )


def figures_of(clean: Outcome, outcomes: list[Outcome]) -> list[Figure]:
    figures = [
        Figure(
            "outage",
            f"run with a {o.outage_s:g} s outage in {o.step} (wall clock)"
            if o.step != BURST
            else "run with a restart-like burst of killed sessions in collect",
            o.run_s,
            "s",
            reference=clean.run_s + o.outage_s,
            reference_name="clean run + outage",
            higher_is_better=False,
        )
        for o in outcomes
    ]
    figures.append(
        Figure(
            "outage",
            "disturbed runs that succeeded, unretried, with the clean run's digest",
            sum(o.ok for o in outcomes) / len(outcomes),
            "share",
            threshold=1.0,
        )
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="*", default=[20, 60])
    parser.add_argument(
        "--steps", nargs="*", choices=sorted(STEP_TABLES), default=list(STEP_TABLES)
    )
    parser.add_argument("--no-burst", action="store_true")
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--tracks-per-day", type=int, default=100, help="per genre")
    args = parser.parse_args()
    logging.getLogger("collection_pipeline.storage.outage").setLevel(logging.WARNING)

    scenarios = [(step, length) for length in args.lengths for step in args.steps]
    if not args.no_burst:
        scenarios.append((BURST, 0.0))
    outcomes: list[Outcome] = []
    with standalone_emulator("--tracks-per-day", str(args.tracks_per_day)) as emulator:
        clean, clean_digest = run_once(emulator, args.days, "clean", 0.0, None)
        print(f"clean run: {clean.run_s:.1f} s, succeeded {clean.succeeded}", flush=True)
        for step, length in scenarios:
            outcome, _ = run_once(emulator, args.days, step, length, clean_digest)
            print(f"{step} {length:g} s: {outcome.run_s:.1f} s, ok {outcome.ok}", flush=True)
            outcomes.append(outcome)
    print_outcomes([clean, *outcomes])
    figures = figures_of(clean, outcomes)
    print_table(figures)
    path = write_results("outage", figures, vars(args))
    print(f"wrote {path}")
    return 0 if clean.ok and all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
