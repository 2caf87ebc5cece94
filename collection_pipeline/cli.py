"""`collection-pipeline`: run the pipeline, open the UI and migrate, on one persistent instance.

Dagster keeps run history in $DAGSTER_HOME. Left unset, `dagster` commands use a throw-away
directory, so a run started here would never show in `dagster dev`. Every subcommand therefore
resolves one DAGSTER_HOME first (the variable if set, else `.collection/dagster_home` in the
project folder), creates it and writes the packaged instance defaults into it (see
instance_defaults.py), so the CLI run, the UI and the catalogue's default SQLite file all live in
the same place with no setup step.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import sqlalchemy as sa

from collection_pipeline import settings
from collection_pipeline.instance_defaults import seed_instance_home

if TYPE_CHECKING:
    from collection_pipeline.console import RunMonitor
    from collection_pipeline.domain import WindowReport

ASSET_KEYS = ("raw_beatport_tracks", "processed_tracks", "spotify_enrichments")


project_root = settings.project_root


def ensure_dagster_home() -> Path:
    """Resolve, create and export DAGSTER_HOME; seed it with the packaged instance defaults once."""
    root = project_root()
    home = settings.dagster_home(root)
    home.mkdir(parents=True, exist_ok=True)
    seed_instance_home(home)
    settings.export_dagster_home(home)
    return home


def _preflight(home: Path, apis: Sequence[str]) -> bool:
    """Print every problem that would stop a run, one line each; True when there is none."""
    from collection_pipeline import preflight

    problems = preflight.check_all(home, apis)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return not problems


def _home_or_none() -> Path | None:
    """The DAGSTER_HOME, created and exported; None (reported) when it cannot be created."""
    from collection_pipeline import preflight

    home = settings.dagster_home(project_root())
    problem = preflight.dagster_home_problem(home)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return None
    return ensure_dagster_home()


def _display_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _apis(assets: Sequence[str]) -> list[str]:
    """The APIs a run of `assets` calls, whose live credentials it needs."""
    needs = {"raw_beatport_tracks": "beatport", "spotify_enrichments": "spotify"}
    return [needs[key] for key in assets if key in needs]


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def _check_range(start: date, end: date) -> str | None:
    """Why the inclusive range [start, end] is not a range of existing partitions, if it isn't."""
    first, last = settings.start_date(), _yesterday()
    if end < start:
        return f"--end {end} is before --start {start}"
    if start < first:
        return f"--start {start} is before {settings.START_DATE.name}={first}"
    if end > last:
        return f"--end {end} is not a complete day yet (the last partition is {last})"
    return None


def run(start: date, end: date, assets: Sequence[str], *, verbose: bool = False) -> int:
    """Materialize `assets` for the inclusive day range in one run on the persistent instance.

    Exit status: 0 when the run succeeded, 1 when it failed, 2 when it was not started
    (configuration, range), 130 when it was interrupted.
    """
    home = _home_or_none()
    if home is None or not _preflight(home, _apis(assets)):
        return 2
    problem = _check_range(start, end)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    import dagster as dg

    from collection_pipeline.console import RunMonitor
    from collection_pipeline.defs.automation import JOB_NAME
    from collection_pipeline.launcher import Launcher
    from collection_pipeline.run_worker import worker_command

    days = f"{start}..{end}"
    run_id = str(uuid.uuid4())
    print(f"DAGSTER_HOME {home}")
    print(f"Catalogue    {_display_url(settings.database_url())}")
    print(f"Run          {run_id} ({JOB_NAME}, publish days {days}, {settings.source_mode()})")
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        monitor = RunMonitor(show=not verbose)
        command = worker_command(run_id, start, end, assets, verbose=verbose)
        outcome = Launcher(instance, run_id, command, monitor).run()
        dagster_run = instance.get_run_by_id(run_id)
        status = dagster_run.status.value if dagster_run is not None else "NOT STARTED"
    seconds = time.monotonic() - started
    resume = f"collection-pipeline run --start {start} --end {end}"
    if outcome.forced:
        print(f"\ninterrupted: run {run_id} stopped at once ({status}); resume with: {resume}")
        _exit_at_once(130)
    print()
    for line in _summary(start, end, monitor):
        print(line)
    print(f"Run          {run_id} {_status_word(status)} in {seconds:.1f} s")
    for step, cause in monitor.facts.failures:
        print(f"Failed       {step}: {cause}")
    if outcome.interrupted:
        step = monitor.facts.last_phase or monitor.facts.last_step or "start-up"
        print(f"interrupted: during {step}; committed pages and batches are kept")
        print(f"Resume       {resume}   (finished work is not fetched again)")
        return 130
    if status != "SUCCESS":
        print(
            f"More         collection-pipeline dev, then http://127.0.0.1:3000/runs/{run_id} "
            "(every event and log line), or run again with --verbose"
        )
        return 1
    print("Browse it    collection-pipeline dev   (then open http://127.0.0.1:3000)")
    return 0


def _exit_at_once(status: int) -> NoReturn:
    """Leave without Python's interpreter teardown.

    After a forced stop the worker is dead, the run is marked in the instance and the last
    line is printed; what remains of a normal exit is finalizing the modules and objects of
    Dagster and SQLAlchemy, which takes 0.3 to 0.6 s (seconds on a loaded machine) and does
    nothing the user needs when they pressed Ctrl-C twice.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _status_word(status: str) -> str:
    return {"SUCCESS": "succeeded", "FAILURE": "FAILED", "CANCELED": "CANCELED"}.get(status, status)


def _summary(start: date, end: date, monitor: RunMonitor) -> list[str]:
    """The range's catalogue figures and the run's checks."""
    from collection_pipeline.console import catalogue_lines, checks_line

    lines = []
    report = _range_report(start, end)
    if report is not None:
        lines += catalogue_lines(report, f"{start}..{end}")
    checks = checks_line(monitor.facts)
    return lines + ([checks] if checks else [])


def _range_report(start: date, end: date) -> WindowReport | None:
    """The catalogue's state for the range, or None when it cannot be read (no schema yet)."""
    import sqlalchemy.exc

    from collection_pipeline import views
    from collection_pipeline.domain import DateWindow
    from collection_pipeline.service import utc_now
    from collection_pipeline.storage import Database, OutagePolicy

    database = Database(settings.database_url(), outage=OutagePolicy(deadline_s=5.0))
    window = DateWindow(start, end + timedelta(days=1))
    ttl = timedelta(days=settings.not_found_ttl_days())
    try:
        return database.unit_of_work(read_only=True).run(
            lambda uow: views.window_report(uow, window, ttl, utc_now())
        )
    except sqlalchemy.exc.SQLAlchemyError:
        return None
    finally:
        database.dispose()


def dev(extra: Sequence[str]) -> int:
    """Replace this process with `dagster dev` on the same DAGSTER_HOME."""
    home = _home_or_none()
    if home is None:
        return 2
    # `dagster dev` warns that `dg dev` supersedes it; `dg` is not in the core install, and for
    # a module target both run the same dev server, so the warning is only noise here.
    quiet = "ignore:Function `dev_command` is superseded:FutureWarning"
    command = [sys.executable, "-W", quiet, "-m", "dagster", "dev"]
    command += ["-m", "collection_pipeline.definitions", *extra]
    executable = sys.executable
    print(f"DAGSTER_HOME {home}", flush=True)
    os.chdir(home)  # dagster dev expects the instance's dagster.yaml in its working directory
    os.execv(executable, command)
    return 0  # pragma: no cover - execv does not return


def migrate() -> int:
    """Bring the catalogue schema to the latest migration."""
    home = _home_or_none()
    if home is None or not _preflight(home, apis=()):
        return 2
    from collection_pipeline.storage import Database

    url = settings.database_url()
    database = Database(url)
    try:
        database.upgrade()
    finally:
        database.dispose()
    print(f"Catalogue schema is at head: {_display_url(url)}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collection-pipeline",
        description="Collect Beatport tracks and match them on Spotify (a Dagster pipeline).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run", help="collect, process and match a range of publish days in one run"
    )
    run_parser.add_argument(
        "--start", type=date.fromisoformat, help="first publish day (default: yesterday, UTC)"
    )
    run_parser.add_argument(
        "--end", type=date.fromisoformat, help="last publish day, inclusive (default: --start)"
    )
    run_parser.add_argument(
        "--asset",
        dest="assets",
        action="append",
        choices=ASSET_KEYS,
        help="materialize only these assets (repeatable; default: all three)",
    )
    run_parser.add_argument(
        "--verbose", action="store_true", help="show Dagster's events instead of progress lines"
    )
    commands.add_parser(
        "dev",
        add_help=False,  # every further option (-h HOST, -p PORT, ...) goes to `dagster dev`
        help="start the Dagster UI and daemon on the same instance (options go to dagster dev)",
    )
    commands.add_parser("migrate", help="bring the catalogue schema to the latest migration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    if args.command == "dev":
        return dev(extra)
    if extra:
        _parser().error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "migrate":
        return migrate()
    start = args.start or _yesterday()
    return run(start, args.end or start, args.assets or ASSET_KEYS, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
