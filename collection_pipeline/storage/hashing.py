"""Canonical JSON and content hashes: the basis of change detection and fingerprints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from collection_pipeline.storage.types import SerializedJSON


def canonical_json(payload: Any) -> SerializedJSON:
    """Key-sorted, compact JSON: equal content always gives equal text (and hash)."""
    return SerializedJSON(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    )


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
