"""The process that executes one `collection-pipeline run`: the `daily_collection` job in-process.

`collection-pipeline run` starts this in a process group of its own and watches the run through
the instance, so the terminal's Ctrl-C reaches only the CLI. The CLI forwards one interrupt here
(Dagster stops the step, its unit of work rolls back, the run ends failed) and can still kill
this process outright when the user insists or the step does not stop in time.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from datetime import date
from types import FrameType
from typing import NoReturn

QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"""Dagster's console logger silenced: the CLI renders progress from the instance instead."""


def worker_command(
    run_id: str, start: date, end: date, assets: Sequence[str], *, verbose: bool
) -> list[str]:
    """The command line that runs this module for one run."""
    command = [sys.executable, "-m", __name__, run_id, start.isoformat(), end.isoformat()]
    command += [f"--asset={key}" for key in assets]
    return command + (["--verbose"] if verbose else [])


def _stop_before_start(_signum: int, _frame: FrameType | None) -> None:
    """An interrupt while loading: nothing is written yet, so leave without a traceback."""
    raise SystemExit(130)


def execute(run_id: str, start: date, end: date, assets: Sequence[str], verbose: bool) -> bool:
    """Run the job over the inclusive day range on the persistent instance; True on success.

    Until Dagster installs its own interrupt handling (when execution starts), an interrupt
    ends the process quietly; in the short span in between it is ignored, and the CLI kills
    the process when its grace period ends.
    """
    signal.signal(signal.SIGINT, _stop_before_start)
    import dagster as dg

    from collection_pipeline.definitions import defs
    from collection_pipeline.defs.automation import JOB_NAME
    from collection_pipeline.defs.partitions import range_tags
    from collection_pipeline.storage import quiet_interrupted_closes

    quiet_interrupted_closes()

    job = defs.resolve_job_def(JOB_NAME)
    with dg.DagsterInstance.get() as instance:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        result = job.execute_in_process(
            instance=instance,
            run_id=run_id,
            asset_selection=[dg.AssetKey(key) for key in assets],
            tags=range_tags(start, end),
            run_config={} if verbose else QUIET_LOGGING,
            raise_on_error=False,
        )
    return result.success


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("run_id")
    parser.add_argument("start", type=date.fromisoformat)
    parser.add_argument("end", type=date.fromisoformat)
    parser.add_argument("--asset", dest="assets", action="append", required=True)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    return 0 if execute(args.run_id, args.start, args.end, args.assets, args.verbose) else 1


def _exit(status: int) -> NoReturn:
    """Leave without Python's interpreter teardown once the run is recorded.

    Everything the run writes is in the instance and the catalogue by the time `execute`
    returns (Dagster has ended the step's helpers and closed the instance); finalizing the
    modules of Dagster and SQLAlchemy would add 0.3 to 0.6 s, several seconds on a loaded
    machine, to every run and to every interrupted one, whose stop the CLI allows only
    `launcher.GRACE_S`.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    _exit(main())
