"""Canonical JSON and content hashes: the basis of change detection and fingerprints."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from collection_pipeline.storage.types import SerializedJSON


def canonical_json(payload: Any) -> SerializedJSON:
    """Key-sorted, compact JSON: equal content always gives equal text (and hash)."""
    return SerializedJSON(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    )


NUL = "\x00"
_ESCAPED = re.compile(r"\\([\\0])")


def escape_nul(payload: Any) -> Any | None:
    """`payload` with U+0000 escaped in every string and key, or None when it holds none.

    PostgreSQL refuses the character in `text` and `jsonb`, so a record holding it is stored
    escaped (on both engines alike) with the fact recorded beside it. The escape is reversible
    for any content: a backslash becomes two, U+0000 becomes a backslash and a zero.
    """
    if not _holds_nul(payload):
        return None
    return _map_strings(payload, _escape)


def unescape_nul(payload: Any) -> Any:
    """The payload `escape_nul` was given."""
    return _map_strings(payload, _unescape)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(NUL, "\\0")


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda found: NUL if found.group(1) == "0" else "\\", text)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(NUL in key or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(key): _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


def content_hash(canonical: str) -> str:
    """A 128-bit BLAKE2b hex digest: fast in the standard library, no realistic collisions."""
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def rows_hash(rows: Iterable[Iterable[Any]]) -> str:
    """Order-sensitive hash of rows of plain values (callers sort them by provider ids)."""
    digest = hashlib.blake2b(digest_size=16)
    for row in rows:
        digest.update(json.dumps([_plain(value) for value in row], default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """Floats rounded so the same score computed twice always hashes the same."""
    return round(value, 6) if isinstance(value, float) else value
