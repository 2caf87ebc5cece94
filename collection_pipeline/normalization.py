"""Raw Beatport track JSON -> `domain.NormalizedTrack`, as a pure function.

Validation is strict on purpose: a record that cannot be trusted is quarantined with a stable
reason code rather than half-written, so one bad record never fails a batch and never
silently corrupts the catalogue. Only the ISRC is lenient: an invalid one becomes NULL,
because the rest of the track is still worth keeping, and the track says so
(`isrc_rejected`): this module is the one place that decides what a valid ISRC is.

Two kinds of mess are not malformed: an optional field that is `""` or blank is absent
(Beatport sends "" and null alike), and U+0000 inside a string is dropped (it is never part
of a name, and PostgreSQL cannot store it in `text`; the raw record keeps it, see storage).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from collection_pipeline.domain import (
    ArtistCredit,
    ArtistRole,
    NamedEntity,
    NormalizedTrack,
    Release,
)

ISRC_PATTERN = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}$")
_ISRC_NOISE = re.compile(r"[\s\-]+")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

MAX_BPM = 400
MAX_LENGTH_MS = 24 * 60 * 60 * 1000
"""A day: anything longer is a data error, not a very long track."""
MIN_YEAR = 1900
MAX_YEAR = 2100


class MalformedRecord(ValueError):  # noqa: N818 - the name the contract gives it
    """A raw record that cannot be normalized.

    `reason` is a short stable code (`<problem>:<field>`, e.g. `absurd_value:bpm`) that is
    safe to group and count; `detail` says what exactly was found, for a human.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


UNKEYED_PREFIX = "unkeyed:"


def content_key(record: object) -> str:
    """A stable key for a listing entry that has no usable `id`, derived from its content.

    Equal content gives an equal key in every process, so re-collecting the same entry
    updates one row instead of adding another. 40 characters, prefixed so it can never be
    mistaken for a Beatport id.
    """
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return UNKEYED_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def strip_nul(text: str) -> str:
    """`text` without U+0000 characters."""
    return text.replace("\x00", "") if "\x00" in text else text


def normalize_isrc(value: object) -> str | None:
    """The canonical ISRC (no hyphens or spaces, upper-case), or None when it is not valid."""
    if not isinstance(value, str):
        return None
    candidate = _ISRC_NOISE.sub("", strip_nul(value)).upper()
    return candidate if ISRC_PATTERN.match(candidate) else None


def parse_iso_date(value: object) -> date | None:
    """A strict `YYYY-MM-DD` date, or None for anything else (used where leniency is wanted)."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


def normalize_beatport_track(payload: object) -> NormalizedTrack:
    """Normalize one Beatport v4 track object; raises `MalformedRecord` when it is not usable."""
    record = _require_mapping(payload, "record")
    isrc_value = record.get("isrc")
    if isrc_value is not None and not isinstance(isrc_value, str):
        raise MalformedRecord("wrong_type:isrc", f"expected string, got {_type_name(isrc_value)}")
    isrc = normalize_isrc(isrc_value)
    return NormalizedTrack(
        beatport_id=_required_id(record, "id", "id"),
        name=_required_text(record, "name", "name"),
        mix_name=_optional_text(record, "mix_name", "mix_name"),
        isrc=isrc,
        bpm=_optional_int(record, "bpm", "bpm", minimum=1, maximum=MAX_BPM),
        key_name=_key_name(record),
        camelot=_camelot(record),
        length_ms=_optional_int(record, "length_ms", "length_ms", minimum=0, maximum=MAX_LENGTH_MS),
        publish_date=_required_date(record, "publish_date"),
        new_release_date=_optional_date(record, "new_release_date"),
        catalog_number=_optional_text(record, "catalog_number", "catalog_number"),
        genre=_entity(_required_mapping(record, "genre", "genre"), "genre"),
        sub_genre=_optional_entity(record, "sub_genre"),
        release=_release(_required_mapping(record, "release", "release")),
        credits=_credits(record),
        isrc_rejected=isrc is None and _present(record, "isrc") is not None,
    )


# ---------------------------------------------------------------- nested objects


def _release(obj: Mapping[str, Any]) -> Release:
    return Release(
        beatport_id=_required_id(obj, "id", "release.id"),
        name=_required_text(obj, "name", "release.name"),
        slug=_optional_text(obj, "slug", "release.slug"),
        label=_optional_entity(obj, "label", "release.label"),
    )


def _entity(obj: Mapping[str, Any], path: str) -> NamedEntity:
    return NamedEntity(
        beatport_id=_required_id(obj, "id", f"{path}.id"),
        name=_required_text(obj, "name", f"{path}.name"),
        slug=_optional_text(obj, "slug", f"{path}.slug"),
    )


def _optional_entity(
    obj: Mapping[str, Any], key: str, path: str | None = None
) -> NamedEntity | None:
    path = path or key
    value = _present(obj, key)
    if value is None:
        return None
    return _entity(_require_mapping(value, path), path)


def _credits(record: Mapping[str, Any]) -> tuple[ArtistCredit, ...]:
    """Artists then remixers, each in Beatport's order, positions counted from 1 per role.

    A person listed twice in the same role is credited once (Beatport occasionally repeats
    an artist); the same person as artist and remixer keeps both credits.
    """
    credits: list[ArtistCredit] = []
    for key, role in (("artists", ArtistRole.ARTIST), ("remixers", ArtistRole.REMIXER)):
        value = record.get(key)
        if value is None:
            if role is ArtistRole.ARTIST:
                raise MalformedRecord("missing_field:artists", "artists is missing or null")
            continue
        if not isinstance(value, list):
            raise MalformedRecord(f"wrong_type:{key}", f"expected list, got {_type_name(value)}")
        seen: set[int] = set()
        for item in value:
            artist = _entity(_require_mapping(item, key), key)
            if artist.beatport_id in seen:
                continue
            seen.add(artist.beatport_id)
            credits.append(ArtistCredit(artist=artist, role=role, position=len(seen)))
    return tuple(credits)


def _key_object(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    value = _present(record, "key")
    return None if value is None else _require_mapping(value, "key")


def _key_name(record: Mapping[str, Any]) -> str | None:
    key = _key_object(record)
    return None if key is None else _optional_text(key, "name", "key.name")


def _camelot(record: Mapping[str, Any]) -> str | None:
    """Camelot notation such as "8A", or None when the key or its camelot parts are absent."""
    key = _key_object(record)
    if key is None:
        return None
    number = _optional_int(key, "camelot_number", "key.camelot_number", minimum=1, maximum=12)
    letter = _optional_text(key, "camelot_letter", "key.camelot_letter")
    if number is None or letter is None:
        return None
    letter = letter.strip().upper()
    if letter not in ("A", "B"):
        raise MalformedRecord("absurd_value:key.camelot_letter", f"camelot letter {letter!r}")
    return f"{number}{letter}"


# ---------------------------------------------------------------- scalar fields


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _present(obj: Mapping[str, Any], key: str) -> Any:
    """The field's value, with null, missing, `""` and blank strings all read as absent (None).

    Strings come back without U+0000, so nothing downstream ever sees the character.
    """
    value = obj.get(key)
    if isinstance(value, str):
        value = strip_nul(value)
        return value if value.strip() else None
    return value


def _require_mapping(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        raise MalformedRecord(f"null_object:{path}", f"{path} is null")
    if not isinstance(value, Mapping):
        raise MalformedRecord(f"wrong_type:{path}", f"expected object, got {_type_name(value)}")
    return value


def _required_mapping(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    if key not in obj:
        raise MalformedRecord(f"missing_field:{path}", f"{path} is missing")
    return _require_mapping(obj[key], path)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _required_id(obj: Mapping[str, Any], key: str, path: str) -> int:
    value = obj.get(key)
    if value is None:
        raise MalformedRecord(f"missing_field:{path}", f"{path} is missing or null")
    if not _is_int(value):
        raise MalformedRecord(f"wrong_type:{path}", f"expected integer, got {_type_name(value)}")
    if value <= 0:
        raise MalformedRecord(f"absurd_value:{path}", f"{path}={value}")
    return value


def _optional_int(
    obj: Mapping[str, Any], key: str, path: str, *, minimum: int, maximum: int
) -> int | None:
    """An integer within bounds; integral floats (120.0) are accepted as the number they are."""
    value = _present(obj, key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value):
        raise MalformedRecord(f"wrong_type:{path}", f"expected integer, got {_type_name(value)}")
    if not minimum <= value <= maximum:
        raise MalformedRecord(f"absurd_value:{path}", f"{path}={value}")
    return value


def _required_text(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = _present(obj, key)
    if value is None:
        raise MalformedRecord(f"missing_field:{path}", f"{path} is missing, null or blank")
    if not isinstance(value, str):
        raise MalformedRecord(f"wrong_type:{path}", f"expected string, got {_type_name(value)}")
    return value


def _optional_text(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    """A string, with empty strings read as absent (Beatport sends "" and null alike)."""
    value = _present(obj, key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedRecord(f"wrong_type:{path}", f"expected string, got {_type_name(value)}")
    return value


def _required_date(obj: Mapping[str, Any], key: str) -> date:
    """A date the catalogue cannot do without (the publish date is the partition key)."""
    parsed = _optional_date(obj, key)
    if parsed is None:
        raise MalformedRecord(f"missing_field:{key}", f"{key} is missing or null")
    return parsed


def _optional_date(obj: Mapping[str, Any], key: str) -> date | None:
    value = _present(obj, key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedRecord(f"wrong_type:{key}", f"expected date string, got {_type_name(value)}")
    parsed = parse_iso_date(value)
    if parsed is None:
        raise MalformedRecord(f"invalid_date:{key}", f"{key}={value!r}")
    return parsed
