"""Typed errors of the API clients.

Callers decide what to do from the type and `retryable` alone: a retryable error means "try this
step again later" (Dagster retry, next run), a non-retryable one needs a human (credentials, a bad
request). Messages never contain secrets: URLs pass through `redact_url` and tokens only ever live
in request headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collection_pipeline.clients.beatport_query import QueryOutcome


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
    """A Beatport query stayed short of its `count` or failed; the message names the query,
    the count and what arrived. Crawls report this per query (QueryOutcome) instead of raising;
    `BeatportAPIClient.get_tracks` raises it for callers that want all or nothing."""

    retryable = True

    def __init__(self, outcome: QueryOutcome):
        super().__init__(outcome.reason or f"Beatport query {outcome.query.label} is incomplete")
        self.outcome = outcome
        self.query = outcome.query
        self.expected = outcome.count
        self.received = outcome.received
