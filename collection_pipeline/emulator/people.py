"""Deterministic pools of artists and labels shared by all tracks of a catalogue.

Tracks draw from these pools with a skew towards popular entries, so artists and labels recur
across tracks with the same id; a few pool entries copy another entry's name with a different id
(namesakes), which is what breaks code that identifies entities by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from collection_pipeline.emulator.codecs import rng_for, slugify, stable_hash, unit_interval
from collection_pipeline.emulator.reference_data import (
    ALIAS_SUFFIXES,
    ALIAS_WORDS,
    FIRST_NAMES,
    LABEL_WORDS,
    LAST_NAMES,
    NON_LATIN_NAMES,
)

ARTIST_POOL = 1800
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


def _artist_name_space() -> list[str]:
    """Every artist name the generator can produce: people, aliases, non-Latin, mixed scripts."""
    names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    names += [f"{word} {suffix}" for word in ALIAS_WORDS for suffix in ALIAS_SUFFIXES]
    names += [f"{a}{b.lower()}" for a in ALIAS_WORDS for b in ALIAS_WORDS if a != b]
    names += [f"DJ {word}" for word in ALIAS_WORDS]
    names += list(NON_LATIN_NAMES) * 8  # weight: about one artist in ten writes in another script
    names += [f"{script}{first}" for script in NON_LATIN_NAMES for first in FIRST_NAMES[:6]]
    return names


def _label_name_space() -> list[str]:
    names = [f"{word} {kind}" for word in ALIAS_WORDS for kind in LABEL_WORDS]
    names += [f"{a} {b} {kind}" for a in ALIAS_WORDS[:12] for b in ALIAS_WORDS[12:] for kind in
              LABEL_WORDS[:3]]  # fmt: skip
    names += [f"{script}发行" for script in NON_LATIN_NAMES] * 3
    return names


def _distinct_names(seed: int, kind: str, space: list[str], count: int) -> list[str]:
    """`count` distinct names in a seeded order (repeats in `space` only bring a name forward)."""
    pool = list(space)
    rng_for(seed, "name-order", kind).shuffle(pool)
    ordered = list(dict.fromkeys(pool))
    if len(ordered) < count:
        raise ValueError(f"only {len(ordered)} distinct {kind} names for a pool of {count}")
    return ordered[:count]


def _image_uuid(seed: int, *parts: object) -> str:
    value = f"{stable_hash(seed, 'uuid-a', *parts):016x}{stable_hash(seed, 'uuid-b', *parts):016x}"
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:32]}"


class PeoplePool:
    """Artists and labels of one seed, generated on demand and memoised."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.artist_names = _distinct_names(seed, "artist", _artist_name_space(), ARTIST_POOL)
        self.label_names = _distinct_names(seed, "label", _label_name_space(), LABEL_POOL)
        self.artist = lru_cache(maxsize=ARTIST_POOL)(self._artist)
        self.label = lru_cache(maxsize=LABEL_POOL)(self._label)

    def pick_artist(self, rng_value: float) -> int:
        """A pool index skewed towards the head of the pool, so popular artists recur."""
        return int(ARTIST_POOL * rng_value**2.2)

    def pick_label(self, rng_value: float) -> int:
        return int(LABEL_POOL * rng_value**1.8)

    def _artist_name(self, index: int) -> str:
        """Distinct per index, except the deliberate namesakes that copy an earlier name."""
        if index > 50 and unit_interval(self.seed, "artist-namesake", index) < NAMESAKE_RATE:
            return self._artist_name(index - 1 - stable_hash(self.seed, "artist-of", index) % 50)
        return self.artist_names[index]

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
        if index > 20 and unit_interval(self.seed, "label-namesake", index) < NAMESAKE_RATE:
            return self._label_name(index - 1 - stable_hash(self.seed, "label-of", index) % 20)
        return self.label_names[index]

    def _label(self, index: int) -> Person:
        digit = stable_hash(self.seed, "label-id", index) % 10
        return Person(
            id=10_000 + index * 10 + digit,
            name=self._label_name(index),
            slug=slugify(self._label_name(index)),
            image_id=6_000_000 + index,
            image_uuid=_image_uuid(self.seed, "label", index),
        )
