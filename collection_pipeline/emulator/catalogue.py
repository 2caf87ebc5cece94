"""The Beatport side of the generated catalogue: tracks per (publish day, genre), built lazily.

Each slot's track derives only from (seed, slot), so every process produces identical JSON for it.
A compilation track carries the musical identity (name, mix, artists, ISRC) of an earlier original,
which is how Beatport's ISRCs come to be non-unique.

Two kinds of block are not `tracks_per_day` long. The `overcap` genre-day holds more tracks than
the API's count cap (1.25 caps, config.OVERCAP_CAPS), its extra slots numbered on from
`tracks_per_day` with ids of their own range; its bpm and new-release dates cluster the way a
real catalogue's do (most tracks at one tempo, released on the day, some with no tempo at all), so
that no single filter splits it under the cap. And `drift` publishes late tracks into blocks
while they are paged: the DriftLog gives each the next id of a range above every other track's,
as a real catalogue's newest track has.
`drift` also edits tracks while they are paged: the MoveLog moves an ordinary track to another
publish day (its identity and every other field unchanged, as a catalogue edit of `publish_date`
would). The two logs are the only mutable parts of the catalogue, and only ever grow.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, replace
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
OVERCAP_ID_BASE = 1_800_000_000  # ids of the over-cap block's slots past tracks_per_day
DRIFT_ID_BASE = 1_900_000_000  # late tracks, in publication order: the newest ids of all
OVERCAP_RELEASE_ID_BASE = 1_600_000_000
DRIFT_RELEASE_ID_BASE = 1_700_000_000
DRIFT_INDEX_BASE = 1_000_000  # slot index of a block's first late track
OVERCAP_BPM = 128
OVERCAP_BPM_SHARE = 0.86  # alone above the cap in a day of 1.25 caps (OVERCAP_CAPS) ...
OVERCAP_ON_DAY_SHARE = 0.9  # ... and so is "released on the day"; together they are below it
OVERCAP_SUB_GENRE_RATE = 0.3
OVERCAP_NULL_BPM_SHARE = 0.08  # no tempo at all: no bpm range selects them
MEMO_ENTRIES = 64
CACHED_EXTENDED = 16_000  # JSON of over-cap and late tracks (ordinary ones are memoised per block)


@dataclass(frozen=True)
class Music:
    """What a recording is, shared by an original and every compilation that reuses it."""

    origin: Slot
    isrc: str
    name: str
    mix_name: str
    artists: tuple[Person, ...]
    remixers: tuple[Person, ...]
    bpm: int | None
    key_index: int | None
    length_ms: int
    release_date: date


@dataclass(frozen=True)
class Oversized:
    """The genre-day that holds `size` tracks instead of `tracks_per_day`."""

    day: date
    genre_slot: int
    size: int


@dataclass(frozen=True)
class Facets:
    """What the listing filters and sorts on, without building a track's JSON."""

    id: int
    day: date
    bpm: int | None
    new_release_date: date
    sub_genre_id: int | None
    release_id: int


class DriftLog:
    """Late tracks published so far, in publication order; at most `per_block` per block.

    Publication only ever adds: a late track never disappears, so `/_emulator/truth` and every
    listing after its publication include it.
    """

    def __init__(self, per_block: int) -> None:
        self.per_block = per_block
        self.slots: list[Slot] = []
        self.sequence: dict[Slot, int] = {}
        self.published: Counter[tuple[date, int]] = Counter()

    @property
    def version(self) -> int:
        """Changes whenever a track is published: part of every listing cache key."""
        return len(self.slots)

    def pending(self, day: date, genre_slot: int) -> int:
        return self.per_block - self.published[(day, genre_slot)]

    def publish(self, day: date, genre_slot: int) -> Slot:
        slot = Slot(day, genre_slot, DRIFT_INDEX_BASE + self.published[(day, genre_slot)])
        self.published[(day, genre_slot)] += 1
        self.sequence[slot] = len(self.slots)
        self.slots.append(slot)
        return slot

    def in_window(self, first: date, last: date, genre_slots: tuple[int, ...]) -> list[Slot]:
        """Published late tracks of the window, oldest first (ascending id)."""
        return [s for s in self.slots if first <= s.day <= last and s.genre_slot in genre_slots]


class MoveLog:
    """Ordinary tracks whose publish day was edited, and to which day; each moves at most once,
    and at most `per_block` of them out of each (day, genre) block.

    Moves stay within `span`, the days spanned by the listings paged so far: the window a client
    crawls, whatever part of it a request asks for.
    """

    def __init__(self, per_block: int) -> None:
        self.per_block = per_block
        self.moved: dict[Slot, date] = {}
        self.moved_out: Counter[tuple[date, int]] = Counter()
        self.span: tuple[date, date] | None = None

    def widen(self, first: date, last: date, most_days: int) -> tuple[date, date] | None:
        """Take a paged window into `span` unless that makes it longer than `most_days`."""
        low, high = (first, last) if self.span is None else self.span
        low, high = min(low, first), max(high, last)
        if (high - low).days < most_days:
            self.span = (low, high)
        return self.span

    @property
    def version(self) -> int:
        """Changes whenever a track moves: part of every listing cache key."""
        return len(self.moved)

    def day_of(self, slot: Slot) -> date:
        """The track's publish day now."""
        return self.moved.get(slot, slot.day)

    def pending(self, day: date, genre_slot: int) -> int:
        return self.per_block - self.moved_out[(day, genre_slot)]

    def move(self, slot: Slot, day: date) -> None:
        self.moved[slot] = day
        self.moved_out[(slot.day, slot.genre_slot)] += 1

    def touches(self, first: date, last: date, genre_slots: tuple[int, ...]) -> set[date]:
        """Days of the window that a move emptied a slot of or filled a slot in."""
        days = set()
        for slot, day in self.moved.items():
            if slot.genre_slot in genre_slots:
                days.update(d for d in (slot.day, day) if first <= d <= last)
        return days

    def moved_in(self, day: date, genre_slots: tuple[int, ...]) -> list[Slot]:
        return [s for s, d in self.moved.items() if d == day and s.genre_slot in genre_slots]


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

    def __init__(
        self,
        seed: int,
        tracks_per_day: int,
        revision: int = 0,
        *,
        oversized: Oversized | None = None,
        drift: DriftLog | None = None,
        moves: MoveLog | None = None,
    ) -> None:
        self.seed = seed
        self.tracks_per_day = tracks_per_day
        self.revision = revision
        self.oversized = oversized
        self.drift = drift or DriftLog(0)
        self.moves = moves or MoveLog(0)
        self.memo: OrderedDict[object, object] = OrderedDict()  # listing plans, see remember()
        self.cached_facets = lru_cache(maxsize=CACHED_TRACKS)(self._facets)
        self.extended_track = lru_cache(maxsize=CACHED_EXTENDED)(self.track)
        self.people = PeoplePool(seed)
        # bounded by tracks, not blocks: a block holds `tracks_per_day` full JSON documents
        self.core = lru_cache(maxsize=CACHED_TRACKS)(self._core)
        self.music = lru_cache(maxsize=CACHED_TRACKS)(self._music)
        self.block = lru_cache(maxsize=max(4, CACHED_TRACKS // 4 // tracks_per_day))(self._block)

    @property
    def version(self) -> tuple[int, int]:
        """Changes whenever the catalogue does (a late track, a move): listing caches key on it."""
        return self.drift.version, self.moves.version

    def facets(self, slot: Slot) -> Facets:
        """The slot's facets, on its publish day now."""
        facets = self.cached_facets(slot)
        day = self.moves.day_of(slot)
        return facets if day == slot.day else replace(facets, day=day)

    def slots_of_day(self, day: date, genre_slots: tuple[int, ...]) -> list[Slot]:
        """Every track published on `day` now in any of `genre_slots`, in id order."""
        slots = [
            slot
            for genre_slot in genre_slots
            for slot in (Slot(day, genre_slot, k) for k in range(self.block_size(day, genre_slot)))
            if self.moves.day_of(slot) == day
        ]
        slots += self.moves.moved_in(day, genre_slots)
        slots += self.drift.in_window(day, day, genre_slots)
        return sorted(slots, key=self.track_id_of)

    # ---- identity -------------------------------------------------------------------------
    def valid_slot(self, slot: Slot | None) -> bool:
        return (
            slot is not None
            and in_catalogue(slot.day)
            and 0 <= slot.genre_slot < len(GENRES)
            and 0 <= slot.index < self.tracks_per_day
        )

    def block_size(self, day: date, genre_slot: int) -> int:
        """Tracks of a (day, genre) block, late tracks not included."""
        big = self.oversized
        if big is not None and big.day == day and big.genre_slot == genre_slot:
            return big.size
        return self.tracks_per_day

    def overcap_extras(self, first: date, last: date, genre_slots: tuple[int, ...]) -> range:
        """Indexes past tracks_per_day of the over-cap block if the window holds it."""
        big = self.oversized
        if big is None or not first <= big.day <= last or big.genre_slot not in genre_slots:
            return range(0)
        return range(self.tracks_per_day, big.size)

    def is_extended(self, slot: Slot) -> bool:
        """A slot past its day's `tracks_per_day`: an over-cap or a late track."""
        return slot.index >= self.tracks_per_day

    def track_id_of(self, slot: Slot) -> int:
        if slot.index >= DRIFT_INDEX_BASE:
            return DRIFT_ID_BASE + self.drift.sequence[slot]
        if slot.index >= self.tracks_per_day:
            return OVERCAP_ID_BASE + slot.index
        return track_id(slot)

    def slot_for_id(self, value: int) -> Slot | None:
        if value >= DRIFT_ID_BASE:
            number = value - DRIFT_ID_BASE
            return self.drift.slots[number] if number < len(self.drift.slots) else None
        if value >= OVERCAP_ID_BASE:
            big = self.oversized
            index = value - OVERCAP_ID_BASE
            if big is None or not self.tracks_per_day <= index < big.size:
                return None
            return Slot(big.day, big.genre_slot, index)
        slot = slot_from_track_id(value)
        return slot if self.valid_slot(slot) else None

    def remember(self, key: object, build: Any) -> Any:
        """A small LRU of listing plans (the over-cap block's filtered slots are costly)."""
        memo = self.memo
        if key in memo:
            memo.move_to_end(key)
            return memo[key]
        value = memo[key] = build()
        if len(memo) > MEMO_ENTRIES:
            memo.popitem(last=False)
        return value

    def _raw_kind(self, slot: Slot) -> str:
        roll = unit_interval(self.seed, "kind", slot)
        if self.is_extended(slot):  # never compilations: their originals are ordinary slots
            return "no_isrc" if roll < NO_ISRC_RATE else "original"
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
        return TrackCore(slot=slot, id=self.track_id_of(slot), kind=kind, isrc=isrc, music=music)

    def _isrc(self, origin: Slot) -> str:
        """Ordinary slots encode their slot; extended ones take a registrant no slot decodes to."""
        if not self.is_extended(origin):
            return encode_isrc(self.seed, origin)
        late = origin.index >= DRIFT_INDEX_BASE
        number = self.drift.sequence[origin] if late else origin.index
        high, low = divmod(number, 100_000)
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        registrant = "".join(digits[(high // 36**k) % 36] for k in (2, 1, 0))
        return f"{'ZY' if late else 'ZZ'}{registrant}{origin.day.year % 100:02d}{low:05d}"

    def _overcap_slot(self, slot: Slot) -> bool:
        return self.tracks_per_day <= slot.index < DRIFT_INDEX_BASE

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
        bpm = base_bpm + rng.randint(-4, 4)
        if self._overcap_slot(origin):
            bpm, release_date = self._overcap_tempo_and_date(origin)
        return Music(
            origin=origin,
            isrc=self._isrc(origin),
            name=self._title(rng),
            mix_name=mix,
            artists=artists,
            remixers=remixers,
            bpm=bpm,
            key_index=None if rng.random() < NULL_KEY_RATE else rng.randrange(len(KEYS)),
            length_ms=rng.randint(150_000, 480_000),
            release_date=release_date,
        )

    def _overcap_tempo_and_date(self, slot: Slot) -> tuple[int | None, date]:
        """A busy day's shape: one dominant tempo, most tracks released on the day itself, and
        some (bulk uploads) with no tempo at all, which no bpm filter selects."""
        rng = rng_for(self.seed, "overcap", slot)
        bpm: int | None = OVERCAP_BPM
        if rng.random() >= OVERCAP_BPM_SHARE:
            bpm = rng.choice([b for b in range(118, 139) if b != OVERCAP_BPM])
        if unit_interval(self.seed, "overcap-null-bpm", slot) < OVERCAP_NULL_BPM_SHARE:
            bpm = None
        released = slot.day
        if rng.random() >= OVERCAP_ON_DAY_SHARE:
            released = max(EPOCH, slot.day - timedelta(days=rng.randint(30, 3650)))
        return bpm, released

    def _facets(self, slot: Slot) -> Facets:
        """Exactly the values track(slot) shows for the listing's cheap filters and orders."""
        if self._overcap_slot(slot):  # thousands of them: skip generating their music
            identity = self.track_id_of(slot)
            bpm, released = self._overcap_tempo_and_date(slot)
            sub_genre = self._sub_genre(slot, GENRES[slot.genre_slot].id)
            return Facets(
                id=identity,
                day=slot.day,
                bpm=None if bpm is None else bpm + self._revisions_touching(identity),
                new_release_date=released,
                sub_genre_id=sub_genre["id"] if sub_genre else None,
                release_id=self._release_number(slot, "original")[0],
            )
        core = self.core(slot)
        music = core.music
        new_release = slot.day if core.kind == "compilation" else music.release_date
        sub_genre = self._sub_genre(slot, GENRES[slot.genre_slot].id)
        return Facets(
            id=core.id,
            day=slot.day,
            bpm=None if music.bpm is None else music.bpm + self._revisions_touching(core.id),
            new_release_date=new_release,
            sub_genre_id=sub_genre["id"] if sub_genre else None,
            release_id=self._release_number(slot, core.kind)[0],
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
        """The first `tracks_per_day` tracks published on `day` in a genre, in id order."""
        return self.block(day, genre_slot)

    def track_at(self, slot: Slot) -> dict[str, Any]:
        """Any slot's track: ordinary ones from the block memo, extended ones built on demand."""
        document = (
            self.extended_track(slot)
            if self.is_extended(slot)
            else self.block(slot.day, slot.genre_slot)[slot.index]
        )
        day = self.moves.day_of(slot)
        return document if day == slot.day else {**document, "publish_date": day.isoformat()}

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
                if document["bpm"] is not None:
                    document["bpm"] += 1
                document["label_track_identifier"] = f"REV{step}-{document['id']}"

    def _revisions_touching(self, track_id_value: int) -> int:
        return sum(
            unit_interval(self.seed, "revision", track_id_value, step) < REVISION_CHANGE_RATE
            for step in range(1, self.revision + 1)
        )

    def _sub_genre(self, slot: Slot, genre_id: int) -> dict[str, Any] | None:
        choices = SUB_GENRES_BY_PARENT.get(genre_id)
        rate = OVERCAP_SUB_GENRE_RATE if self._overcap_slot(slot) else SUB_GENRE_RATE
        if not choices or unit_interval(self.seed, "sub-genre", slot) >= rate:
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

    def _release_number(self, slot: Slot, kind: str) -> tuple[int, int, int]:
        """(release id, number within its block, tracks per release) of a track's release.

        A late track comes out on a release of its own with the newest release id; an over-cap
        slot's releases take ids of their own range.
        """
        if kind == "compilation":
            return compilation_release_id(slot), slot.day.timetuple().tm_yday, 0
        if slot.index >= DRIFT_INDEX_BASE:
            sequence = self.drift.sequence[slot]
            return DRIFT_RELEASE_ID_BASE + sequence, sequence % 1000, 1
        group = 1 + stable_hash(self.seed, "release-size", slot.day, slot.genre_slot) % 3
        number = slot.index // group
        if self._overcap_slot(slot):
            return OVERCAP_RELEASE_ID_BASE + number, number, group
        return release_id(slot, number), number, group

    def _release(self, core: TrackCore) -> dict[str, Any]:
        slot = core.slot
        rid, number, group = self._release_number(slot, core.kind)
        if core.kind == "compilation":
            rng = rng_for(self.seed, "compilation-release", slot.day, slot.genre_slot)
            label = self.people.label(self.people.pick_label(rng.random()))
            genre = GENRES[slot.genre_slot]
            name = f"Best of {genre.name} {slot.day.year} Vol. {1 + slot.day.month // 4}"
        else:
            rng = rng_for(self.seed, "release", slot.day, slot.genre_slot, number)
            if slot.index >= DRIFT_INDEX_BASE:
                rng = rng_for(self.seed, "late-release", self.drift.sequence[slot])
            label = self.people.label(self.people.pick_label(rng.random()))
            name = core.music.name if group == 1 else f"{self._title(rng)} EP"
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
