"""The `messy` profile: malformed Beatport records and Spotify answers at realistic low rates.

Every decision is a pure function of (seed, Beatport track id) or (seed, ISRC), so the listing,
the truth and every emulator process agree on which record is broken and how. The one stateful
fault, a search answered with a paging object that is not a search result, is keyed by request
attempt like the other injected faults: the next attempt of the same search always passes, so
a client that records an error and retries later converges.

Record kinds that a correct pipeline must quarantine (`QUARANTINED`) and kinds that are only
messy and must be processed normally (`PROCESSED`) are listed by `record_mess`, which the truth
endpoint reports per track.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from collection_pipeline.emulator.codecs import stable_hash, unit_interval
from collection_pipeline.emulator.config import EmulatorConfig
from collection_pipeline.emulator.replies import empty_search_page

QUARANTINED = ("missing_id", "not_an_object", "bad_publish_date", "null_artists", "missing_name")
"""Records no pipeline can normalize: stored raw and quarantined with a reason."""
PROCESSED = ("nul_in_string", "blank_optional")
"""Records that look odd but are sound: U+0000 inside the name, `""` optional fields."""
KINDS = QUARANTINED + PROCESSED
SUFFIX_RATE = 0.04
"""Artists Beatport credits with a namesake suffix that Spotify does not show."""
SUFFIXES = (" (UK)", " (US)", " (DE)", " (2)", " (NL)", " (3)")
BAD_DATE_FORMS = ("{d}/{m}/{y}", "{y}-{m}-{d}T00:00:00", "{y}-13-{d}", "{y}-02-30", "unknown")

MULTI_PAGE_RATE = 0.03
"""ISRCs whose search has more than 10 results (extra compilations): paging is needed."""
MALFORMED_ITEM_RATE = 0.03
"""ISRCs whose search answer carries one malformed item beside the good ones."""
ITEM_DEFECTS = (
    "album_not_object",
    "release_date_not_string",
    "release_date_malformed",
    "no_external_ids",
    "no_artists",
)
BAD_ENVELOPE_RATE = 0.003
"""Search requests answered with a bare paging object (no `tracks` wrapper)."""


def record_mess(seed: int, track_id: int, rate: float) -> str | None:
    """Which kind of mess (if any) the listing applies to this track."""
    if rate <= 0:
        return None
    roll = unit_interval(seed, "messy-record", track_id)
    for kind in KINDS:
        if roll < rate:
            return kind
        roll -= rate
    return None


def messy_envelope(config: EmulatorConfig, envelope: dict[str, Any]) -> dict[str, Any]:
    """A listing page as the messy catalogue serves it (copies: the memoised tracks stay clean)."""
    rate = config.effective_messy_record_rate
    if rate <= 0:
        return envelope
    results = [_messy_track(config.seed, track, rate) for track in envelope["results"]]
    return {**envelope, "results": results}


def _messy_track(seed: int, track: dict[str, Any], rate: float) -> Any:
    kind = record_mess(seed, track["id"], rate)
    suffixed = any(_suffix(seed, a["id"]) for a in (*track["artists"], *track["remixers"]))
    if kind is None and not suffixed:
        return track
    if kind == "not_an_object":
        return None
    track = dict(track)
    if suffixed:
        for key in ("artists", "remixers"):
            track[key] = [_credited(seed, person) for person in track[key]]
    if kind == "missing_id":
        del track["id"]
    elif kind == "bad_publish_date":
        y, m, d = track["publish_date"].split("-")
        form = BAD_DATE_FORMS[stable_hash(seed, "bad-date", track["id"]) % len(BAD_DATE_FORMS)]
        track["publish_date"] = form.format(y=y, m=m, d=d)
    elif kind == "null_artists":
        track["artists"] = None
    elif kind == "missing_name":
        del track["name"]
    elif kind == "nul_in_string":
        name = track["name"]
        cut = stable_hash(seed, "nul", track["id"]) % (len(name) + 1)
        track["name"] = f"{name[:cut]}\x00{name[cut:]}"
    elif kind == "blank_optional":
        track.update(new_release_date="", catalog_number="", label_track_identifier="")
    return track


def _suffix(seed: int, artist_id: int) -> str | None:
    if unit_interval(seed, "namesake-suffix", artist_id) >= SUFFIX_RATE:
        return None
    return SUFFIXES[stable_hash(seed, "suffix-pick", artist_id) % len(SUFFIXES)]


def _credited(seed: int, person: dict[str, Any]) -> dict[str, Any]:
    suffix = _suffix(seed, person["id"])
    return person if suffix is None else {**person, "name": person["name"] + suffix}


# ---------------------------------------------------------------- Spotify answers


def break_item(document: dict[str, Any], defect: str) -> dict[str, Any]:
    """A track object with one defect that makes it unusable for matching."""
    document = dict(document)
    album = dict(document["album"])
    if defect == "album_not_object":
        document["album"] = album["name"]
        return document
    if defect == "release_date_not_string":
        album["release_date"] = int(album["release_date"][:4])
    elif defect == "release_date_malformed":
        album["release_date"] = album["release_date"][:4] + "-00-00"
    elif defect == "no_external_ids":
        del document["external_ids"]
    elif defect == "no_artists":
        del document["artists"]
    document["album"] = album
    return document


def bare_paging_object(params: Mapping[str, str]) -> dict[str, Any]:
    """The paging object without its `tracks` wrapper, as some answers are seen in the wild."""
    limit = int(params["limit"]) if params.get("limit", "").isdigit() else 20
    offset = int(params["offset"]) if params.get("offset", "").isdigit() else 0
    return empty_search_page(params.get("q", ""), "track", limit, offset)


class EnvelopeFaults:
    """Per-attempt decisions for bad search envelopes; an attempt after a fault always passes."""

    def __init__(self, seed: int, rate: float) -> None:
        self.seed = seed
        self.rate = rate
        self.attempts: Counter[str] = Counter()
        self.faulted_last: set[str] = set()

    def strike(self, key: str) -> bool:
        if self.rate <= 0:
            return False
        self.attempts[key] += 1
        if key in self.faulted_last:
            self.faulted_last.discard(key)
            return False
        if unit_interval(self.seed, "bad-envelope", key, self.attempts[key]) < self.rate:
            self.faulted_last.add(key)
            return True
        return False

    def reset(self) -> None:
        self.attempts.clear()
        self.faulted_last.clear()
