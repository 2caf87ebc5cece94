"""A 3-day backfill launched from the UI against the same days run by `collection-pipeline run`.

    python -m bench.bench_ui [--days 3] [--tracks-per-day 20]

Both run in `live` mode against one standalone emulator (no latency), each on a fresh
DAGSTER_HOME and SQLite catalogue. The CLI figure is the command's wall time, start-up
included. For the backfill launched as the UI's Materialize dialog does (GraphQL, `dagster dev`
already up), two figures: the run's wall time as the UI shows it (run worker start-up to end,
what the executor and step layout decide), judged against the CLI; and the time from the launch
until the backfill reports completion. The second is printed split into its parts: the wait for
the backfill daemon's tick that submits the run, the run queue (the run queue daemon's
`dequeue_interval_seconds`, 1 s in dagster.yaml) and the run worker's start, the run, and the
wait for the next tick that sees the run finished. The backfill daemon loops every 30 s, fixed
in Dagster 1.13 (`DEFAULT_DAEMON_INTERVAL_SECONDS` in `dagster._daemon.backfill`), so the two
ticks put launch to completed at 30 to 60 s whatever the run takes below 30 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.common import Figure, live_env, print_table, standalone_emulator, write_results
from collection_pipeline.testing.dagster_dev import dagster_dev, day_keys

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ["raw_beatport_tracks", "processed_tracks", "spotify_enrichments"]
START = date(2024, 1, 1)


def sqlite_env(base_url: str, home: Path) -> dict[str, str]:
    return live_env(base_url, home, f"sqlite:///{home / 'catalogue.db'}")


def fresh_home(parent: Path, name: str) -> Path:
    home = parent / name
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def cli_seconds(env: dict[str, str], start: date, end: date) -> float:
    command = [sys.executable, "-m", "collection_pipeline.cli", "run"]
    started = time.perf_counter()
    subprocess.run(
        [*command, "--start", start.isoformat(), "--end", end.isoformat()],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def ui_seconds(env: dict[str, str], home: Path, start: date, end: date) -> tuple[float, float]:
    """(the backfill run's own wall time, launch to backfill completion); prints the parts of
    the second."""
    with dagster_dev(home, env) as dev:
        launched = time.time()
        backfill = dev.backfill(ASSETS, day_keys(start, end), timeout_s=600)
        until_done = time.time() - launched
    if backfill["status"] not in ("COMPLETED", "COMPLETED_SUCCESS"):
        raise RuntimeError(f"backfill ended {backfill['status']}")
    [run] = backfill["runs"]
    parts = {
        "launch -> run submitted (backfill tick)": run["creationTime"] - launched,
        "submitted -> run started (queue, worker start)": run["startTime"] - run["creationTime"],
        "run": run["endTime"] - run["startTime"],
        "run ended -> backfill completed (next tick)": backfill["endTimestamp"] - run["endTime"],
        "backfill completed -> seen by the poll": launched + until_done - backfill["endTimestamp"],
    }
    print(", ".join(f"{name} {seconds:.2f} s" for name, seconds in parts.items()))
    return run["endTime"] - run["startTime"], until_done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--tracks-per-day", type=int, default=20)
    args = parser.parse_args()
    end = START + timedelta(days=args.days - 1)
    emulator_args = ("--profile", "default", "--tracks-per-day", str(args.tracks_per_day))
    with standalone_emulator(*emulator_args) as base_url, tempfile.TemporaryDirectory() as tmp:
        cli_home = fresh_home(Path(tmp), "cli")
        cli = cli_seconds(sqlite_env(base_url, cli_home), START, end)
        ui_home = fresh_home(Path(tmp), "ui")
        ui_run, ui_until_done = ui_seconds(sqlite_env(base_url, ui_home), ui_home, START, end)
    detail = f"{args.days} days x 6 genres x {args.tracks_per_day} tracks, SQLite, no latency"
    figures = [
        Figure(
            "ui",
            f"{args.days}-day backfill launched from the UI: its run's wall time",
            ui_run,
            "s",
            reference=cli,
            reference_name="collection-pipeline run, same days",
            threshold=1.5,
            higher_is_better=False,
            detail=detail,
        ),
        Figure(
            "ui",
            f"{args.days}-day backfill launched from the UI: launch to backfill completed",
            ui_until_done,
            "s",
            reference=cli,
            reference_name="collection-pipeline run, same days",
            detail="two ticks of the backfill daemon's fixed 30 s loop (submit, see it finish)",
        ),
    ]
    print_table(figures)
    write_results("ui", figures, vars(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
