"""What `collection-pipeline run` prints: one line per step while it runs, then a summary.

Progress is read from the run's events in the instance (the steps' own progress messages and
Dagster's step events), so it shows the same thing the UI does without Dagster's DEBUG lines.
The summary's figures are the catalogue's typed counts for the whole range
(`CollectionService.report`), and they add up: every track of the range is found, not found,
an error, not looked up yet, or without an ISRC.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from collection_pipeline.domain import WindowReport

PHASES = {
    "Collecting": "raw_beatport_tracks",
    "collect": "raw_beatport_tracks",
    "Processing": "processed_tracks",
    "process": "processed_tracks",
    "Searching": "spotify_enrichments",
    "enrich": "spotify_enrichments",
}
"""First words of the service's progress messages, by the asset whose work they report: one
step may compute all three assets, and each gets its own line."""
STEP_EVENTS = {
    "STEP_START": "running",
    "STEP_SUCCESS": "done",
    "STEP_FAILURE": "failed",
    "STEP_SKIPPED": "skipped",
    "STEP_UP_FOR_RETRY": "retrying",
    "STEP_RESTARTED": "running",
}


@dataclass
class StepProgress:
    """What one asset step is doing: its state, its latest progress message, its timing."""

    key: str
    state: str = "waiting"
    detail: str = ""
    started: float | None = None
    finished: float | None = None

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now) - self.started

    def line(self, now: float, width: int) -> str:
        text = f"{self.key:<24} {self.state:<8} {self.elapsed(now):6.1f} s  {self.detail}"
        return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class RunFacts:
    """What the run's events say, for the summary: failed steps and checks."""

    failures: list[tuple[str, str]] = field(default_factory=list)
    """(asset or step, root cause in one line) per failed step, in order; a step computing
    several assets is named by the asset it was working on."""
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    last_step: str | None = None
    last_phase: str | None = None
    """The asset whose work was reported last (one step may compute several)."""


class RunMonitor:
    """Follows one run's events and renders each step's progress, in the order steps start.

    On a terminal, one live line per step (rich); otherwise a plain line as each step ends,
    so logs and pipes get the same information without control characters.
    """

    def __init__(self, *, show: bool = True, stream: IO[str] = sys.stdout) -> None:
        self.steps: dict[str, StepProgress] = {}
        self._current: dict[str, StepProgress] = {}
        self.facts = RunFacts()
        self._stream = stream
        self._show = show
        self._live: Any = None
        if show and stream.isatty():
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                "", console=Console(file=stream, highlight=False), refresh_per_second=4
            )

    def __enter__(self) -> RunMonitor:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.__exit__(None, None, None)

    def handle(self, entries: Iterable[Any]) -> None:
        """Take in new event log entries (`EventLogEntry`) of the run."""
        for entry in entries:
            self._handle(entry)
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        """The step lines as plain rich Text: no markup or highlighting of the messages."""
        from rich.text import Text

        now = time.time()
        width = self._live.console.width if self._live is not None else 120
        return Text("\n".join(step.line(now, width) for step in self.steps.values()))

    def _handle(self, entry: Any) -> None:
        event = entry.dagster_event
        if event is None:
            if entry.step_key and entry.user_message and entry.level == logging.INFO:
                self._progress(entry.step_key, entry.user_message, entry.timestamp)
            return
        kind = event.event_type_value
        if kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed:
                self.facts.checks_passed += 1
            else:
                name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                self.facts.checks_failed.append(name)
        elif kind == "STEP_FAILURE":
            line = self._current.get(entry.step_key)
            where = line.key if line is not None else entry.step_key
            self.facts.failures.append((where, root_cause(event.event_specific_data)))
        if kind == "STEP_START":
            self.facts.last_step = entry.step_key
            self._line_for(entry.step_key, entry.step_key, entry.timestamp)
        if kind in STEP_EVENTS and entry.step_key in self._current:
            line = self._current[entry.step_key]
            line.state = STEP_EVENTS[kind]
            if line.state == "skipped":
                self.steps.pop(line.key, None)  # a skip is the UI's business, not progress
            elif line.state in ("done", "failed"):
                self._finish(line, entry.timestamp)

    def _progress(self, step_key: str, message: str, at: float) -> None:
        """A progress message: it may open the next phase (collect, process, enrich)."""
        phase = PHASES.get(message.split(" ", 1)[0])
        line = self._current.get(step_key)
        if phase is not None and (line is None or line.key != phase):
            if line is not None and line.key in PHASES.values():
                self._finish(line, at, state="done")
            line = self._line_for(step_key, phase, at)
        elif line is None:
            line = self._line_for(step_key, step_key, at)
        elif phase is None and line.key in PHASES.values():
            return  # a framework or summary message inside a phase: not its progress
        line.detail = message.rsplit(": ", 1)[-1]
        if self.facts.last_step == step_key and phase is not None:
            self.facts.last_phase = phase

    def _line_for(self, step_key: str, label: str, at: float) -> StepProgress:
        """The display line `label` of a step, replacing the step's own line once phases start."""
        current = self._current.get(step_key)
        if current is not None and current.key == step_key and label != step_key:
            self.steps.pop(step_key, None)  # the step shows as its phases instead
        line = self.steps.setdefault(label, StepProgress(label, state="running", started=at))
        self._current[step_key] = line
        return line

    def _finish(self, line: StepProgress, at: float, state: str | None = None) -> None:
        if state is not None:
            line.state = state
        if line.finished is None:
            line.finished = at
            if self._show and self._live is None:
                print(line.line(at, 200), file=self._stream, flush=True)


def root_cause(step_failure: Any) -> str:
    """The innermost error of a step failure, in one line: `Type: first line of message`."""
    user = getattr(step_failure, "user_failure_data", None)
    if user is not None and user.description:
        return user.description.strip().splitlines()[0]
    error = step_failure.error
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    message = error.message.strip().splitlines()[0] if error.message.strip() else ""
    name = error.cls_name or "Error"
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def catalogue_lines(report: WindowReport, days: str) -> list[str]:
    """The range's state in the catalogue; every track of the range is in one bucket."""
    raw, outcomes = report.raw, report.outcomes
    without_isrc = report.tracks - outcomes.tracks_with_isrc
    not_looked_up = outcomes.tracks_with_isrc - outcomes.found - outcomes.not_found - outcomes.error
    rate = outcomes.match_rate
    lines = [
        f"Raw        {raw.total} Beatport records for {days}: {raw.processed} processed, "
        f"{raw.quarantined} quarantined, {raw.pending} waiting",
        f"Tracks     {report.tracks} = {outcomes.found} found on Spotify + {outcomes.not_found} "
        f"not found + {outcomes.error} errors + {not_looked_up} not looked up yet + "
        f"{without_isrc} without ISRC",
    ]
    if rate is not None:
        lines.append(
            f"Match rate {rate:.0%} ({outcomes.found} of {outcomes.looked_up} tracks looked up)"
        )
    return lines


def checks_line(facts: RunFacts) -> str | None:
    if not facts.checks_passed and not facts.checks_failed:
        return None
    failed = facts.checks_failed
    tail = f", {len(failed)} failed: {', '.join(failed)}" if failed else ""
    return f"Checks     {facts.checks_passed} passed{tail}"
