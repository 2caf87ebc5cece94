"""The emulator's ASGI application: routing plus the request pipeline every API call goes through.

Pipeline, in the order the real services apply it: latency -> authentication -> Spotify rate
limiting -> injected faults -> handler -> truncation -> statistics. Handlers stay pure functions
of (catalogue, request); everything stateful lives on the Emulator instance.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collection_pipeline.emulator import beatport_api, control_api, spotify_api
from collection_pipeline.emulator.catalogue import BeatportCatalogue, DriftLog, MoveLog, Oversized
from collection_pipeline.emulator.config import EmulatorConfig
from collection_pipeline.emulator.malformed import BAD_ENVELOPE_RATE, EnvelopeFaults
from collection_pipeline.emulator.reference_data import GENRES_BY_ID
from collection_pipeline.emulator.replies import (
    BEATPORT_INVALID_TOKEN,
    BEATPORT_NO_CREDENTIALS,
    BEATPORT_SERVER_ERRORS,
    SERVER_ERRORS,
    SPOTIFY_EXPIRED_TOKEN,
    SPOTIFY_INVALID_TOKEN,
    SPOTIFY_NO_TOKEN,
    Reply,
    beatport_detail,
    spotify_error,
)
from collection_pipeline.emulator.requests import bearer_token
from collection_pipeline.emulator.spotify_catalogue import SpotifyCatalogue
from collection_pipeline.emulator.state import (
    Clock,
    FaultPlan,
    RollingWindow,
    Stats,
    TokenStore,
    monotonic,
)

Handler = Callable[["Emulator", Request, str | None], Reply | Awaitable[Reply]]
CACHE_BYTES = 32 * 1024 * 1024  # per response cache; dropped wholesale when full
BEATPORT_ROUTES = {
    "/v4/auth/o/token/": "beatport.token",
    "/v4/catalog/tracks/": "beatport.tracks",
    "/v4/catalog/genres/": "beatport.genres",
}


class ReplyCache:
    """Finished replies by request key, so a repeated request costs one dict lookup.

    Bounded by body bytes; when full it is simply emptied (cheaper than LRU bookkeeping on the
    hot path, and a pipeline run rarely repeats a request anyway).
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.used = 0
        self.entries: dict[Any, Reply] = {}

    def get(self, key: Any) -> Reply | None:
        return self.entries.get(key)

    def put(self, key: Any, reply: Reply) -> None:
        if self.used + len(reply.body) > self.budget:
            self.entries.clear()
            self.used = 0
        self.entries[key] = reply
        self.used += len(reply.body)


class Emulator:
    """Catalogues, tokens, statistics, the rate-limit window and the fault plan of one server."""

    def __init__(self, config: EmulatorConfig, clock: Clock = monotonic) -> None:
        self.config = config
        self.clock = clock
        self.beatport = BeatportCatalogue(
            config.seed,
            config.tracks_per_day,
            config.catalogue_revision,
            oversized=_oversized(config),
            drift=DriftLog(config.effective_drift_per_block),
            moves=MoveLog(config.effective_moves_per_block),
        )
        self.spotify = SpotifyCatalogue(self.beatport, messy=config.messy)
        self.envelope_faults = EnvelopeFaults(config.seed, BAD_ENVELOPE_RATE * config.messy)
        self.stats = Stats()
        self.beatport_tokens = TokenStore(
            config.seed, "beatport", config.beatport_token_lifetime_s, clock
        )
        self.spotify_tokens = TokenStore(
            config.seed, "spotify", config.spotify_token_lifetime_s, clock
        )
        limit = config.effective_rate_limit
        self.window = RollingWindow(limit, clock) if limit is not None else None
        self.faults = FaultPlan(config.seed, config.effective_faults)
        self.faulty = config.effective_faults.any()
        self.latency_rng = random.Random(config.seed)
        self.search_cache = ReplyCache(CACHE_BYTES)
        self.listing_cache = ReplyCache(CACHE_BYTES)

    def reset(self) -> None:
        self.stats = Stats()
        if self.window is not None:
            self.window.reset()
        self.faults.reset()
        self.envelope_faults.reset()

    # ---- pipeline stages ------------------------------------------------------------------
    def latency_s(self, route: str) -> float:
        config = self.config
        base = config.latency_ms
        if config.route_latency_ms and route in config.route_latency_ms:
            base = config.route_latency_ms[route]
        if base <= 0:
            return 0.0
        jitter = config.latency_jitter
        return base / 1000 * self.latency_rng.uniform(1 - jitter, 1 + jitter)

    def beatport_auth(self, request: Request, route: str) -> Reply | None:
        token = bearer_token(request)
        if token is None:
            return BEATPORT_NO_CREDENTIALS
        if token == "":
            return beatport_detail(401, "Invalid token header. No credentials provided.")
        status = self.beatport_tokens.status(token)
        expected = (self.config.credentials or {}).get("beatport_access_token")
        if status in ("expired", "revoked"):
            return BEATPORT_INVALID_TOKEN
        if status == "foreign" and expected is not None and token != expected:
            return BEATPORT_INVALID_TOKEN
        if route == "beatport.tracks" and self.faulty and self.faults.beatport_revoke_now():
            self.beatport_tokens.revoked.add(token)
            return BEATPORT_INVALID_TOKEN
        return None

    def spotify_auth(self, request: Request) -> Reply | None:
        token = bearer_token(request)
        if token is None:
            return SPOTIFY_NO_TOKEN
        if token == "":
            return SPOTIFY_INVALID_TOKEN
        status = self.spotify_tokens.status(token)
        if status == "ok":
            return None
        if status == "expired":
            return SPOTIFY_EXPIRED_TOKEN
        if status == "revoked" or self.config.credentials:
            return SPOTIFY_INVALID_TOKEN
        return None

    def spotify_throttle(self) -> Reply | None:
        if self.config.profile == "penalty":
            return _too_many(self.config.penalty_retry_after_s)
        if self.window is not None:
            retry_after = self.window.admit()
            if retry_after is not None:
                return _too_many(retry_after)
        if self.faulty:
            retry_after = self.faults.burst_429()
            if retry_after is not None:
                return _too_many(retry_after)
        return None

    async def handle(
        self, request: Request, route: str, service: str, handler: Handler, api: bool
    ) -> Response:
        delay = self.latency_s(route)
        if delay:
            await asyncio.sleep(delay)
        reply = await self._reply(request, route, service, handler, api)
        if service != "control":
            self.stats.record(route, reply.status)
        return Response(reply.body, reply.status, reply.headers, media_type="application/json")

    async def _reply(
        self, request: Request, route: str, service: str, handler: Handler, api: bool
    ) -> Reply:
        if api:
            denied = (
                self.beatport_auth(request, route)
                if service == "beatport"
                else self.spotify_auth(request)
            )
            if denied is not None:
                return denied
            if service == "spotify":
                throttled = self.spotify_throttle()
                if throttled is not None:
                    return throttled
        fault = None
        if self.faulty and api:  # data routes only: token endpoints stay reliable
            key = f"{request.method} {request.url.path}?{request.url.query}"
            fault = self.faults.decide(route, key, shiftable=route == "beatport.tracks")
            if fault == "server_error":
                errors = BEATPORT_SERVER_ERRORS if service == "beatport" else SERVER_ERRORS
                return errors[self.faults.attempts[key] % len(errors)]
            if fault == "slow":
                await asyncio.sleep(self.config.effective_faults.slow_delay_s)
        result = handler(self, request, fault)
        reply = await result if inspect.isawaitable(result) else result
        if fault == "truncated" and reply.status == 200:
            return Reply(200, reply.body[: len(reply.body) // 2], reply.headers)
        return reply


def _oversized(config: EmulatorConfig) -> Oversized | None:
    """The over-cap genre-day of the config, if it has one."""
    size = config.effective_overcap_tracks
    if size <= config.tracks_per_day or config.overcap_genre_id not in GENRES_BY_ID:
        return None
    return Oversized(config.overcap_day, GENRES_BY_ID[config.overcap_genre_id].slot, size)


def _too_many(retry_after: int) -> Reply:
    reply = spotify_error(429, "API rate limit exceeded")
    return Reply(429, reply.body, {"Retry-After": str(retry_after)})


def create_app(config: EmulatorConfig | None = None, clock: Clock = monotonic) -> Starlette:
    """The ASGI app serving Beatport (/v4), Spotify (/api/token, /v1) and /_emulator.

    `clock` drives token lifetimes and the rate window, so tests can expire a token by moving
    time instead of sleeping past a lifetime.
    """
    emulator = Emulator(config or EmulatorConfig(), clock)

    def endpoint(route: str, service: str, handler: Handler, *, api: bool = True) -> Any:
        async def run(request: Request) -> Response:
            return await emulator.handle(request, route, service, handler, api)

        return run

    async def beatport_fallback(request: Request) -> Response:
        """Django's APPEND_SLASH: 301 to the slash path; otherwise DRF's 404."""
        path = request.url.path
        if not path.endswith("/"):
            location = path + "/" + (f"?{request.url.query}" if request.url.query else "")
            route = _beatport_route_for(path + "/")
            emulator.stats.record(route, 301)
            return Response(b"", 301, {"Location": location})
        emulator.stats.record("beatport.unknown", 404)
        return Response(b'{"detail":"Not found."}', 404, media_type="application/json")

    async def spotify_fallback(request: Request) -> Response:
        emulator.stats.record("spotify.unknown", 404)
        body = b'{"error":{"status":404,"message":"Service not found"}}'
        return Response(body, 404, media_type="application/json")

    routes = [
        Route("/v4/auth/o/token/", endpoint("beatport.token", "beatport", beatport_api.token,
              api=False), methods=["POST"]),
        Route("/v4/catalog/tracks/", endpoint("beatport.tracks", "beatport",
              beatport_api.list_tracks), methods=["GET"]),
        Route("/v4/catalog/tracks/{track_id:int}/", endpoint("beatport.track", "beatport",
              beatport_api.get_track), methods=["GET"]),
        Route("/v4/catalog/genres/", endpoint("beatport.genres", "beatport",
              beatport_api.list_genres), methods=["GET"]),
        Route("/v4/{rest:path}", beatport_fallback, methods=["GET", "POST"]),
        Route("/api/token", endpoint("spotify.token", "spotify", spotify_api.token, api=False),
              methods=["POST"]),
        Route("/v1/search", endpoint("spotify.search", "spotify", spotify_api.search),
              methods=["GET"]),
        Route("/v1/tracks/{track_id}", endpoint("spotify.track", "spotify",
              spotify_api.get_track), methods=["GET"]),
        Route("/v1/{rest:path}", spotify_fallback, methods=["GET", "POST"]),
        Route("/_emulator/stats", endpoint("control.stats", "control", control_api.stats,
              api=False), methods=["GET"]),
        Route("/_emulator/reset", endpoint("control.reset", "control", control_api.reset,
              api=False), methods=["POST"]),
        Route("/_emulator/truth", endpoint("control.truth", "control", control_api.truth,
              api=False), methods=["GET"]),
    ]  # fmt: skip
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False
    app.state.emulator = emulator
    return app


def _beatport_route_for(path: str) -> str:
    if path in BEATPORT_ROUTES:
        return BEATPORT_ROUTES[path]
    if path.startswith("/v4/catalog/tracks/"):
        return "beatport.track"
    return "beatport.unknown"
