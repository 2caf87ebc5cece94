"""Deterministic pools of artists and labels shared by all tracks of a catalogue.

Tracks draw from these pools with a skew towards popular entries, so artists and labels recur
across tracks with the same id; a few pool entries copy another entry's name with a different id
(namesakes), which is what breaks code that identifies entities by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from collection_pipeline.emulator.codecs import rng_for, slugify, stable_hash
from collection_pipeline.emulator.reference_data import (
    ALIAS_SUFFIXES,
    ALIAS_WORDS,
    FIRST_NAMES,
    LABEL_WORDS,
    LAST_NAMES,
    NON_LATIN_NAMES,
)

ARTIST_POOL = 4000
LABEL_POOL = 800
NAMESAKE_RATE = 0.04


@dataclass(frozen=True)
class Person:
    """An artist or a label: Beatport id, display name, slug and a stable image id."""

    id: int
    name: str
    slug: str
    image_id: int
    image_uuid: str


def _image_uuid(seed: int, *parts: object) -> str:
    value = f"{stable_hash(seed, 'uuid-a', *parts):016x}{stable_hash(seed, 'uuid-b', *parts):016x}"
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:32]}"


class PeoplePool:
    """Artists and labels of one seed, generated on demand and memoised."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.artist = lru_cache(maxsize=ARTIST_POOL)(self._artist)
        self.label = lru_cache(maxsize=LABEL_POOL)(self._label)

    def pick_artist(self, rng_value: float) -> int:
        """A pool index skewed towards the head of the pool, so popular artists recur."""
        return int(ARTIST_POOL * rng_value**2.2)

    def pick_label(self, rng_value: float) -> int:
        return int(LABEL_POOL * rng_value**1.8)

    def _artist_name(self, index: int) -> str:
        rng = rng_for(self.seed, "artist-name", index)
        if index > 50 and rng.random() < NAMESAKE_RATE:
            return self._artist_name(index - 1 - rng.randrange(50))
        roll = rng.random()
        if roll < 0.45:
            return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if roll < 0.65:
            return f"{rng.choice(ALIAS_WORDS)} {rng.choice(ALIAS_SUFFIXES)}"
        if roll < 0.80:
            return f"{rng.choice(ALIAS_WORDS)}{rng.choice(ALIAS_WORDS).lower()}"
        if roll < 0.90:
            return rng.choice(NON_LATIN_NAMES)
        if roll < 0.95:
            return f"{rng.choice(NON_LATIN_NAMES)}{rng.choice(FIRST_NAMES)}"
        return f"DJ {rng.choice(ALIAS_WORDS)}"

    def _artist(self, index: int) -> Person:
        digit = stable_hash(self.seed, "artist-id", index) % 10
        return Person(
            id=100_000 + index * 10 + digit,
            name=self._artist_name(index),
            slug=slugify(self._artist_name(index)),
            image_id=5_000_000 + index,
            image_uuid=_image_uuid(self.seed, "artist", index),
        )

    def _label_name(self, index: int) -> str:
        rng = rng_for(self.seed, "label-name", index)
        if index > 20 and rng.random() < NAMESAKE_RATE:
            return self._label_name(index - 1 - rng.randrange(20))
        roll = rng.random()
        if roll < 0.08:
            return f"{rng.choice(NON_LATIN_NAMES)}发行"
        if roll < 0.55:
            return f"{rng.choice(ALIAS_WORDS)} {rng.choice(LABEL_WORDS)}"
        return f"{rng.choice(ALIAS_WORDS)} {rng.choice(ALIAS_WORDS)} {rng.choice(LABEL_WORDS)}"

    def _label(self, index: int) -> Person:
        digit = stable_hash(self.seed, "label-id", index) % 10
        return Person(
            id=10_000 + index * 10 + digit,
            name=self._label_name(index),
            slug=slugify(self._label_name(index)),
            image_id=6_000_000 + index,
            image_uuid=_image_uuid(self.seed, "label", index),
        )
