"""The shared HTTP policy on httpx.MockTransport: retries, backoff, Retry-After, 401, bodies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from collection_pipeline.clients.errors import (
    AuthenticationError,
    MalformedResponseError,
    RateLimitedError,
    RejectedRequestError,
    TransientError,
)
from collection_pipeline.clients.policy import (
    HttpPolicy,
    PolicySender,
    parse_retry_after,
    redact_url,
)
from collection_pipeline.clients.stats import RequestStats

URL = "https://api.example.test/v1/thing"


class FakeToken:
    """A token source that hands out tok-1, tok-2, ... on each refresh."""

    def __init__(self) -> None:
        self.generation = 1
        self.refreshes = 0

    def token(self) -> str:
        return f"tok-{self.generation}"

    def refresh(self, stale: str) -> None:
        self.refreshes += 1
        if stale == self.token():
            self.generation += 1

    def rejected_message(self) -> str:
        return "rejected; check EXAMPLE_TOKEN"

    def secrets(self) -> tuple[str, ...]:
        return (self.token(),)


def make_sender(
    handler: Callable[[httpx.Request], httpx.Response], **policy: float
) -> tuple[PolicySender, list[float]]:
    sleeps: list[float] = []
    sender = PolicySender(
        httpx.Client(transport=httpx.MockTransport(handler)),
        HttpPolicy(**policy),  # type: ignore[arg-type]
        RequestStats(),
        sleep=sleeps.append,
        rng=lambda low, high: high,  # the top of each jitter range, to check the ceilings
    )
    return sender, sleeps


def scripted(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


def test_5xx_and_connect_errors_are_retried_with_exponential_full_jitter_backoff() -> None:
    sender, sleeps = make_sender(
        scripted(
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.Response(408),
            httpx.Response(200, json={"ok": True}),
        )
    )
    assert sender.request_json("GET", URL) == {"ok": True}
    assert sleeps == [0.5, 1.0, 2.0]
    counters = sender.stats.snapshot()
    assert counters.requests == 4
    assert counters.retries == 3
    assert counters.by_status == {503: 1, 408: 1, 200: 1}


def test_full_jitter_draws_between_zero_and_the_capped_ceiling() -> None:
    policy = HttpPolicy(backoff_base=1.0, backoff_max=5.0)
    ranges: list[tuple[float, float]] = []

    def rng(low: float, high: float) -> float:
        ranges.append((low, high))
        return low

    for retry in (1, 2, 3, 4, 5):
        assert policy.backoff(retry, rng) == 0.0
    assert ranges == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 5.0), (0.0, 5.0)]


def test_errors_outlasting_the_retries_raise_transient_error() -> None:
    sender, sleeps = make_sender(lambda request: httpx.Response(502), max_attempts=3)
    with pytest.raises(TransientError, match="502") as caught:
        sender.request_json("GET", URL)
    assert caught.value.retryable
    assert len(sleeps) == 2


def test_retry_after_within_the_cap_is_honoured() -> None:
    sender, sleeps = make_sender(
        scripted(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=[]))
    )
    assert sender.request_json("GET", URL) == []
    assert sleeps == [7.0]
    assert sender.stats.snapshot().rate_limited == 1


def test_retry_after_zero_means_no_hint_and_falls_back_to_backoff() -> None:
    sender, sleeps = make_sender(
        scripted(httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json=[]))
    )
    sender.request_json("GET", URL)
    assert sleeps == [0.5]


def test_retry_after_beyond_the_cap_raises_at_once_instead_of_sleeping() -> None:
    sender, sleeps = make_sender(
        lambda request: httpx.Response(429, headers={"Retry-After": "3600"}),
        retry_after_cap=120,
    )
    with pytest.raises(RateLimitedError) as caught:
        sender.request_json("GET", URL)
    assert sleeps == []
    assert caught.value.retry_after == 3600
    assert caught.value.beyond_cap
    assert caught.value.retryable
    assert "3600" in str(caught.value)


def test_401_refreshes_the_token_once_and_retries() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer tok-1":
            return httpx.Response(401)
        return httpx.Response(200, json={"ok": 1})

    sender, _ = make_sender(handler)
    auth = FakeToken()
    assert sender.request_json("GET", URL, auth=auth) == {"ok": 1}
    assert seen == ["Bearer tok-1", "Bearer tok-2"]
    assert auth.refreshes == 1


def test_401_after_a_refresh_is_an_authentication_error_not_retried() -> None:
    sender, sleeps = make_sender(lambda request: httpx.Response(401))
    auth = FakeToken()
    with pytest.raises(AuthenticationError, match="EXAMPLE_TOKEN"):
        sender.request_json("GET", URL, auth=auth)
    assert auth.refreshes == 1
    assert sleeps == []
    assert sender.stats.snapshot().requests == 2


def test_malformed_json_is_retried_then_named_with_the_url_without_secrets() -> None:
    sender, sleeps = make_sender(
        lambda request: httpx.Response(200, content=b'{"tracks": {"items": ['), max_attempts=3
    )
    url = "https://user:hunter2@api.example.test/v1/thing?q=isrc:X&access_token=hunter3"
    with pytest.raises(MalformedResponseError) as caught:
        sender.request_json("GET", url)
    message = str(caught.value)
    assert "api.example.test/v1/thing" in message
    assert "hunter2" not in message
    assert "hunter3" not in message
    assert "hunter" not in caught.value.url
    assert len(sleeps) == 2


def test_other_4xx_is_rejected_without_retry_and_masks_echoed_secrets() -> None:
    sender, sleeps = make_sender(
        lambda request: httpx.Response(400, json={"error": request.headers["Authorization"]})
    )
    with pytest.raises(RejectedRequestError) as caught:
        sender.request_json("GET", URL, auth=FakeToken())
    assert caught.value.status == 400
    assert not caught.value.retryable
    assert "tok-1" not in str(caught.value)
    assert sleeps == []


def test_rate_limited_attempts_have_their_own_budget() -> None:
    sender, sleeps = make_sender(
        lambda request: httpx.Response(429, headers={"Retry-After": "1"}),
        max_rate_limited_attempts=4,
    )
    with pytest.raises(RateLimitedError) as caught:
        sender.request_json("GET", URL)
    assert not caught.value.beyond_cap
    assert sleeps == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("0", None), ("12", 12.0), ("1.5", 1.5), ("soon", None)],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_accepts_http_dates() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=lambda: 1445412500.0) == 10.0


def test_redact_url_masks_user_info_and_sensitive_parameters() -> None:
    redacted = redact_url("https://me:pw@h.test/p/?refresh_token=abc&page=2&client_secret=s")
    assert redacted == "https://h.test/p/?refresh_token=***&page=2&client_secret=***"
