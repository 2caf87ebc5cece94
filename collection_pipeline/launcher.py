"""Start a run in a worker process, follow it through the instance, and own Ctrl-C.

The worker (`run_worker`) sits in a process group of its own, so the terminal's SIGINT reaches
only this process, which decides what an interrupt means:
- the first Ctrl-C is forwarded once: Dagster stops the step, whose unit of work rolls back,
  and the run ends failed; if the worker has not exited `GRACE_S` later (a step blocked in a
  driver call), it is killed, which rolls back its open transaction just as surely;
- a second Ctrl-C kills the worker at once.
A kill goes to the worker's whole process group: Dagster's step mirrors its captured output
through `tail -F` helpers (and a watcher that ends them only a second after their parent is
gone), which share the worker's output and would otherwise keep writing to the terminal after
the CLI has exited. Either way a run the worker could not finish itself is marked canceled
here, so the instance never keeps a STARTED run that nothing executes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from collection_pipeline.console import RunMonitor

GRACE_S = 8.0
"""How long an interrupted worker may take to stop before it is killed. The CLI must be done
within 10 s of Ctrl-C, and a kill with its last lines takes well under one; a normal stop takes
one to two seconds, but 6.65 s was seen for the crawl on PostgreSQL at a load average of 7
(with 6 s it was killed, where it would have stopped on its own and said which step)."""
POLL_S = 0.25


@dataclass
class LaunchOutcome:
    returncode: int
    interrupted: bool
    """The user pressed Ctrl-C (or the CLI got SIGTERM)."""
    forced: bool
    """The worker was killed: a second Ctrl-C, or it did not stop within the grace period."""


class Launcher:
    def __init__(
        self, instance: Any, run_id: str, command: Sequence[str], monitor: RunMonitor
    ) -> None:
        self._instance = instance
        self._run_id = run_id
        self._command = list(command)
        self._monitor = monitor
        self._cursor: str | None = None
        self._interrupted_at: float | None = None
        self._interrupts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._killed = threading.Event()
        """Set once the worker's process group was killed; wakes the follow loop at once."""

    def run(self) -> LaunchOutcome:
        self._process = subprocess.Popen(self._command, start_new_session=True)
        handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            with self._monitor:
                while self._process.poll() is None and not self._killed.is_set():
                    self._follow()
                    if self._past_grace():
                        self._kill()
                    self._killed.wait(POLL_S)
                self._process.wait()
                if not self._killed.is_set():
                    self._follow()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        forced = self._killed.is_set()
        if self._interrupts or forced:
            self._mark_stopped()
        return LaunchOutcome(self._process.returncode, self._interrupts > 0, forced)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._interrupts += 1
        process = self._process
        if process is None or process.poll() is not None:
            return
        if self._interrupts == 1:
            self._interrupted_at = time.monotonic()
            process.send_signal(signal.SIGINT)
            print(
                "\ninterrupted: stopping the current step (press Ctrl-C again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
        else:
            self._kill()

    def _kill(self) -> None:
        """End the worker and the helpers it started (its process group), at once."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
                os.killpg(process.pid, signal.SIGKILL)
        self._killed.set()

    def _past_grace(self) -> bool:
        return (
            self._interrupted_at is not None and time.monotonic() - self._interrupted_at > GRACE_S
        )

    def _follow(self) -> None:
        while True:
            connection = self._instance.get_records_for_run(
                self._run_id, cursor=self._cursor, limit=500
            )
            self._cursor = connection.cursor
            self._monitor.handle(record.event_log_entry for record in connection.records)
            if not connection.has_more:
                return

    def _mark_stopped(self) -> None:
        """Record the end of a run that its worker did not finish (killed before the end)."""
        run = self._instance.get_run_by_id(self._run_id)
        if run is not None and not run.is_finished:
            self._instance.report_run_canceled(
                run, message="collection-pipeline run was interrupted; the worker was stopped"
            )
