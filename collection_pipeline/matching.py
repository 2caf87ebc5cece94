"""Choosing the Spotify track for a Beatport track, as pure functions.

A candidate is acceptable only when its own ISRC equals the track's and one of its artists
matches one of the track's artists by a fuzzy ratio after Unicode normalization. Among the
acceptable ones the choice is deterministic: the earliest release date, then album/single
over compilation, then the lowest Spotify id. Popularity is never used: development-mode
apps do not get it, and it would make the choice drift over time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from rapidfuzz import fuzz

from collection_pipeline import settings
from collection_pipeline.normalization import normalize_isrc

DEFAULT_ARTIST_THRESHOLD: float = settings.MATCH_THRESHOLD.default_value()

_SEPARATORS = re.compile(
    r"\s*(?:\bfeaturing\b|\bfeat\b\.?|\bft\b\.?|\bvs\b\.?|&|,|;|/|\+|\bx\b|\band\b)\s*",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[\W_]+")
_DISAMBIGUATION = re.compile(r"\s*\((?:[A-Z]{2}|[0-9]{1,2})\)\s*$")
"""Beatport's trailing namesake suffix: a country code or a number, as in `Kays (UK)`, `(2)`."""

RULE_ONLY_CANDIDATE = "isrc_artist:only_acceptable"
RULE_EARLIEST_RELEASE = "isrc_artist:earliest_release"
RULE_ALBUM_TYPE = "isrc_artist:album_over_compilation"
RULE_LOWEST_ID = "isrc_artist:lowest_id"
RULE_NO_CANDIDATES = "none:no_candidates"
RULE_ISRC_MISMATCH = "none:isrc_mismatch"
RULE_ARTIST_MISMATCH = "none:artist_mismatch"


class Candidate(Protocol):
    """What the matcher reads of a Spotify search result (`clients.SpotifyCandidate`)."""

    @property
    def id(self) -> str: ...
    @property
    def isrc(self) -> str | None: ...
    @property
    def artist_names(self) -> tuple[str, ...]: ...
    @property
    def album_type(self) -> str: ...
    @property
    def release_date(self) -> str | None: ...


@dataclass(frozen=True)
class MatchDecision:
    """The matcher's answer: the chosen Spotify id (None: nothing acceptable) and why."""

    spotify_track_id: str | None
    rule: str
    score: float | None
    """Best artist similarity (0-100) of the chosen candidate, or of the best same-ISRC one."""
    candidate_count: int

    @property
    def found(self) -> bool:
        return self.spotify_track_id is not None


def fold(text: str) -> str:
    """Case-, accent- and width-insensitive form: NFKD, combining marks dropped, casefolded."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def artist_tokens(names: Sequence[str]) -> list[str]:
    """Each credited person in `names`, folded, with "feat.", "&", "," and " x " split apart.

    Punctuation is dropped inside a name ("A-Trak" ~ "a trak"); a name that is nothing but
    punctuation is kept folded so it can still match itself.
    """
    tokens: list[str] = []
    for name in names:
        folded = fold(name)
        for part in _SEPARATORS.split(folded):
            cleaned = " ".join(_NON_WORD.sub(" ", part).split())
            token = cleaned or part.strip()
            if token and token not in tokens:
                tokens.append(token)
    return tokens


def without_disambiguation(name: str) -> str:
    """A Beatport artist name without its trailing namesake suffix (`Kays (UK)` -> `Kays`).

    Beatport tells namesakes apart this way while Spotify credits the bare name. Only an
    upper-case two-letter code or a small number in final parentheses counts, so names such
    as `Kays (Live)` are left alone.
    """
    stripped = _DISAMBIGUATION.sub("", name)
    return stripped if stripped.strip() else name


def _suffix(name: str) -> str | None:
    found = _DISAMBIGUATION.search(name)
    return found.group(0).strip() if found and found.start() > 0 else None


def _forms(names: Sequence[str], *, bare: bool) -> list[tuple[str, str | None]]:
    """Every comparable form of the credited names, each with its namesake suffix (or None).

    Forms are each credited person (split at "feat.", "&", ...) and each whole name; with
    `bare`, each is also offered without its suffix.
    """
    forms: dict[tuple[str, str | None], None] = {}
    for name in names:
        for part in dict.fromkeys([name, *_SEPARATORS.split(name)]):
            suffix = _suffix(part.strip())
            variants = [part]
            if bare and suffix is not None:
                variants.append(without_disambiguation(part.strip()))
            for variant in variants:
                folded = fold(variant).strip()
                cleaned = " ".join(_NON_WORD.sub(" ", folded).split())
                for text in (cleaned, folded):
                    if text:
                        forms[(text, suffix)] = None
    return list(forms)


def artist_similarity(ours: Sequence[str], theirs: Sequence[str]) -> float:
    """Best fuzzy ratio (0-100) between any of our artists and any of theirs.

    The order-insensitive ratio lets "Doe John" meet "John Doe"; whole names are compared
    too, so a duo credited as one artist ("Above & Beyond") still meets itself. Our (Beatport)
    names are also tried without their namesake suffix, so `Kays (UK)` meets Spotify's bare
    `Kays`; two names that both carry a suffix and differ in it (`Kays (UK)`, `Kays (US)`) are
    namesakes and never compared.
    """
    best = 0.0
    for a, a_suffix in _forms(ours, bare=True):
        for b, b_suffix in _forms(theirs, bare=False):
            if a_suffix and b_suffix and a_suffix != b_suffix:
                continue
            best = max(best, fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))
            if best >= 100.0:
                return 100.0
    return best


def release_sort_date(value: str | None) -> date:
    """A Spotify release date, partial ones padded ("2021" -> 2021-01-01); unknown sorts last."""
    if not value:
        return date.max
    parts = value.split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 1
        day = int(parts[2]) if len(parts) > 2 else 1
        return date(year, month, day)
    except (ValueError, IndexError):
        return date.max


def _album_rank(album_type: str) -> int:
    """Originals (album, single) before compilations and anything else."""
    return 0 if album_type.lower() in ("album", "single") else 1


class Matcher:
    """Applies the rule above with a configurable artist-similarity threshold."""

    def __init__(self, threshold: float = DEFAULT_ARTIST_THRESHOLD) -> None:
        if not 0.0 < threshold <= 100.0:
            raise ValueError(f"artist threshold must be in (0, 100], got {threshold}")
        self.threshold = threshold

    def choose(
        self, isrc: str, artist_names: Sequence[str], candidates: Sequence[Candidate]
    ) -> MatchDecision:
        count = len(candidates)
        if not candidates:
            return MatchDecision(None, RULE_NO_CANDIDATES, None, 0)
        wanted = normalize_isrc(isrc)
        same_isrc = [c for c in candidates if wanted and normalize_isrc(c.isrc) == wanted]
        if not same_isrc:
            return MatchDecision(None, RULE_ISRC_MISMATCH, None, count)
        scored = [(c, artist_similarity(artist_names, c.artist_names)) for c in same_isrc]
        acceptable = [(c, s) for c, s in scored if s >= self.threshold]
        if not acceptable:
            return MatchDecision(None, RULE_ARTIST_MISMATCH, max(s for _, s in scored), count)
        acceptable.sort(
            key=lambda cs: (
                release_sort_date(cs[0].release_date),
                _album_rank(cs[0].album_type),
                cs[0].id,
            )
        )
        chosen, score = acceptable[0]
        return MatchDecision(chosen.id, _deciding_rule(acceptable), round(score, 2), count)


def _deciding_rule(ranked: Sequence[tuple[Candidate, float]]) -> str:
    """Name the first tie-breaker that separated the winner from the runner-up."""
    if len(ranked) == 1:
        return RULE_ONLY_CANDIDATE
    first, second = ranked[0][0], ranked[1][0]
    if release_sort_date(first.release_date) != release_sort_date(second.release_date):
        return RULE_EARLIEST_RELEASE
    if _album_rank(first.album_type) != _album_rank(second.album_type):
        return RULE_ALBUM_TYPE
    return RULE_LOWEST_ID
