"""HTTP clients for Beatport and Spotify, sharing one transport policy (see policy.py)."""

from collection_pipeline.clients.beatport import BeatportAPIClient, BeatportCrawl, BeatportPage
from collection_pipeline.clients.beatport_query import BeatportQuery, QueryOutcome
from collection_pipeline.clients.errors import (
    ApiError,
    AuthenticationError,
    IncompleteCrawlError,
    MalformedResponseError,
    RateLimitedError,
    RejectedRequestError,
    TransientError,
)
from collection_pipeline.clients.pacing import AdaptivePacer
from collection_pipeline.clients.policy import HttpPolicy
from collection_pipeline.clients.spotify import LookupBatch, SpotifyAPIClient, SpotifyCandidate
from collection_pipeline.clients.stats import RequestStats

__all__ = [
    "AdaptivePacer",
    "ApiError",
    "AuthenticationError",
    "BeatportAPIClient",
    "BeatportCrawl",
    "BeatportPage",
    "BeatportQuery",
    "HttpPolicy",
    "IncompleteCrawlError",
    "LookupBatch",
    "MalformedResponseError",
    "QueryOutcome",
    "RateLimitedError",
    "RejectedRequestError",
    "RequestStats",
    "SpotifyAPIClient",
    "SpotifyCandidate",
    "TransientError",
]
