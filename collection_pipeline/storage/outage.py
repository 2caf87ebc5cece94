"""Riding out short database outages: which errors mean "unreachable", and how long to wait.

A managed PostgreSQL restarts or fails over in tens of seconds; a network blip drops pooled
connections. Neither should fail a pipeline step. `OutagePolicy.call` runs one transaction
attempt after another (each attempt rolled back by its unit of work before the next starts)
with exponential backoff and full jitter, until the database answers or the deadline passes.
Only errors that mean the server is unreachable are retried: a constraint violation, a wrong
password or a missing database fail at once, because waiting cannot fix them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy as sa
import tenacity

from collection_pipeline import settings
from collection_pipeline.domain import DatabaseUnavailableError

T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_S: float = settings.DATABASE_OUTAGE_DEADLINE_S.default_value()

UNREACHABLE_MESSAGES = (
    "not currently accepting connections",  # ALTER DATABASE ... ALLOW_CONNECTIONS false
    "Connection refused",
    "could not connect to server",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "terminating connection",
    "server closed the connection",
    "timeout expired",
    "Connection timed out",
    "No route to host",
    "Network is unreachable",
    "too many clients already",
)
"""libpq/server messages of a connection that could not be made or was lost. Anything else
(authentication, a missing database or role, SQL errors) is not an outage."""


def is_unreachable(error: BaseException) -> bool:
    """Does this error mean the server was unreachable (so a later attempt may succeed)?"""
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
        return False
    message = str(error.orig)
    return any(fragment in message for fragment in UNREACHABLE_MESSAGES)


def redacted(url: sa.URL) -> str:
    """The URL as it may appear in logs and errors: the password replaced by ***."""
    return url.render_as_string(hide_password=True)


def first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


@dataclass(frozen=True)
class OutagePolicy:
    """How long a unit of work keeps retrying an unreachable database, and how it waits.

    `clock` and `sleep` are injectable so tests can play a 60 s outage in milliseconds.
    """

    deadline_s: float = DEFAULT_DEADLINE_S
    initial_wait_s: float = 0.5
    max_wait_s: float = 8.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def call(self, attempt: Callable[[], T], database: sa.URL) -> T:
        """`attempt()` until it succeeds, fails for another reason, or the deadline passes."""
        started = self.clock()
        jitter = tenacity.wait_random_exponential(
            multiplier=self.initial_wait_s, max=self.max_wait_s
        )

        def remaining() -> float:
            return self.deadline_s - (self.clock() - started)

        def wait(state: tenacity.RetryCallState) -> float:
            return max(0.01, min(jitter(state), remaining()))

        def stop(state: tenacity.RetryCallState) -> bool:
            return remaining() <= 0

        def warn(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "catalogue database %s unreachable (%s); retrying in %.1f s, %.0f s left",
                redacted(database),
                first_line(error) if error else "?",
                state.upcoming_sleep,
                remaining(),
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_unreachable),
            wait=wait,
            stop=stop,
            sleep=self.sleep,
            before_sleep=warn,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except sa.exc.DBAPIError as exc:
            if not is_unreachable(exc):
                raise
            raise DatabaseUnavailableError(
                f"catalogue database {redacted(database)} unreachable for "
                f"{self.clock() - started:.0f} s (retry deadline {self.deadline_s:.0f} s): "
                f"{first_line(exc)}"
            ) from None


NO_RETRY = OutagePolicy(deadline_s=0.0)
"""One attempt: for work whose loss is harmless (remembering the pacer's rate)."""
