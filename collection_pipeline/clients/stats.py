"""Thread-safe request counters that the assets report as metadata."""

from __future__ import annotations

import threading
from collections import Counter

from collection_pipeline.domain import RequestCounters


class RequestStats:
    """Counts every HTTP attempt, every retry and every 429 across all worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._retries = 0
        self._rate_limited = 0
        self._by_status: Counter[int] = Counter()

    def record_response(self, status: int) -> None:
        with self._lock:
            self._requests += 1
            self._by_status[status] += 1
            if status == 429:
                self._rate_limited += 1

    def record_failed_attempt(self) -> None:
        """An attempt that got no HTTP response (timeout, connection error)."""
        with self._lock:
            self._requests += 1

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def snapshot(self) -> RequestCounters:
        with self._lock:
            return RequestCounters(
                requests=self._requests,
                retries=self._retries,
                rate_limited=self._rate_limited,
                by_status=dict(self._by_status),
            )

    def since(self, earlier: RequestCounters) -> RequestCounters:
        """Activity after `earlier` (a previous snapshot), e.g. for one service call."""
        now = self.snapshot()
        by_status = {
            code: count - earlier.by_status.get(code, 0)
            for code, count in now.by_status.items()
            if count - earlier.by_status.get(code, 0)
        }
        return RequestCounters(
            requests=now.requests - earlier.requests,
            retries=now.retries - earlier.retries,
            rate_limited=now.rate_limited - earlier.rate_limited,
            by_status=by_status,
        )
