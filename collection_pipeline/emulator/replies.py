"""Response values and the exact error bodies of both services.

Handlers return a Reply (status, body bytes, headers) rather than a framework response, so the
fault layer can truncate or replace it, and hot responses can be cached as bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class CachedReplies(Protocol):
    """Finished replies by request key (the emulator's ReplyCache), as the routes use them."""

    def get(self, key: Any) -> Reply | None: ...

    def put(self, key: Any, reply: Reply) -> None: ...


def encode(document: Any) -> bytes:
    """Compact UTF-8 JSON in insertion order: identical bytes in every process."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def json_reply(status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, encode(document), headers or {})


def beatport_detail(status: int, detail: str, headers: dict[str, str] | None = None) -> Reply:
    """Django REST Framework's error shape, as Beatport returns it."""
    return json_reply(status, {"detail": detail}, headers)


def spotify_error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """The Web API's regular error object."""
    return json_reply(status, {"error": {"status": status, "message": message}}, headers)


def oauth_error(status: int, error: str, description: str | None = None) -> Reply:
    """OAuth 2 token-endpoint errors (RFC 6749 section 5.2), used by both services."""
    document = {"error": error}
    if description is not None:
        document["error_description"] = description
    return json_reply(status, document)


BEATPORT_NO_CREDENTIALS = beatport_detail(
    401,
    "Authentication credentials were not provided.",
    {"WWW-Authenticate": 'Bearer realm="api"'},
)
BEATPORT_INVALID_TOKEN = beatport_detail(
    401, "Invalid token.", {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'}
)
BEATPORT_INVALID_PAGE = beatport_detail(404, "Invalid page.")
BEATPORT_NOT_FOUND = beatport_detail(404, "Not found.")
SPOTIFY_NO_TOKEN = spotify_error(401, "No token provided")
SPOTIFY_INVALID_TOKEN = spotify_error(401, "Invalid access token")
SPOTIFY_EXPIRED_TOKEN = spotify_error(401, "The access token expired")
SERVER_ERRORS = (
    spotify_error(500, "Server error."),
    json_reply(502, {"error": {"status": 502, "message": "Bad gateway."}}),
    spotify_error(503, "Service unavailable"),
)
BEATPORT_SERVER_ERRORS = (
    beatport_detail(500, "A server error occurred."),
    Reply(
        502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {"content-type": "text/html"}
    ),
    beatport_detail(503, "Service temporarily unavailable, try again later."),
)


def empty_search_page(query: str, kind: str, limit: int, offset: int) -> dict[str, Any]:
    """Spotify's paging object of a search with no results, `href` echoing the query."""
    return {
        "href": f"https://api.spotify.com/v1/search?query={quote(query, safe='')}&type={kind}"
        f"&offset={offset}&limit={limit}",
        "items": [],
        "limit": limit,
        "next": None,
        "offset": offset,
        "previous": None,
        "total": 0,
    }
