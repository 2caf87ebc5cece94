"""End to end: a one-year backfill of the default genres in one Dagster run, on PostgreSQL.

    python -m bench.bench_end_to_end [--start 2024-01-01] [--end 2024-12-31] [--tracks-per-day 20]

Runs exactly what a user runs, `dagster asset materialize --select '*' --partition-range A...B`,
in `live` mode against a standalone emulator with no latency, with the catalogue on a scratch
PostgreSQL database and a scratch Dagster instance. Reports wall time, tracks per second and
the share of the wall time spent in the run's one step (the rest is start-up and Dagster).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx
import sqlalchemy as sa
from dagster import DagsterInstance

from bench.bench_storage import scratch_postgres
from bench.common import Figure, live_env, print_table, standalone_emulator, write_results


def run_backfill(base_url: str, database_url: str, home: str, start: str, end: str) -> float:
    env = {
        **os.environ,
        **live_env(base_url, home, database_url),
        "COLLECTION_START_DATE": start,
    }
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [
        *(dagster, "asset", "materialize", "-m", "collection_pipeline.definitions"),
        *("--select", "*", "--partition-range", f"{start}...{end}"),
    ]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def step_seconds(home: str) -> float:
    """Seconds spent in the steps of the (only) run in the instance; a skipped step (the
    freshness check's own step, which the asset's step evaluates instead) has no times."""
    os.environ["DAGSTER_HOME"] = home
    with DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        if not run.is_success:
            raise RuntimeError(f"run {run.run_id} ended {run.status}")
        stats = instance.get_run_step_stats(run.run_id)
    return sum(
        s.end_time - s.start_time
        for s in stats
        if s.start_time is not None and s.end_time is not None
    )


def count_tracks(database_url: str) -> tuple[int, int]:
    """Tracks in the catalogue, and the distinct ISRCs among them."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        tracks, isrcs = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT isrc) FROM tracks")
        ).one()
    engine.dispose()
    return tracks, isrcs


def spotify_searches(base_url: str) -> int:
    """Search requests the emulator answered, whatever their status."""
    routes = httpx.get(f"{base_url}/_emulator/stats").json()["requests"]
    return sum(routes.get("spotify.search", {}).values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--tracks-per-day", type=int, default=20)
    args = parser.parse_args()

    emulator_args = ("--profile", "default", "--tracks-per-day", str(args.tracks_per_day))
    with (
        standalone_emulator(*emulator_args) as base_url,
        scratch_postgres() as database_url,
        tempfile.TemporaryDirectory() as home,
    ):
        wall = run_backfill(base_url, database_url, home, args.start, args.end)
        in_step = step_seconds(home)
        tracks, isrcs = count_tracks(database_url)
        searches = spotify_searches(base_url)

    days = (date.fromisoformat(args.end) - date.fromisoformat(args.start)).days + 1
    detail = f"{args.start}...{args.end}, 6 genres x {args.tracks_per_day} tracks/day, one run"
    figures = [
        Figure("end_to_end", f"{days}-day backfill wall time", wall, "s", detail=detail),
        Figure("end_to_end", "tracks per second", tracks / wall, "tracks/s", detail=detail),
    ]
    figures.append(
        Figure(
            "end_to_end",
            "Spotify search requests per distinct ISRC",
            searches / isrcs,
            "requests/ISRC",
            threshold=1.0,
            higher_is_better=False,
            detail=f"{searches} searches for {isrcs} distinct ISRCs (1 is the floor)",
        )
    )
    figures.append(Figure("end_to_end", "share of wall time in the step", in_step / wall, "share"))
    print_table(figures)
    write_results("end_to_end", figures, {**vars(args), "tracks": tracks, "isrcs": isrcs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
