"""Spotify Web API endpoints: client-credentials token, ISRC search, one track."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request

from collection_pipeline.emulator.malformed import bare_paging_object
from collection_pipeline.emulator.replies import (
    CachedReplies,
    Reply,
    empty_search_page,
    encode,
    json_reply,
    oauth_error,
    spotify_error,
)
from collection_pipeline.emulator.requests import basic_credentials, form_fields

if TYPE_CHECKING:
    from collection_pipeline.emulator.config import EmulatorConfig
    from collection_pipeline.emulator.malformed import EnvelopeFaults
    from collection_pipeline.emulator.spotify_catalogue import SpotifyCatalogue
    from collection_pipeline.emulator.state import TokenStore

SEARCH_TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
ISRC_TERM = re.compile(r"isrc:\s*([A-Za-z0-9-]+)", re.IGNORECASE)
MAX_OFFSET = 1000


class SpotifyEmulator(Protocol):
    """What the Spotify routes read of the emulator (app.Emulator has it all)."""

    @property
    def config(self) -> EmulatorConfig: ...
    @property
    def spotify(self) -> SpotifyCatalogue: ...
    @property
    def spotify_tokens(self) -> TokenStore: ...
    @property
    def envelope_faults(self) -> EnvelopeFaults: ...
    @property
    def search_cache(self) -> CachedReplies: ...


async def token(emulator: SpotifyEmulator, request: Request, fault: str | None) -> Reply:
    """POST /api/token with HTTP Basic (or form) client credentials."""
    fields = await form_fields(request)
    grant = fields.get("grant_type")
    if not grant:
        return oauth_error(400, "unsupported_grant_type", "grant_type parameter is missing")
    if grant != "client_credentials":
        return oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be client_credentials, authorization_code or refresh_token",
        )
    basic = basic_credentials(request)
    client_id, secret = basic or (fields.get("client_id", ""), fields.get("client_secret", ""))
    if not client_id or not secret:
        return oauth_error(400, "invalid_client", "Invalid client")
    expected = emulator.config.credentials or {}
    if ("spotify_client_id" in expected and client_id != expected["spotify_client_id"]) or (
        "spotify_client_secret" in expected and secret != expected["spotify_client_secret"]
    ):
        return oauth_error(400, "invalid_client", "Invalid client")
    store = emulator.spotify_tokens
    return json_reply(
        200,
        {
            "access_token": store.issue(),
            "token_type": "Bearer",
            "expires_in": round(store.lifetime_s),
        },
    )


def search(emulator: SpotifyEmulator, request: Request, fault: str | None) -> Reply:
    """GET /v1/search?q=isrc:X&type=track[&limit&offset]; responses cached as bytes."""
    raw_query = request.url.query
    if emulator.envelope_faults.strike(raw_query):
        return Reply(200, encode(bare_paging_object(request.query_params)))
    cached = emulator.search_cache.get(raw_query)
    if cached is not None:
        return cached
    reply = _search(emulator, request)
    emulator.search_cache.put(raw_query, reply)
    return reply


def _search(emulator: SpotifyEmulator, request: Request) -> Reply:
    params = request.query_params
    query = params.get("q")
    if not query:
        return spotify_error(400, "No search query")
    type_value = params.get("type")
    if not type_value:
        return spotify_error(400, "Missing parameter type")
    types = [part.strip() for part in type_value.split(",")]
    if any(part not in SEARCH_TYPES for part in types):
        return spotify_error(400, "Bad search type field " + type_value)
    limit_value, offset_value = params.get("limit", "20"), params.get("offset", "0")
    if not limit_value.isdigit() or not 0 < int(limit_value) <= emulator.config.search_limit_max:
        return spotify_error(400, "Invalid limit")
    if not offset_value.isdigit() or int(offset_value) > MAX_OFFSET:
        return spotify_error(400, "Invalid offset")
    limit, offset = int(limit_value), int(offset_value)
    match = ISRC_TERM.search(query)
    isrc = re.sub(r"[\s\-]", "", match.group(1)).upper() if match else None
    document: dict[str, object] = {}
    for kind in types:
        if kind == "track":
            document.update(
                emulator.spotify.search_json(query, isrc, limit, offset, emulator.config.devmode)
            )
        else:
            document[f"{kind}s"] = empty_search_page(query, kind, limit, offset)
    return Reply(200, encode(document))


def get_track(emulator: SpotifyEmulator, request: Request, fault: str | None) -> Reply:
    """GET /v1/tracks/{id}."""
    spotify_id = request.path_params["track_id"]
    if not re.fullmatch(r"[0-9A-Za-z]{22}", spotify_id):
        return spotify_error(400, "Invalid base62 id")
    candidate = emulator.spotify.by_id(spotify_id)
    if candidate is None:
        return spotify_error(404, "Resource not found")
    return Reply(200, encode(emulator.spotify.track_json(candidate, emulator.config.devmode)))
