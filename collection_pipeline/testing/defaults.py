"""The shipped defaults, taken from `settings`, for tests and benchmarks that build clients
and the service themselves: the clients and the service have no defaults of their own (a
second copy drifted once: the Beatport client said 8 where the setting said 16), so whoever
builds them without the resources passes these and exercises what a user gets.
"""

from __future__ import annotations

from datetime import timedelta

from collection_pipeline import settings

BEATPORT_CONCURRENCY: int = settings.BEATPORT_CONCURRENCY.default_value()
SPOTIFY_CONCURRENCY: int = settings.SPOTIFY_CONCURRENCY.default_value()
NOT_FOUND_TTL = timedelta(days=settings.NOT_FOUND_TTL_DAYS.default_value())
GENRE_IDS: tuple[int, ...] = tuple(settings.GENRE_IDS.default_value())
