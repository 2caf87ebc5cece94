"""An interrupt (Ctrl-C, a run termination) ends a step for good: never one more attempt.

Dagster turns SIGINT into `DagsterExecutionInterruptedError` inside a step, and an op with a
`RetryPolicy` treats that like any error: it schedules a retry, so an interrupted run keeps
running (and, before the retry, waits). Re-raised as a `Failure` with retries disallowed, the
interrupt fails the step at once; its unit of work was rolled back on the way out, the
downstream steps are skipped and the run ends failed instead of STARTED.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

INTERRUPTED = "interrupted"
"""The first word of the failure's description, which the CLI recognizes."""


@contextmanager
def interrupts_are_final() -> Iterator[None]:
    """Wrap an asset body whose op has a retry policy."""
    try:
        yield
    except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt) as interrupt:
        raise dg.Failure(
            description=f"{INTERRUPTED}: the step was stopped; its batch in flight was rolled "
            "back and everything committed before is kept",
            allow_retries=False,
        ) from interrupt
