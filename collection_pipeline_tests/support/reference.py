"""The real API captures in `collection_pipeline_tests/reference/`, and how a response is
compared with one: every key present, every value of the capture's type."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


DOCUMENTED_NULLABLE = ("$.results[].isrc", "$.results[].key", "$.isrc", "$.key")
"""Fields the captures happen to show filled but that the real APIs also return as null:
Beatport has tracks without an ISRC and tracks without a key."""


def shape_errors(reference: Any, actual: Any, path: str = "$") -> list[str]:
    """Where `actual` lacks a key or has another type than `reference` (null matches anything)."""
    if reference is None:
        return []
    if actual is None and re.sub(r"\[[^\]]*\]", "[]", path) in DOCUMENTED_NULLABLE:
        return []
    if isinstance(reference, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected object, got {type(actual).__name__}"]
        errors = []
        for key, value in reference.items():
            if key not in actual:
                errors.append(f"{path}.{key}: missing")
            else:
                errors.extend(shape_errors(value, actual[key], f"{path}.{key}"))
        return errors
    if isinstance(reference, list):
        if not isinstance(actual, list):
            return [f"{path}: expected array, got {type(actual).__name__}"]
        errors = []
        samples = [item for item in reference if item is not None]
        for index, item in enumerate(actual):
            if item is None or not samples:
                continue
            errors.extend(shape_errors(samples[0], item, f"{path}[{index}]"))
        return errors
    expected = (int, float) if isinstance(reference, float) else type(reference)
    if isinstance(reference, int) and not isinstance(reference, bool):
        expected = int
    if type(actual) is bool and expected is not bool:
        return [f"{path}: expected {type(reference).__name__}, got bool"]
    if not isinstance(actual, expected):
        return [f"{path}: expected {type(reference).__name__}, got {type(actual).__name__}"]
    return []


def load(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text())
