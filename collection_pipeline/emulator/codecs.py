"""Reversible encodings that let any emulator process answer any request without shared state.

Every generated entity is addressed by a catalogue slot (publish day, genre slot, index within the
day). Track ids, ISRCs and Spotify ids are invertible functions of that slot, so a request that
names an entity can be answered by decoding it and regenerating the entity from the seed.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from collection_pipeline.emulator.reference_data import GENRE_SLOTS, GENRES, ISRC_COUNTRIES

EPOCH = date(2000, 1, 1)
LAST_DAY = date(2049, 12, 31)  # keeps every derived id below 2**31 (safe in an INTEGER column)
MAX_TRACKS_PER_DAY = 1000
TRACK_ID_BASE = 1_000_000
RELEASE_ID_BASE = 5_000_000
COMPILATION_RELEASE_ID_BASE = 1_500_000_000
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MASK128 = (1 << 128) - 1
_SPOTIFY_MULTIPLIER = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd, hence invertible mod 2**128
_SPOTIFY_INVERSE = pow(_SPOTIFY_MULTIPLIER, -1, 1 << 128)
ISRC_PATTERN = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{2}[0-9]{5}$")


@dataclass(frozen=True, order=True)
class Slot:
    """Where a Beatport track lives in the catalogue: the key every generated value derives from."""

    day: date
    genre_slot: int
    index: int

    @property
    def day_number(self) -> int:
        return (self.day - EPOCH).days


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator seeded by a string (SHA-512 based, so identical in every process)."""
    return random.Random(f"{seed}|" + "|".join(str(part) for part in parts))


def stable_hash(seed: int, *parts: object) -> int:
    """A 64-bit hash that, unlike hash(), does not change between processes."""
    text = f"{seed}|" + "|".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def unit_interval(seed: int, *parts: object) -> float:
    """A deterministic float in [0, 1) for fault and sampling decisions."""
    return stable_hash(seed, *parts) / 2**64


def slugify(value: str) -> str:
    """Beatport's (Django's) slug: ASCII only, punctuation dropped; "---" when nothing is left."""
    ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    ascii_value = re.sub(r"[^\w\s-]", "", ascii_value.lower())
    slug = re.sub(r"[-\s]+", "-", ascii_value).strip("-_")
    return slug or "---"


def in_catalogue(day: date) -> bool:
    return EPOCH <= day <= LAST_DAY


def slot_number(slot: Slot) -> int:
    return (slot.day_number * GENRE_SLOTS + slot.genre_slot) * MAX_TRACKS_PER_DAY + slot.index


def slot_from_number(number: int) -> Slot | None:
    if number < 0:
        return None
    block, index = divmod(number, MAX_TRACKS_PER_DAY)
    day_number, genre_slot = divmod(block, GENRE_SLOTS)
    if genre_slot >= len(GENRES):
        return None
    day = EPOCH + timedelta(days=day_number)
    if not in_catalogue(day):
        return None
    return Slot(day, genre_slot, index)


def track_id(slot: Slot) -> int:
    return TRACK_ID_BASE + slot_number(slot)


def slot_from_track_id(value: int) -> Slot | None:
    return slot_from_number(value - TRACK_ID_BASE)


def release_id(slot: Slot, release_number: int) -> int:
    block = slot.day_number * GENRE_SLOTS + slot.genre_slot
    return RELEASE_ID_BASE + block * MAX_TRACKS_PER_DAY + release_number


def compilation_release_id(slot: Slot) -> int:
    return COMPILATION_RELEASE_ID_BASE + slot.day_number * GENRE_SLOTS + slot.genre_slot


def _base36(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits.append(_BASE36[digit])
    return "".join(reversed(digits))


def encode_isrc(seed: int, slot: Slot) -> str:
    """CC-XXX-YY-NNNNN carrying (day of year, genre slot, index); YY is the publish year."""
    day_of_year = slot.day.timetuple().tm_yday - 1
    position = (day_of_year * GENRE_SLOTS + slot.genre_slot) * MAX_TRACKS_PER_DAY + slot.index
    high, designation = divmod(position, 100_000)
    country = ISRC_COUNTRIES[stable_hash(seed, "isrc-country", slot.genre_slot) % 20]
    registrant_head = _BASE36[10 + stable_hash(seed, "isrc-registrant") % 26]
    registrant = registrant_head + _base36(high, 2)
    return f"{country}{registrant}{slot.day.year % 100:02d}{designation:05d}"


def decode_isrc(seed: int, isrc: str) -> Slot | None:
    """The slot an emulator ISRC came from, or None for an ISRC this catalogue never issued."""
    if not ISRC_PATTERN.match(isrc):
        return None
    try:
        high = int(isrc[3:5], 36)
    except ValueError:
        return None
    position = high * 100_000 + int(isrc[7:])
    block, index = divmod(position, MAX_TRACKS_PER_DAY)
    day_of_year, genre_slot = divmod(block, GENRE_SLOTS)
    if genre_slot >= len(GENRES):
        return None
    year = 2000 + int(isrc[5:7])
    day = date(year, 1, 1) + timedelta(days=day_of_year)
    if day.year != year or not in_catalogue(day):
        return None
    slot = Slot(day, genre_slot, index)
    return slot if encode_isrc(seed, slot) == isrc else None


_BASE62_PAIRS = [a + b for a in _BASE62 for b in _BASE62]


def _base62(value: int, width: int) -> str:
    """Fixed-width base 62, two digits per step (this sits on the search hot path)."""
    pairs = []
    for _ in range(width // 2):
        value, pair = divmod(value, 3844)
        pairs.append(_BASE62_PAIRS[pair])
    head = _BASE62[value % 62] if width % 2 else ""
    return head + "".join(reversed(pairs))


@lru_cache(maxsize=64)
def _seed_mask(seed: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"spotify-id|{seed}".encode(), digest_size=16).digest())


def encode_spotify_id(seed: int, kind: int, number: int, position: int) -> str:
    """22 base-62 characters that look random but invert to (kind, number, position)."""
    payload = ((number << 16) | (kind << 8) | position) & _MASK128
    scrambled = ((payload ^ _seed_mask(seed)) * _SPOTIFY_MULTIPLIER) & _MASK128
    return _base62(scrambled, 22)


def decode_spotify_id(seed: int, value: str) -> tuple[int, int, int] | None:
    if len(value) != 22 or any(char not in _BASE62 for char in value):
        return None
    scrambled = 0
    for char in value:
        scrambled = scrambled * 62 + _BASE62.index(char)
    if scrambled > _MASK128:
        return None
    payload = ((scrambled * _SPOTIFY_INVERSE) & _MASK128) ^ _seed_mask(seed)
    number, kind, position = payload >> 16, (payload >> 8) & 0xFF, payload & 0xFF
    if number >= 1 << 48:
        return None
    return kind, number, position
