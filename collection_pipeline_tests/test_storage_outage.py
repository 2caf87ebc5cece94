"""OutagePolicy: which errors are an outage, backoff within the deadline, one clear last line."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from collection_pipeline.domain import DatabaseUnavailableError
from collection_pipeline.storage import OutagePolicy

URL = sa.make_url("postgresql+psycopg2://collector:s3cret@db.internal:5432/catalogue")


class FakeTime:
    """A clock that only moves when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def operational(message: str, *, invalidated: bool = False) -> sa.exc.OperationalError:
    return sa.exc.OperationalError("SELECT 1", {}, Exception(message), invalidated)


REFUSED = 'connection to server at "db.internal" failed: Connection refused'
NOT_ACCEPTING = 'FATAL:  database "catalogue" is not currently accepting connections'


def failing(errors: list[BaseException], value: str = "done"):
    def attempt() -> str:
        if errors:
            raise errors.pop(0)
        return value

    return attempt


def test_retries_an_outage_with_growing_jittered_waits_until_the_database_answers() -> None:
    time = FakeTime()
    policy = OutagePolicy(deadline_s=120, clock=time.clock, sleep=time.sleep)
    errors: list[BaseException] = [operational("server closed the connection", invalidated=True)]
    errors += [operational(NOT_ACCEPTING)] * 8 + [operational(REFUSED)] * 3

    assert policy.call(failing(errors), URL) == "done"

    assert len(time.sleeps) == 12
    assert all(0 < wait <= policy.max_wait_s for wait in time.sleeps)
    assert time.now < 120
    assert len(set(time.sleeps)) > 1  # jittered, not a fixed interval


def test_past_the_deadline_one_line_names_the_database_without_its_password() -> None:
    time = FakeTime()
    policy = OutagePolicy(deadline_s=120, clock=time.clock, sleep=time.sleep)

    with pytest.raises(DatabaseUnavailableError) as raised:
        policy.call(failing([operational(REFUSED)] * 10_000), URL)

    message = str(raised.value)
    assert "\n" not in message
    assert "s3cret" not in message
    assert "postgresql+psycopg2://collector:***@db.internal:5432/catalogue" in message
    assert "unreachable for 120 s" in message
    assert "Connection refused" in message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    assert time.now == pytest.approx(120, abs=0.05)  # the last wait ends on the deadline


@pytest.mark.parametrize(
    "error",
    [
        operational('FATAL:  password authentication failed for user "collector"'),
        operational('FATAL:  database "catalogue" does not exist'),
        sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key value")),
        ValueError("a bug"),
    ],
    ids=["wrong password", "missing database", "constraint", "not a database error"],
)
def test_errors_that_waiting_cannot_fix_fail_at_once(error: BaseException) -> None:
    time = FakeTime()
    policy = OutagePolicy(deadline_s=120, clock=time.clock, sleep=time.sleep)

    with pytest.raises(type(error)):
        policy.call(failing([error]), URL)
    assert time.sleeps == []
