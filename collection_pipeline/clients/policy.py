"""The one transport policy shared by every endpoint of both clients.

`HttpPolicy` says how patient to be; `PolicySender` applies it around `httpx.Client.send`:
timeouts, retries with exponential backoff and full jitter on connection/read errors, 408, 429,
5xx and malformed JSON; `Retry-After` honoured up to a cap (beyond it a RateLimitedError is raised
instead of sleeping); a 401 refreshes the token once and retries; optional pacing; counters.
Endpoints only build requests and parse typed results.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception

from collection_pipeline import settings
from collection_pipeline.clients.errors import (
    ApiError,
    AuthenticationError,
    MalformedResponseError,
    RateLimitedError,
    RejectedRequestError,
    TransientError,
)
from collection_pipeline.clients.pacing import AdaptivePacer, Ticket
from collection_pipeline.clients.stats import RequestStats

logger = logging.getLogger(__name__)

SENSITIVE_QUERY_KEYS = frozenset(
    {"access_token", "refresh_token", "client_secret", "client_id", "token", "code", "password"}
)


@dataclass(frozen=True)
class HttpPolicy:
    """How patient a client is with its server."""

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    """Attempts per request for errors (5xx, 408, timeouts, malformed bodies)."""
    max_rate_limited_attempts: int = 12
    """Attempts per request while the server keeps answering 429 within the cap."""
    backoff_base: float = settings.RETRY_BACKOFF_S.default_value()
    backoff_max: float = 30.0
    retry_after_cap: float = settings.RETRY_AFTER_CAP_S.default_value()

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)

    def backoff(self, retry_number: int, rng: Callable[[float, float], float]) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(n-1))] for the n-th retry."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (retry_number - 1))
        return rng(0.0, ceiling)


class TokenSource(Protocol):
    """What the sender needs from a client's credentials."""

    def token(self) -> str: ...

    def refresh(self, stale: str) -> None:
        """Replace `stale` after a 401; raise AuthenticationError when that is impossible."""

    def rejected_message(self) -> str:
        """Message for a 401 that survived a refresh; names the variables to fix."""

    def secrets(self) -> tuple[str, ...]: ...


def redact_url(url: str | httpx.URL) -> str:
    """The URL without user info and with sensitive query values masked, safe for messages."""
    parts = urlsplit(str(url))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(
        f"{key}=***" if key.lower() in SENSITIVE_QUERY_KEYS else pair
        for pair in parts.query.split("&")
        if pair
        for key in [pair.split("=", 1)[0]]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (seconds or HTTP date); None when it gives no hint."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError):
            return None
    return seconds if seconds > 0 else None


class PolicySender:
    """Sends requests through `client` under `policy`; thread-safe like httpx.Client."""

    def __init__(
        self,
        client: httpx.Client,
        policy: HttpPolicy,
        stats: RequestStats,
        *,
        pacer: AdaptivePacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.client = client
        self.policy = policy
        self.stats = stats
        self.pacer = pacer
        self._sleep = sleep
        self._rng = rng

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: TokenSource | None = None,
        paced: bool = True,
    ) -> Any:
        """The decoded JSON body of a 2xx answer, or a typed ApiError after the policy gave up."""
        rate_limited = 0

        def stop(state: RetryCallState) -> bool:
            nonlocal rate_limited
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RateLimitedError):
                rate_limited += 1
                return rate_limited >= self.policy.max_rate_limited_attempts
            return state.attempt_number - rate_limited >= self.policy.max_attempts

        retrying = Retrying(
            stop=stop,
            wait=lambda state: self._wait(state, paced),
            retry=retry_if_exception(_should_retry),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(
            self._attempt,
            method,
            url,
            params,
            data,
            headers or {},
            auth,
            self.pacer if paced else None,
        )

    # ------------------------------------------------------------------ one attempt

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str],
        auth: TokenSource | None,
        pacer: AdaptivePacer | None,
    ) -> Any:
        refreshed = False
        while True:
            token = auth.token() if auth else None
            request_headers = dict(headers)
            if token is not None:
                request_headers["Authorization"] = f"Bearer {token}"
            request = self.client.build_request(
                method, url, params=params, data=data, headers=request_headers
            )
            response = self._send(request, pacer)
            if response.status_code == 401 and auth is not None and token is not None:
                if not refreshed:
                    refreshed = True
                    self.stats.record_retry()
                    auth.refresh(token)
                    continue
                raise AuthenticationError(auth.rejected_message())
            return self._interpret(request, response, auth)

    def _send(self, request: httpx.Request, pacer: AdaptivePacer | None) -> httpx.Response:
        ticket: Ticket | None = pacer.acquire(self.policy.retry_after_cap) if pacer else None
        try:
            response = self.client.send(request)
            response.read()
        except httpx.TransportError as exc:
            self.stats.record_failed_attempt()
            if pacer and ticket:
                pacer.on_failure(ticket)
            raise TransientError(
                f"{request.method} {redact_url(request.url)} failed: {type(exc).__name__}"
            ) from None
        except BaseException:
            if pacer and ticket:
                pacer.on_failure(ticket)
            raise
        self.stats.record_response(response.status_code)
        if pacer and ticket:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            pacer.on_response(ticket, response.status_code, retry_after)
        return response

    def _interpret(
        self, request: httpx.Request, response: httpx.Response, auth: TokenSource | None
    ) -> Any:
        status = response.status_code
        where = f"{request.method} {redact_url(request.url)}"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            beyond = retry_after is not None and retry_after > self.policy.retry_after_cap
            hint = f"Retry-After {retry_after:.0f} s" if retry_after else "no Retry-After"
            raise RateLimitedError(
                f"{where} was rate limited (429, {hint}"
                + (f", beyond the {self.policy.retry_after_cap:.0f} s cap)" if beyond else ")"),
                retry_after,
                beyond_cap=beyond,
            )
        if status == 401:
            raise AuthenticationError(f"{where} answered 401 Unauthorized")
        if status == 408 or status >= 500:
            raise TransientError(f"{where} answered {status}", status)
        if status >= 400:
            detail = _scrub(response.text[:200], auth)
            raise RejectedRequestError(f"{where} answered {status}: {detail}", status)
        try:
            return json.loads(response.content)
        except ValueError:
            raise MalformedResponseError(
                f"{where} answered {status} with a body that is not valid JSON "
                f"({len(response.content)} bytes, possibly truncated)",
                redact_url(request.url),
            ) from None

    # ------------------------------------------------------------------ retry plumbing

    def _wait(self, state: RetryCallState, paced: bool) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimitedError) and error.retry_after:
            # A pacer already pauses every worker until the hint expires; acquiring waits for it.
            return 0.0 if paced and self.pacer else error.retry_after
        return self.policy.backoff(state.attempt_number, self._rng)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.record_retry()
        error = state.outcome.exception() if state.outcome else None
        logger.debug("retrying after %s (attempt %d)", error, state.attempt_number)


def _should_retry(error: BaseException) -> bool:
    if isinstance(error, RateLimitedError):
        return not error.beyond_cap
    return isinstance(error, ApiError) and error.retryable


def _scrub(text: str, auth: TokenSource | None) -> str:
    """Mask any secret the server might echo back in an error body."""
    if auth is not None:
        for secret in auth.secrets():
            if secret:
                text = text.replace(secret, "***")
    return text
