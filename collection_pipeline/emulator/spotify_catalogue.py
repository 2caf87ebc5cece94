"""The Spotify side of the catalogue: search candidates per ISRC and the correct choice among them.

Candidates derive from the Beatport recording an ISRC encodes, so search is stateless. The
generator knows which candidates are genuine (right ISRC, right artist, only spelled differently)
and which are traps (wrong-artist decoys carrying the ISRC, genuine artists under another ISRC,
null entries); the truth endpoint applies the pipeline's ordering (matching.py) to the genuine
ones.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from rapidfuzz import fuzz

from collection_pipeline.emulator.catalogue import BeatportCatalogue, Music
from collection_pipeline.emulator.codecs import (
    EPOCH,
    LAST_DAY,
    decode_isrc,
    decode_spotify_id,
    encode_spotify_id,
    rng_for,
    slot_from_number,
    slot_number,
    unit_interval,
)
from collection_pipeline.emulator.malformed import (
    ITEM_DEFECTS,
    MALFORMED_ITEM_RATE,
    MULTI_PAGE_RATE,
    break_item,
)
from collection_pipeline.emulator.reference_data import DECOY_ARTISTS, ISRC_COUNTRIES, MARKETS

API = "https://api.spotify.com/v1"
KNOWN_RATE = 0.80
DECOY_RATE = 0.12
OTHER_ISRC_RATE = 0.08
NULL_ITEM_RATE = 0.03
UNKNOWN_WITH_TRAPS_RATE = 0.25
DECOY_MAX_SIMILARITY = 55  # decoy artists score far below any sane fuzzy threshold (~80)
KIND_TRACK, KIND_ALBUM, KIND_ARTIST, KIND_DECOY_ARTIST = 1, 2, 3, 4
VARIOUS_ARTISTS = {"id": "0LyfQWJT6nXafLPZqxe9Of", "name": "Various Artists"}


@dataclass(frozen=True)
class Candidate:
    """One Spotify track a search for an ISRC can return, plus what the generator knows of it."""

    id: str
    role: str  # "genuine" | "decoy" | "other_isrc" | "malformed"
    isrc: str
    name: str
    artists: tuple[tuple[str, str], ...]  # (spotify artist id, display name)
    album_id: str
    album_name: str
    album_type: str
    release_date: str
    release_date_precision: str
    total_tracks: int
    track_number: int
    duration_ms: int
    popularity: int
    explicit: bool
    defect: str | None = None  # `messy`: how the JSON of a "malformed" candidate is broken


def pad_release_date(value: str) -> str:
    """Spotify's partial dates ("2021", "2021-05") padded to a full day for ordering."""
    return (value + "-01-01")[:10] if len(value) == 4 else (value + "-01")[:10]


def correct_choice(candidates: list[Candidate]) -> str | None:
    """The matching order over the genuine candidates: earliest date, album/single, lowest id."""
    genuine = [c for c in candidates if c.role == "genuine"]
    if not genuine:
        return None
    best = min(
        genuine,
        key=lambda c: (
            pad_release_date(c.release_date),
            c.album_type == "compilation",
            c.id,
        ),
    )
    return best.id


def _fold(value: str) -> str:
    stripped = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in stripped if not unicodedata.combining(ch))


def _similarity(left: str, right: str) -> float:
    a, b = _fold(left), _fold(right)
    return max(fuzz.ratio(a, b), fuzz.token_set_ratio(a, b), fuzz.partial_ratio(a, b))


class SpotifyCatalogue:
    """Search results and track objects for the ISRCs a BeatportCatalogue issues."""

    def __init__(self, beatport: BeatportCatalogue, *, messy: bool = False) -> None:
        self.beatport = beatport
        self.messy = messy
        self.seed = beatport.seed
        self.items_for_isrc = lru_cache(maxsize=20_000)(self._items_for_isrc)
        self._artist_id = lru_cache(maxsize=4096)(self._spotify_artist_id)

    # ---- lookup ---------------------------------------------------------------------------
    def _items_for_isrc(self, isrc: str) -> tuple[Candidate | None, ...]:
        slot = decode_isrc(self.seed, isrc)
        if slot is None or not self.beatport.valid_slot(slot):
            return ()
        core = self.beatport.core(slot)
        if core.kind != "original":
            return ()  # never issued: this slot's own ISRC is not in the catalogue
        return self._generate(core.music)

    def search(self, isrc: str) -> tuple[Candidate | None, ...]:
        """Items (None entries included) a search for `isrc:<isrc>` returns, in response order."""
        return self.items_for_isrc(isrc.strip().upper())

    def by_id(self, spotify_id: str) -> Candidate | None:
        decoded = decode_spotify_id(self.seed, spotify_id)
        if decoded is None or decoded[0] != KIND_TRACK:
            return None
        origin = slot_from_number(decoded[1])
        if origin is None or not self.beatport.valid_slot(origin):
            return None
        core = self.beatport.core(origin)
        if core.kind != "original":
            return None
        for item in self._generate(core.music):
            if item is not None and item.id == spotify_id:
                return item
        return None

    def truth(self, isrc: str | None) -> str | None:
        if isrc is None:
            return None
        return correct_choice([c for c in self.search(isrc) if c is not None])

    # ---- generation -----------------------------------------------------------------------
    def _generate(self, music: Music) -> tuple[Candidate | None, ...]:
        rng = rng_for(self.seed, "spotify", music.origin)
        number = slot_number(music.origin)
        known = unit_interval(self.seed, "spotify-known", music.origin) < KNOWN_RATE
        items: list[Candidate | None] = []
        position = 0

        def next_position() -> int:
            nonlocal position
            position += 1
            return position - 1

        first_date = music.release_date + timedelta(days=rng.randint(-3, 3))
        if known:
            count = rng.choices((1, 2, 3, 4, 5), weights=(45, 30, 15, 6, 4))[0]
            for ordinal in range(count):
                items.append(
                    self._genuine(rng, music, number, next_position(), ordinal, first_date)
                )
        if (known and rng.random() < DECOY_RATE) or (
            not known and rng.random() < UNKNOWN_WITH_TRAPS_RATE
        ):
            for _ in range(rng.randint(1, 2)):
                decoy = self._decoy(rng, music, number, next_position(), first_date)
                if decoy is not None:
                    items.append(decoy)
        if (known and rng.random() < OTHER_ISRC_RATE) or (not known and rng.random() < 0.1):
            items.append(self._other_isrc(rng, music, number, next_position(), first_date))
        rng.shuffle(items)
        if items and rng.random() < NULL_ITEM_RATE:
            items.insert(rng.randrange(len(items) + 1), None)
        if self.messy:
            self._add_mess(music, number, items, first_date)
        return tuple(items)

    def _add_mess(
        self, music: Music, number: int, items: list[Candidate | None], first: date
    ) -> None:
        """`messy`: more results than one page for some ISRCs, a malformed item for others.

        A generator of its own, so every other profile's answers stay exactly as they were.
        """
        rng = rng_for(self.seed, "spotify-messy", music.origin)
        genuine = [c for c in items if c is not None and c.role == "genuine"]
        position = sum(1 for c in items if c is not None)
        if genuine and rng.random() < MULTI_PAGE_RATE:
            for _ in range(rng.randint(8, 20)):
                items.append(self._genuine(rng, music, number, position, 1, first))
                position += 1
        if genuine and rng.random() < MALFORMED_ITEM_RATE:
            template = rng.choice(genuine)
            items.append(
                replace(
                    template,
                    id=encode_spotify_id(self.seed, KIND_TRACK, number, position),
                    album_id=encode_spotify_id(self.seed, KIND_ALBUM, number, position),
                    role="malformed",
                    defect=rng.choice(ITEM_DEFECTS),
                )
            )
        rng.shuffle(items)

    def _spotify_artist_id(self, beatport_artist_id: int) -> str:
        return encode_spotify_id(self.seed, KIND_ARTIST, beatport_artist_id, 0)

    def _spelled(self, rng: Any, music: Music) -> tuple[tuple[str, str], ...]:
        """Genuine artists as Spotify spells them: case, accents, joined with & , or feat."""
        artists = [(self._artist_id(a.id), a.name) for a in music.artists]
        roll = rng.random()
        if roll < 0.55:
            return tuple(artists)
        if roll < 0.65:
            return tuple((i, n.upper() if rng.random() < 0.5 else n.lower()) for i, n in artists)
        if roll < 0.75:
            return tuple((i, _fold(n).title()) for i, n in artists)
        if len(artists) > 1:
            joiner = rng.choice((" & ", ", ", " feat. "))
            return ((artists[0][0], joiner.join(n for _, n in artists)),)
        featured = self.beatport.people.artist(self.beatport.people.pick_artist(rng.random()))
        return ((artists[0][0], f"{artists[0][1]} feat. {featured.name}"),)

    def _date(self, rng: Any, day: date) -> tuple[str, str]:
        day = min(max(day, EPOCH), LAST_DAY)
        roll = rng.random()
        if roll < 0.80:
            return day.isoformat(), "day"
        if roll < 0.92:
            return day.isoformat()[:7], "month"
        return str(day.year), "year"

    def _track_name(self, rng: Any, music: Music) -> str:
        if music.mix_name == "Original Mix" and rng.random() < 0.7:
            return music.name
        name = f"{music.name} - {music.mix_name}"
        return name.lower() if rng.random() < 0.05 else name

    def _genuine(
        self, rng: Any, music: Music, number: int, position: int, ordinal: int, first: date
    ) -> Candidate:
        if ordinal == 0:
            album_type, day = rng.choice(("single", "single", "album")), first
        else:
            album_type = rng.choices(("compilation", "album", "single"), weights=(65, 20, 15))[0]
            day = first + timedelta(days=rng.randint(-20, 900))
        release_date, precision = self._date(rng, day)
        return self._candidate(
            rng, "genuine", music.isrc, self._track_name(rng, music), self._spelled(rng, music),
            number, position, album_type, release_date, precision, music.length_ms,
        )  # fmt: skip

    def _decoy(
        self, rng: Any, music: Music, number: int, position: int, first: date
    ) -> Candidate | None:
        """A wrong artist under the right ISRC; never similar enough to be a plausible match."""
        names = [a.name for a in music.artists]
        start = rng.randrange(len(DECOY_ARTISTS))
        for step in range(len(DECOY_ARTISTS)):
            decoy_index = (start + step) % len(DECOY_ARTISTS)
            decoy = DECOY_ARTISTS[decoy_index]
            if all(_similarity(decoy, name) < DECOY_MAX_SIMILARITY for name in names):
                break
        else:
            return None
        artist_id = encode_spotify_id(self.seed, KIND_DECOY_ARTIST, decoy_index, 0)
        release_date, precision = self._date(rng, first - timedelta(days=rng.randint(0, 400)))
        return self._candidate(
            rng, "decoy", music.isrc, f"{music.name} (Cover)" if rng.random() < 0.5 else music.name,
            ((artist_id, decoy),), number, position, rng.choice(("compilation", "album")),
            release_date, precision, music.length_ms + rng.randint(-20_000, 20_000),
        )  # fmt: skip

    def _other_isrc(
        self, rng: Any, music: Music, number: int, position: int, first: date
    ) -> Candidate:
        shift = 1 + rng.randrange(len(ISRC_COUNTRIES) - 1)
        other = ISRC_COUNTRIES[(ISRC_COUNTRIES.index(music.isrc[:2]) + shift) % len(ISRC_COUNTRIES)]
        release_date, precision = self._date(rng, first - timedelta(days=rng.randint(1, 200)))
        return self._candidate(
            rng, "other_isrc", other + music.isrc[2:], f"{music.name} - Radio Edit",
            tuple((self._artist_id(a.id), a.name) for a in music.artists), number, position,
            "single", release_date, precision, music.length_ms // 2,
        )  # fmt: skip

    def _candidate(
        self, rng: Any, role: str, isrc: str, name: str, artists: tuple[tuple[str, str], ...],
        number: int, position: int, album_type: str, release_date: str, precision: str,
        duration_ms: int,
    ) -> Candidate:  # fmt: skip
        total = 1 if album_type == "single" else rng.randint(8, 30)
        return Candidate(
            id=encode_spotify_id(self.seed, KIND_TRACK, number, position),
            role=role,
            isrc=isrc,
            name=name,
            artists=artists,
            album_id=encode_spotify_id(self.seed, KIND_ALBUM, number, position),
            album_name=name if album_type == "single" else f"{name.split(' - ')[0]} Collection",
            album_type=album_type,
            release_date=release_date,
            release_date_precision=precision,
            total_tracks=total,
            track_number=rng.randint(1, total),
            duration_ms=duration_ms,
            popularity=rng.randint(0, 80),
            explicit=rng.random() < 0.03,
        )

    # ---- JSON -----------------------------------------------------------------------------
    def track_json(self, candidate: Candidate, devmode: bool) -> dict[str, Any]:
        """A Spotify track object, key for key as the real API returns it."""
        artists = [_artist_json(i, n) for i, n in candidate.artists]
        album_artists = (
            [_artist_json(VARIOUS_ARTISTS["id"], VARIOUS_ARTISTS["name"])]
            if candidate.album_type == "compilation"
            else artists
        )
        image_hash = candidate.album_id.lower().ljust(24, "0")[:24]
        album: dict[str, Any] = {
            "album_type": candidate.album_type,
            "artists": album_artists,
            "available_markets": list(MARKETS),
            "external_urls": {"spotify": f"https://open.spotify.com/album/{candidate.album_id}"},
            "href": f"{API}/albums/{candidate.album_id}",
            "id": candidate.album_id,
            "images": [
                {
                    "height": size,
                    "url": f"https://i.scdn.co/image/ab67616d{code}{image_hash}",
                    "width": size,
                }
                for size, code in ((640, "0000b273"), (300, "00001e02"), (64, "00004851"))
            ],
            "name": candidate.album_name,
            "release_date": candidate.release_date,
            "release_date_precision": candidate.release_date_precision,
            "total_tracks": candidate.total_tracks,
            "type": "album",
            "uri": f"spotify:album:{candidate.album_id}",
        }
        document: dict[str, Any] = {
            "album": album,
            "artists": artists,
            "available_markets": list(MARKETS),
            "disc_number": 1,
            "duration_ms": candidate.duration_ms,
            "explicit": candidate.explicit,
            "external_ids": {"isrc": candidate.isrc},
            "external_urls": {"spotify": f"https://open.spotify.com/track/{candidate.id}"},
            "href": f"{API}/tracks/{candidate.id}",
            "id": candidate.id,
            "is_local": False,
            "name": candidate.name,
            "popularity": candidate.popularity,
            "preview_url": f"https://p.scdn.co/mp3-preview/{candidate.id.lower()}",
            "track_number": candidate.track_number,
            "type": "track",
            "uri": f"spotify:track:{candidate.id}",
        }
        if devmode:
            del document["popularity"], document["available_markets"]
            del album["available_markets"]
        return break_item(document, candidate.defect) if candidate.defect else document

    def search_json(
        self, query: str, isrc: str | None, limit: int, offset: int, devmode: bool
    ) -> dict[str, Any]:
        items = list(self.search(isrc)) if isrc else []
        page = items[offset : offset + limit]
        base = f"{API}/search?query={quote(query, safe='')}&type=track"
        after = offset + limit
        return {
            "tracks": {
                "href": f"{base}&offset={offset}&limit={limit}",
                "items": [None if c is None else self.track_json(c, devmode) for c in page],
                "limit": limit,
                "next": f"{base}&offset={after}&limit={limit}" if after < len(items) else None,
                "offset": offset,
                "previous": (
                    f"{base}&offset={max(0, offset - limit)}&limit={limit}" if offset > 0 else None
                ),
                "total": len(items),
            }
        }


def _artist_json(artist_id: str, name: str) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
        "href": f"{API}/artists/{artist_id}",
        "id": artist_id,
        "name": name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }
