"""Real PostgreSQL outages of one database, for the outage tests and `bench.bench_outage`.

The outage is real: an admin connection forbids new connections to the database
(`ALTER DATABASE ... ALLOW_CONNECTIONS false`) and terminates every backend it has, so the
transaction in flight dies and every pooled connection goes stale, as in a server restart or a
failover. It starts at a chosen write of the step under test (`StepTrigger`), and ends either
on the wall clock (`WallClockOutage`) or when an injected clock says it has lasted long enough
(`OutageDuringStep`, which lets a test play a 60 s outage in milliseconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from collection_pipeline.storage import Database, OutagePolicy
from collection_pipeline.storage.outage import DEFAULT_DEADLINE_S

STEP_TABLES = {"collect": "external_data", "process": "tracks", "enrich": "spotify_track_matches"}
"""The table each step writes its units of work into: an INSERT there is mid-step."""


class Outage:
    """Refuses and kills connections to one database from an admin connection."""

    def __init__(self, admin_url: str, database_url: str) -> None:
        self.name = sa.make_url(database_url).database
        self._admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def begin(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
        self.terminate_backends()

    def terminate_backends(self, *, wait: bool = True) -> None:
        """Kill every session on the database (and, with `wait`, wait until they are gone)."""
        query = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"
        )
        remaining = "SELECT count(*) FROM pg_stat_activity WHERE datname = :name"
        with self._admin.connect() as conn:
            conn.execute(sa.text(query), {"name": self.name})
            if not wait:
                return
            deadline = time.monotonic() + 5
            while conn.execute(sa.text(remaining), {"name": self.name}).scalar_one():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"backends of {self.name} survived pg_terminate_backend")
                time.sleep(0.01)

    def end(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def close(self) -> None:
        self.end()
        self._admin.dispose()


def _is_insert_into(statement: str, table: str) -> bool:
    return statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} ")


class StepTrigger:
    """Calls `action` once, at the `at_write`-th INSERT into the step's table.

    It listens on every engine of the process connected to the database, so it also fires
    inside the engine a Dagster run's resource creates. `action` runs inside the statement's
    execution: an action that kills the connection makes that very statement fail.
    """

    def __init__(
        self, database: str, step: str, action: Callable[[], None], *, at_write: int = 2
    ) -> None:
        self._database = database
        self._table = STEP_TABLES[step]
        self._action = action
        self._at_write = at_write
        self._writes = 0
        self.fired_at: float | None = None

    def _before_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.fired_at is not None or conn.engine.url.database != self._database:
            return
        if not _is_insert_into(statement, self._table):
            return
        self._writes += 1
        if self._writes == self._at_write:
            self.fired_at = time.monotonic()
            self._action()

    def __enter__(self) -> StepTrigger:
        sa.event.listen(sa.Engine, "before_cursor_execute", self._before_execute)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sa.event.remove(sa.Engine, "before_cursor_execute", self._before_execute)


class WallClockOutage(StepTrigger):
    """A real outage of `duration_s` on the wall clock, from the `at_write`-th write of `step`."""

    def __init__(self, outage: Outage, step: str, duration_s: float, *, at_write: int = 2) -> None:
        super().__init__(outage.name or "", step, self._begin, at_write=at_write)
        self._outage = outage
        self._ended = threading.Timer(duration_s, self._end)
        self.ended_at: float | None = None

    def _begin(self) -> None:
        self._outage.begin()
        self._ended.start()

    def _end(self) -> None:
        self._outage.end()
        self.ended_at = time.monotonic()

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)
        self._ended.cancel()
        self._outage.end()


class KillBurst(StepTrigger):
    """A restart-like burst: every session killed `kills` times over `seconds` (connections
    still accepted in between), as while a server restarts or a proxy fails over."""

    def __init__(self, outage: Outage, step: str, *, seconds: float = 3.0, kills: int = 30) -> None:
        super().__init__(outage.name or "", step, self._start, at_write=1)
        self._outage = outage
        self._seconds = seconds
        self._kills = kills
        self._thread = threading.Thread(target=self._burst, daemon=True)
        self.kills = 0

    def _start(self) -> None:
        self._thread.start()

    def _burst(self) -> None:
        for _ in range(self._kills):
            self._outage.terminate_backends(wait=False)
            self.kills += 1
            time.sleep(self._seconds / self._kills)

    def join(self) -> None:
        """Wait for the burst to end (it runs beside the work it disturbs)."""
        if self._thread.is_alive():
            self._thread.join(self._seconds + 10)


class OutageDuringStep:
    """Starts an outage at the n-th write statement once armed; ends it after `duration_s`
    of the injected clock, which moves only when a unit of work backs off."""

    def __init__(self, db: Database, outage: Outage) -> None:
        self._outage = outage
        self._lock = threading.Lock()
        self.now = 0.0
        self._armed_at: int | None = None
        self._writes = 0
        self._duration_s = 0.0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        sa.event.listen(db.engine, "before_cursor_execute", self._before_execute)

    def policy(self, deadline_s: float = DEFAULT_DEADLINE_S) -> OutagePolicy:
        return OutagePolicy(deadline_s=deadline_s, clock=self.clock, sleep=self.sleep)

    def arm(self, *, at_write: int, duration_s: float) -> None:
        self._armed_at, self._writes, self._duration_s = at_write, 0, duration_s

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            over = self.started_at is not None and self.ended_at is None
            if over and self.now - self.started_at >= self._duration_s:
                self._outage.end()
                self.ended_at = self.now
        time.sleep(0.002)  # let the other thread (the read-ahead) interleave

    def _before_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self._armed_at is None or not statement.lstrip().upper().startswith(("INSERT", "UP")):
            return
        self._writes += 1
        if self._writes == self._armed_at:
            self._armed_at = None
            with self._lock:
                self.started_at = self.now
            self._outage.begin()  # kills this very connection: the statement fails
