"""Typed errors of the API clients.

Callers decide what to do from the type and `retryable` alone: a retryable error means "try this
step again later" (Dagster retry, next run), a non-retryable one needs a human (credentials, a bad
request). Messages never contain secrets: URLs pass through `redact_url` and tokens only ever live
in request headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collection_pipeline.clients.beatport import BeatportQuery


class ApiError(Exception):
    """Base of every client error."""

    retryable: bool = False


class AuthenticationError(ApiError):
    """Credentials are missing, wrong or expired beyond refresh; the message names the variables."""

    retryable = False


class RateLimitedError(ApiError):
    """The server asked us to wait (`retry_after` seconds, None when it gave no hint).

    Raised instead of sleeping when the wait is beyond the policy's cap (`beyond_cap`), or when
    429s kept coming after the policy's retry budget.
    """

    retryable = True

    def __init__(self, message: str, retry_after: float | None, *, beyond_cap: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.beyond_cap = beyond_cap


class TransientError(ApiError):
    """5xx, 408, timeouts and connection errors that outlasted the retries."""

    retryable = True

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class MalformedResponseError(ApiError):
    """A body that is not the JSON we expect (truncated, invalid, wrong shape)."""

    retryable = True

    def __init__(self, message: str, url: str):
        super().__init__(message)
        self.url = url


class RejectedRequestError(ApiError):
    """A 4xx other than 401/408/429: retrying the same request cannot help."""

    retryable = False

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class IncompleteCrawlError(ApiError):
    """A Beatport query yielded fewer distinct tracks than its `count`, even after re-crawling."""

    retryable = True

    def __init__(self, query: BeatportQuery, expected: int, received: int):
        super().__init__(
            f"Beatport query {query.label} is incomplete: the API counts {expected} tracks, "
            f"{received} distinct tracks were received after re-crawling"
        )
        self.query = query
        self.expected = expected
        self.received = received
