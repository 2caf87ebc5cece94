"""The Beatport side of the generated catalogue: tracks per (publish day, genre), built lazily.

Each slot's track derives only from (seed, slot), so every process produces identical JSON for it.
A compilation track carries the musical identity (name, mix, artists, ISRC) of an earlier original,
which is how Beatport's ISRCs come to be non-unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from collection_pipeline.emulator.codecs import (
    EPOCH,
    Slot,
    compilation_release_id,
    encode_isrc,
    in_catalogue,
    release_id,
    rng_for,
    slot_from_track_id,
    slugify,
    stable_hash,
    track_id,
    unit_interval,
)
from collection_pipeline.emulator.people import PeoplePool, Person, _image_uuid
from collection_pipeline.emulator.reference_data import (
    GENRES,
    KEYS,
    MIX_NAMES,
    NON_LATIN_TITLES,
    SUB_GENRES_BY_PARENT,
    TITLE_WORDS,
)

API = "https://api.beatport.com/v4"
MEDIA = "https://geo-media.beatport.com/image_size"
NO_ISRC_RATE = 0.05
COMPILATION_RATE = 0.095  # of all tracks: ~10% of the tracks that carry an ISRC
BACK_CATALOGUE_RATE = 0.08
SUB_GENRE_RATE = 0.2  # among genres that have sub-genres; the field is mostly null overall
NULL_KEY_RATE = 0.02
COMPILATION_MAX_DELAY_DAYS = 120
REVISION_CHANGE_RATE = 0.02
CACHED_TRACKS = 40_000  # memo size; a few tens of MB, so many emulators fit on one machine


@dataclass(frozen=True)
class Music:
    """What a recording is, shared by an original and every compilation that reuses it."""

    origin: Slot
    isrc: str
    name: str
    mix_name: str
    artists: tuple[Person, ...]
    remixers: tuple[Person, ...]
    bpm: int
    key_index: int | None
    length_ms: int
    release_date: date


@dataclass(frozen=True)
class TrackCore:
    """The parts of a track that the Spotify side and the truth need, without the JSON."""

    slot: Slot
    id: int
    kind: str  # "original" | "compilation" | "no_isrc"
    isrc: str | None
    music: Music


class BeatportCatalogue:
    """Generates tracks for one (seed, tracks_per_day, revision), memoising recent work."""

    def __init__(self, seed: int, tracks_per_day: int, revision: int = 0) -> None:
        self.seed = seed
        self.tracks_per_day = tracks_per_day
        self.revision = revision
        self.people = PeoplePool(seed)
        # bounded by tracks, not blocks: a block holds `tracks_per_day` full JSON documents
        self.core = lru_cache(maxsize=CACHED_TRACKS)(self._core)
        self.music = lru_cache(maxsize=CACHED_TRACKS)(self._music)
        self.block = lru_cache(maxsize=max(4, CACHED_TRACKS // 4 // tracks_per_day))(self._block)

    # ---- identity -------------------------------------------------------------------------
    def valid_slot(self, slot: Slot | None) -> bool:
        return (
            slot is not None
            and in_catalogue(slot.day)
            and 0 <= slot.genre_slot < len(GENRES)
            and 0 <= slot.index < self.tracks_per_day
        )

    def slot_for_id(self, value: int) -> Slot | None:
        slot = slot_from_track_id(value)
        return slot if self.valid_slot(slot) else None

    def _raw_kind(self, slot: Slot) -> str:
        roll = unit_interval(self.seed, "kind", slot)
        if roll < NO_ISRC_RATE:
            return "no_isrc"
        if roll < NO_ISRC_RATE + COMPILATION_RATE:
            return "compilation"
        return "original"

    def _compilation_origin(self, slot: Slot) -> Slot | None:
        """The earlier original a compilation slot reuses (same genre, within 120 days)."""
        rng = rng_for(self.seed, "compilation-origin", slot)
        for _ in range(8):
            delay = rng.randint(1, COMPILATION_MAX_DELAY_DAYS)
            candidate = Slot(
                slot.day - timedelta(days=delay),
                slot.genre_slot,
                rng.randrange(self.tracks_per_day),
            )
            if in_catalogue(candidate.day) and self._raw_kind(candidate) == "original":
                return candidate
        return None

    def _core(self, slot: Slot) -> TrackCore:
        kind = self._raw_kind(slot)
        origin = slot
        if kind == "compilation":
            found = self._compilation_origin(slot)
            if found is None:
                kind = "original"
            else:
                origin = found
        music = self.music(origin)
        isrc = None if kind == "no_isrc" else music.isrc
        return TrackCore(slot=slot, id=track_id(slot), kind=kind, isrc=isrc, music=music)

    def reusers(self, origin: Slot) -> list[Slot]:
        """Compilation slots reusing `origin`'s recording: the inverse of _compilation_origin."""
        found = []
        for delay in range(1, COMPILATION_MAX_DELAY_DAYS + 1):
            day = origin.day + timedelta(days=delay)
            if not in_catalogue(day):
                break
            for index in range(self.tracks_per_day):
                slot = Slot(day, origin.genre_slot, index)
                if self._raw_kind(slot) == "compilation" and self.core(slot).music.origin == origin:
                    found.append(slot)
        return found

    # ---- generation -----------------------------------------------------------------------
    def _title(self, rng: Any) -> str:
        roll = rng.random()
        if roll < 0.07:
            return rng.choice(NON_LATIN_TITLES)
        if roll < 0.12:
            return f"{rng.choice(NON_LATIN_TITLES)}{rng.choice(TITLE_WORDS)}"
        if roll < 0.55:
            return rng.choice(TITLE_WORDS)
        return f"{rng.choice(TITLE_WORDS)} {rng.choice(TITLE_WORDS)}"

    def _music(self, origin: Slot) -> Music:
        rng = rng_for(self.seed, "music", origin)
        artists = self._distinct_artists(rng, 1 if rng.random() < 0.7 else rng.randint(2, 3))
        mix = rng.choices([m for m, _ in MIX_NAMES], weights=[w for _, w in MIX_NAMES])[0]
        remixers: tuple[Person, ...] = ()
        if mix == "Remix":
            remixers = self._distinct_artists(rng, 1, exclude={a.id for a in artists})
            mix = f"{remixers[0].name} Remix"
        release_date = origin.day
        if rng.random() < BACK_CATALOGUE_RATE:
            release_date = max(EPOCH, origin.day - timedelta(days=rng.randint(60, 3650)))
        genre = GENRES[origin.genre_slot]
        base_bpm = {1: 174, 18: 140, 95: 140, 98: 113, 6: 132, 92: 134, 2: 145}.get(genre.id, 124)
        return Music(
            origin=origin,
            isrc=encode_isrc(self.seed, origin),
            name=self._title(rng),
            mix_name=mix,
            artists=artists,
            remixers=remixers,
            bpm=base_bpm + rng.randint(-4, 4),
            key_index=None if rng.random() < NULL_KEY_RATE else rng.randrange(len(KEYS)),
            length_ms=rng.randint(150_000, 480_000),
            release_date=release_date,
        )

    def _distinct_artists(
        self, rng: Any, count: int, exclude: set[int] | None = None
    ) -> tuple[Person, ...]:
        chosen: list[Person] = []
        seen = set(exclude or ())
        names: set[str] = set()
        while len(chosen) < count:
            person = self.people.artist(self.people.pick_artist(rng.random()))
            if person.id in seen or person.name.casefold() in names:
                continue
            seen.add(person.id)
            names.add(person.name.casefold())
            chosen.append(person)
        return tuple(chosen)

    def _block(self, day: date, genre_slot: int) -> tuple[dict[str, Any], ...]:
        return tuple(self.track(Slot(day, genre_slot, k)) for k in range(self.tracks_per_day))

    def tracks_for(self, day: date, genre_slot: int) -> tuple[dict[str, Any], ...]:
        """All tracks published on `day` in a genre, in id order (memoised)."""
        return self.block(day, genre_slot)

    def track(self, slot: Slot) -> dict[str, Any]:
        """The full Beatport v4 track object, key for key as the real API returns it."""
        core = self.core(slot)
        music = core.music
        rng = rng_for(self.seed, "track", slot)
        genre = GENRES[slot.genre_slot]
        release = self._release(core)
        image_uuid = _image_uuid(self.seed, "track", core.id)
        sample_start = rng.randint(30_000, 120_000)
        length_s = music.length_ms // 1000
        new_release = slot.day if core.kind == "compilation" else music.release_date
        price = rng.choice((1.29, 1.49, 1.99))
        document: dict[str, Any] = {
            "artists": [self._person_json(a, "artists") for a in music.artists],
            "publish_status": "published",
            "available_worldwide": rng.random() < 0.6,
            "bpm": music.bpm,
            "bsrc_remixer": [],
            "catalog_number": f"{release['label_code']}{release['number']:03d}",
            "current_status": _status(new_release < slot.day - timedelta(days=30)),
            "encoded_date": f"{slot.day - timedelta(days=1)}T15:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d}-06:00",
            "exclusive": rng.random() < 0.1,
            "free_downloads": [],
            "free_download_start_date": None,
            "free_download_end_date": None,
            "genre": _genre_json(genre),
            "id": core.id,
            "image": _image(56_000_000 + core.id % 10_000_000, image_uuid, "1500x250", "png"),
            "is_available_for_streaming": rng.random() < 0.5,
            "is_explicit": rng.random() < 0.03,
            "is_ugc_remix": False,
            "is_dj_edit": False,
            "isrc": core.isrc,
            "key": _key_json(music.key_index),
            "label_track_identifier": None,
            "length": f"{length_s // 60}:{length_s % 60:02d}",
            "length_ms": music.length_ms,
            "mix_name": music.mix_name,
            "name": music.name,
            "new_release_date": new_release.isoformat(),
            "pre_order": False,
            "pre_order_date": None,
            "price": {"code": "USD", "symbol": "$", "value": price, "display": f"${price:.2f}"},
            "publish_date": slot.day.isoformat(),
            "release": release["json"],
            "remixers": [self._person_json(r, "artists") for r in music.remixers],
            "sale_type": {"id": 1, "name": "purchase", "url": f"{API}/auxiliary/sale-types/1/"},
            "sample_url": f"https://geo-samples.beatport.com/track/{image_uuid}.LOFI.mp3",
            "sample_start_ms": sample_start,
            "sample_end_ms": sample_start + 120_000,
            "slug": slugify(music.name),
            "sub_genre": self._sub_genre(slot, genre.id),
            "url": f"{API}/catalog/tracks/{core.id}/",
            "is_hype": rng.random() < 0.05,
        }
        self._apply_revisions(document)
        return document

    def _apply_revisions(self, document: dict[str, Any]) -> None:
        """Revision k edits ~2% of tracks per step, deterministically, never their identity."""
        for step in range(1, self.revision + 1):
            if unit_interval(self.seed, "revision", document["id"], step) < REVISION_CHANGE_RATE:
                document["bpm"] += 1
                document["label_track_identifier"] = f"REV{step}-{document['id']}"

    def _sub_genre(self, slot: Slot, genre_id: int) -> dict[str, Any] | None:
        choices = SUB_GENRES_BY_PARENT.get(genre_id)
        if not choices or unit_interval(self.seed, "sub-genre", slot) >= SUB_GENRE_RATE:
            return None
        sub_id, name, slug, _ = choices[
            stable_hash(self.seed, "sub-genre-pick", slot) % len(choices)
        ]
        return {
            "id": sub_id,
            "name": name,
            "slug": slug,
            "url": f"{API}/catalog/sub-genres/{sub_id}/",
        }

    def _release(self, core: TrackCore) -> dict[str, Any]:
        slot = core.slot
        if core.kind == "compilation":
            rng = rng_for(self.seed, "compilation-release", slot.day, slot.genre_slot)
            label = self.people.label(self.people.pick_label(rng.random()))
            genre = GENRES[slot.genre_slot]
            name = f"Best of {genre.name} {slot.day.year} Vol. {1 + slot.day.month // 4}"
            rid = compilation_release_id(slot)
            number = slot.day.timetuple().tm_yday
        else:
            group = 1 + stable_hash(self.seed, "release-size", slot.day, slot.genre_slot) % 3
            number = slot.index // group
            rng = rng_for(self.seed, "release", slot.day, slot.genre_slot, number)
            label = self.people.label(self.people.pick_label(rng.random()))
            name = core.music.name if group == 1 else f"{self._title(rng)} EP"
            rid = release_id(slot, number)
        release_uuid = _image_uuid(self.seed, "release", rid)
        return {
            "label_code": (slugify(label.name).replace("-", "")[:3].upper() or "BP") + "X",
            "number": number,
            "json": {
                "id": rid,
                "name": name,
                "image": _image(50_000_000 + rid % 10_000_000, release_uuid, "1400x1400", "jpg"),
                "label": {
                    "id": label.id,
                    "name": label.name,
                    "image": _image(label.image_id, label.image_uuid, "500x500", "jpg"),
                    "slug": label.slug,
                },
                "slug": slugify(name),
            },
        }

    @staticmethod
    def _person_json(person: Person, kind: str) -> dict[str, Any]:
        return {
            "id": person.id,
            "image": _image(person.image_id, person.image_uuid, "590x404", "jpg"),
            "name": person.name,
            "slug": person.slug,
            "url": f"{API}/catalog/{kind}/{person.id}/",
        }


def _image(image_id: int, uuid: str, size: str, extension: str) -> dict[str, Any]:
    return {
        "id": image_id,
        "uri": f"{MEDIA}/{size}/{uuid}.{extension}",
        "dynamic_uri": f"{MEDIA}/{{w}}x{{h}}/{uuid}.{extension}",
    }


def _status(back_catalogue: bool) -> dict[str, Any]:
    status_id, name = (10, "General Content") if back_catalogue else (8, "New Release")
    return {"id": status_id, "name": name, "url": f"{API}/auxiliary/current-status/{status_id}/"}


def _genre_json(genre: Any) -> dict[str, Any]:
    return {
        "id": genre.id,
        "name": genre.name,
        "slug": genre.slug,
        "url": f"{API}/catalog/genres/{genre.id}/",
    }


def genre_json(genre: Any) -> dict[str, Any]:
    """A genre as /v4/catalog/genres/ lists it."""
    return {"enabled": True, **_genre_json(genre)}


def _key_json(index: int | None) -> dict[str, Any] | None:
    if index is None:
        return None
    number, letter, note, sharp, flat, chord = KEYS[index]
    chord_id = 2 if chord == "Major" else 1
    accidental = "#" if sharp else ("b" if flat else "")
    return {
        "camelot_number": number,
        "camelot_letter": letter,
        "chord_type": {
            "id": chord_id,
            "name": chord,
            "url": f"{API}/catalog/chord-types/{chord_id}/",
        },
        "id": index + 1,
        "is_sharp": sharp,
        "is_flat": flat,
        "letter": note,
        "name": f"{note}{accidental} {chord}",
        "url": f"{API}/catalog/keys/{index + 1}/",
    }
