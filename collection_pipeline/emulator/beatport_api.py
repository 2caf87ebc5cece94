"""Beatport v4 endpoints: OAuth token, track listing, one track, genres."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request

from collection_pipeline.emulator.beatport_listing import (
    QueryError,
    covers,
    move_tracks,
    page_envelope,
    parse_page,
    parse_per_page,
    parse_query,
    plan_listing,
    publish_late_tracks,
    shifted_page,
)
from collection_pipeline.emulator.catalogue import genre_json
from collection_pipeline.emulator.malformed import messy_envelope
from collection_pipeline.emulator.reference_data import GENRES, GENRES_BY_ID
from collection_pipeline.emulator.replies import (
    BEATPORT_INVALID_PAGE,
    BEATPORT_NOT_FOUND,
    BEATPORT_SERVER_ERRORS,
    CachedReplies,
    Reply,
    encode,
    json_reply,
    oauth_error,
)
from collection_pipeline.emulator.requests import basic_credentials, form_fields

if TYPE_CHECKING:
    from collection_pipeline.emulator.catalogue import BeatportCatalogue
    from collection_pipeline.emulator.config import EmulatorConfig
    from collection_pipeline.emulator.state import TokenStore

SCOPE = "app:locker user:dj"
TRACKS_PATH = "/v4/catalog/tracks/"


class BeatportEmulator(Protocol):
    """What the Beatport routes read of the emulator (app.Emulator has it all)."""

    @property
    def config(self) -> EmulatorConfig: ...
    @property
    def beatport(self) -> BeatportCatalogue: ...
    @property
    def beatport_tokens(self) -> TokenStore: ...
    @property
    def listing_cache(self) -> CachedReplies: ...


async def token(emulator: BeatportEmulator, request: Request, fault: str | None) -> Reply:
    """POST /v4/auth/o/token/ as django-oauth-toolkit answers it, for all four grant types."""
    fields = await form_fields(request)
    basic = basic_credentials(request)
    client_id = fields.get("client_id") or (basic[0] if basic else "")
    client_secret = fields.get("client_secret") or (basic[1] if basic else "")
    grant = fields.get("grant_type", "")
    expected = emulator.config.credentials or {}
    if grant not in ("refresh_token", "client_credentials", "password", "authorization_code"):
        return oauth_error(400, "unsupported_grant_type")
    if not client_id and grant != "refresh_token":
        return oauth_error(401, "invalid_client")
    if (
        "beatport_client_id" in expected
        and client_id
        and client_id != expected["beatport_client_id"]
    ):
        return oauth_error(401, "invalid_client")
    if (
        grant == "client_credentials"
        and "beatport_client_secret" in expected
        and (client_secret != expected["beatport_client_secret"])
    ):
        return oauth_error(401, "invalid_client")
    if grant == "refresh_token":
        refresh = fields.get("refresh_token", "")
        if not refresh:
            return oauth_error(400, "invalid_request", "Missing refresh token parameter.")
        if "beatport_refresh_token" in expected and refresh != expected["beatport_refresh_token"]:
            return oauth_error(400, "invalid_grant")
    if grant == "password" and not (fields.get("username") and fields.get("password")):
        return oauth_error(400, "invalid_grant", "Invalid credentials given.")
    if grant == "authorization_code" and not fields.get("code"):
        return oauth_error(400, "invalid_request", "Missing code parameter.")
    store = emulator.beatport_tokens
    access = store.issue()
    return json_reply(
        200,
        {
            "access_token": access,
            "expires_in": int(store.lifetime_s),
            "token_type": "Bearer",
            "scope": SCOPE,
            "refresh_token": f"r{access[1:]}",
        },
        {"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def list_tracks(emulator: BeatportEmulator, request: Request, fault: str | None) -> Reply:
    """GET /v4/catalog/tracks/ with the real filters, envelope and paging errors.

    In `drift`, a request for a page after the first first publishes late tracks into its window
    and moves some of its tracks to another of its days, as the real catalogue does while a client
    pages it; `failing_genre_day` makes every listing
    that could include that genre-day answer 503.
    """
    host = request.headers.get("host", "api.beatport.com")
    params = request.query_params
    try:
        query = parse_query(params)
    except QueryError as error:
        return json_reply(400, error.body)
    page = parse_page(params.get("page"))
    if page is None:
        return BEATPORT_INVALID_PAGE
    failing = emulator.config.failing_genre_day
    if (
        failing is not None
        and failing[0] in GENRES_BY_ID
        and covers(query, GENRES_BY_ID[failing[0]].slot, failing[1])
    ):
        return BEATPORT_SERVER_ERRORS[2]
    catalogue = emulator.beatport
    if page > 1:
        publish_late_tracks(catalogue, query, emulator.config.drift_per_request)
        move_tracks(catalogue, query, emulator.config.moves_per_request)
    cache_key = (host, request.url.query, catalogue.version)
    shift = fault == "page_shift"
    if not shift:
        cached = emulator.listing_cache.get(cache_key)
        if cached is not None:
            return cached
    per_page = parse_per_page(params.get("per_page"))
    try:
        listing = plan_listing(catalogue, query)
    except QueryError as error:
        return json_reply(400, error.body)
    cap = emulator.config.count_cap
    envelope = page_envelope(
        listing, page, per_page, cap, f"{host}{TRACKS_PATH}", params.multi_items()
    )
    if envelope is None:
        return BEATPORT_INVALID_PAGE
    if shift and page > 1:
        shifted = shifted_page(listing, page, per_page, envelope)
        return Reply(200, encode(messy_envelope(emulator.config, shifted)))
    reply = Reply(200, encode(messy_envelope(emulator.config, envelope)))
    emulator.listing_cache.put(cache_key, reply)
    return reply


def get_track(emulator: BeatportEmulator, request: Request, fault: str | None) -> Reply:
    """GET /v4/catalog/tracks/{id}/."""
    slot = emulator.beatport.slot_for_id(request.path_params["track_id"])
    if slot is None:
        return BEATPORT_NOT_FOUND
    return Reply(200, encode(emulator.beatport.track_at(slot)))


def list_genres(emulator: BeatportEmulator, request: Request, fault: str | None) -> Reply:
    """GET /v4/catalog/genres/ (paginated like every Beatport listing)."""
    params = request.query_params
    page = parse_page(params.get("page"))
    per_page = parse_per_page(params.get("per_page"))
    genres = [genre_json(genre) for genre in sorted(GENRES, key=lambda g: g.id)]
    pages = max(1, -(-len(genres) // per_page))
    if page is None or page > pages:
        return BEATPORT_INVALID_PAGE
    host = request.headers.get("host", "api.beatport.com")
    base = f"{host}/v4/catalog/genres/"
    return json_reply(
        200,
        {
            "results": genres[(page - 1) * per_page : page * per_page],
            "next": f"{base}?page={page + 1}&per_page={per_page}" if page < pages else None,
            "previous": f"{base}?page={page - 1}&per_page={per_page}" if page > 1 else None,
            "count": len(genres),
            "page": f"{page}/{pages}",
            "per_page": per_page,
        },
    )
