"""The Spotify matching rules (matching.py's docstring), one test per rule and per hard name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collection_pipeline.clients import SpotifyCandidate
from collection_pipeline.clients.spotify import MalformedCandidate
from collection_pipeline.matching import (
    RULE_ALBUM_TYPE,
    RULE_ARTIST_MISMATCH,
    RULE_EARLIEST_RELEASE,
    RULE_ISRC_MISMATCH,
    RULE_LOWEST_ID,
    RULE_NO_CANDIDATES,
    RULE_ONLY_CANDIDATE,
    Matcher,
    artist_similarity,
    artist_tokens,
    fold,
    release_sort_date,
    without_disambiguation,
)

ISRC = "GBAYE0601498"
CAPTURE = Path(__file__).resolve().parent / "reference" / "spotify" / "search_isrc_multiple.json"


def candidate(
    id: str,
    *artists: str,
    isrc: str | None = ISRC,
    album_type: str = "album",
    release_date: str | None = "2020-05-01",
) -> SpotifyCandidate:
    """A Spotify search result, parsed by the client from the JSON shape of the real API."""
    precision = (
        None
        if release_date is None
        else {1: "year", 2: "month"}.get(len(release_date.split("-")), "day")
    )
    return SpotifyCandidate.from_json(
        {
            "id": id,
            "name": "Track",
            "external_ids": {"isrc": isrc} if isrc is not None else {},
            "artists": [{"name": name} for name in artists],
            "album": {
                "album_type": album_type,
                "release_date": release_date,
                "release_date_precision": precision,
            },
        }
    )


@pytest.fixture
def matcher() -> Matcher:
    return Matcher()


# ---------------------------------------------------------------- acceptability


def test_no_candidates_is_not_found(matcher: Matcher) -> None:
    decision = matcher.choose(ISRC, ["Daft Punk"], [])
    assert not decision.found
    assert (decision.rule, decision.candidate_count) == (RULE_NO_CANDIDATES, 0)


def test_single_acceptable_candidate_is_found(matcher: Matcher) -> None:
    decision = matcher.choose(ISRC, ["Daft Punk"], [candidate("a1", "Daft Punk")])
    assert decision.spotify_track_id == "a1"
    assert decision.rule == RULE_ONLY_CANDIDATE
    assert decision.score == 100.0
    assert decision.candidate_count == 1


def test_differing_external_isrc_is_rejected_even_with_the_right_artist(matcher: Matcher) -> None:
    decision = matcher.choose(
        ISRC, ["Daft Punk"], [candidate("a1", "Daft Punk", isrc="GBAYE0601499")]
    )
    assert not decision.found
    assert decision.rule == RULE_ISRC_MISMATCH
    assert decision.candidate_count == 1


def test_missing_external_isrc_is_rejected(matcher: Matcher) -> None:
    decision = matcher.choose(ISRC, ["Daft Punk"], [candidate("a1", "Daft Punk", isrc=None)])
    assert decision.rule == RULE_ISRC_MISMATCH


def test_external_isrc_is_compared_after_normalization(matcher: Matcher) -> None:
    decision = matcher.choose(
        ISRC, ["Daft Punk"], [candidate("a1", "Daft Punk", isrc="gb-aye-06-01498")]
    )
    assert decision.spotify_track_id == "a1"


def test_same_isrc_wrong_artist_decoy_is_rejected(matcher: Matcher) -> None:
    decision = matcher.choose(ISRC, ["Daft Punk"], [candidate("decoy", "Various Artists")])
    assert not decision.found
    assert decision.rule == RULE_ARTIST_MISMATCH
    assert decision.score is not None
    assert decision.score < matcher.threshold


def test_same_isrc_decoy_with_an_earlier_date_loses_to_the_real_artist(matcher: Matcher) -> None:
    decision = matcher.choose(
        ISRC,
        ["Charlotte de Witte"],
        [
            candidate("decoy", "Charlie Watts", release_date="1999-01-01"),
            candidate("real", "Charlotte de Witte", release_date="2021-03-05"),
        ],
    )
    assert decision.spotify_track_id == "real"
    assert decision.rule == RULE_ONLY_CANDIDATE
    assert decision.candidate_count == 2


def test_candidate_with_the_wrong_isrc_and_earlier_date_is_ignored(matcher: Matcher) -> None:
    decision = matcher.choose(
        ISRC,
        ["Bicep"],
        [
            candidate("other", "Bicep", isrc="GBAYE0601400", release_date="2001"),
            candidate("right", "Bicep", release_date="2017-09-01"),
        ],
    )
    assert decision.spotify_track_id == "right"


def test_threshold_is_configurable() -> None:
    candidates = [candidate("a1", "Deadmau")]
    assert Matcher(threshold=80).choose(ISRC, ["deadmau5"], candidates).found
    assert not Matcher(threshold=99).choose(ISRC, ["deadmau5"], candidates).found


@pytest.mark.parametrize("threshold", [0, -1, 100.5])
def test_threshold_out_of_range_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        Matcher(threshold=threshold)


# ---------------------------------------------------------------- tie-breakers


def test_earliest_release_date_wins(matcher: Matcher) -> None:
    decision = matcher.choose(
        ISRC,
        ["Bicep"],
        [
            candidate("b", "Bicep", release_date="2019-02-01"),
            candidate("a", "Bicep", release_date="2017-09-01"),
            candidate("c", "Bicep", release_date="2018-01-01"),
        ],
    )
    assert decision.spotify_track_id == "a"
    assert decision.rule == RULE_EARLIEST_RELEASE
    assert decision.candidate_count == 3


def test_partial_release_dates_are_padded(matcher: Matcher) -> None:
    # "2021" counts as 2021-01-01, before 2021-01-15; "2021-08" as 2021-08-01, before 2021-08-02.
    year_only = matcher.choose(
        ISRC,
        ["Bicep"],
        [
            candidate("day", "Bicep", release_date="2021-01-15"),
            candidate("year", "Bicep", release_date="2021"),
        ],
    )
    assert year_only.spotify_track_id == "year"
    month_only = matcher.choose(
        ISRC,
        ["Bicep"],
        [
            candidate("day", "Bicep", release_date="2021-08-02"),
            candidate("month", "Bicep", release_date="2021-08"),
        ],
    )
    assert month_only.spotify_track_id == "month"


def test_a_candidate_without_release_date_is_skipped_not_sorted() -> None:
    with pytest.raises(MalformedCandidate) as caught:
        candidate("a", "Bicep", release_date=None)
    assert caught.value.reason == "bad_release_date"


@pytest.mark.parametrize("original", ["album", "single"])
def test_album_or_single_beats_compilation_on_the_same_date(
    matcher: Matcher, original: str
) -> None:
    decision = matcher.choose(
        ISRC,
        ["Bicep"],
        [
            candidate("a-comp", "Bicep", album_type="compilation", release_date="2021"),
            candidate("z-orig", "Bicep", album_type=original, release_date="2021-01-01"),
        ],
    )
    assert decision.spotify_track_id == "z-orig"
    assert decision.rule == RULE_ALBUM_TYPE


def test_earlier_compilation_still_beats_later_album(matcher: Matcher) -> None:
    decision = matcher.choose(
        ISRC,
        ["Bicep"],
        [
            candidate("album", "Bicep", album_type="album", release_date="2022"),
            candidate("comp", "Bicep", album_type="compilation", release_date="2021"),
        ],
    )
    assert decision.spotify_track_id == "comp"


def test_lowest_id_breaks_a_full_tie_whatever_the_order(matcher: Matcher) -> None:
    ids = ["5m1i6hq7dmRlp3c1utE48L", "3RvdkNMcSy71m0aT6UF9Uf", "4Owee1i5rIFJvQczZXSdiQ"]
    for order in (ids, list(reversed(ids))):
        decision = matcher.choose(ISRC, ["Bicep"], [candidate(i, "Bicep") for i in order])
        assert decision.spotify_track_id == "3RvdkNMcSy71m0aT6UF9Uf"
        assert decision.rule == RULE_LOWEST_ID


def test_real_capture_picks_the_earliest_original(matcher: Matcher) -> None:
    """The captured search: album, single, three compilations and a later album, one ISRC.

    The single of 2021-08-13 predates everything else, including the compilations that carry
    the same ISRC and the same track artist."""
    items: list[dict[str, Any]] = json.loads(CAPTURE.read_text(encoding="utf-8"))["tracks"]["items"]
    candidates = [SpotifyCandidate.from_json(item) for item in items]

    decision = matcher.choose("JPPO02100907", ["back number"], candidates)

    assert decision.spotify_track_id == "5m1i6hq7dmRlp3c1utE48L"
    assert decision.rule == RULE_EARLIEST_RELEASE
    assert (decision.score, decision.candidate_count) == (100.0, 6)
    assert not matcher.choose("JPPO02100907", ["Various Artists"], candidates).found


# ---------------------------------------------------------------- hard names


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (["Âme"], ["Ame"]),
        (["Röyksopp"], ["Royksopp"]),
        (["BEYONCÉ"], ["Beyoncé"]),
        (["\uff2d\uff41\uff43\uff48\uff49\uff4e\uff45"], ["Machine"]),  # full-width forms
        (["坂本龍一"], ["坂本龍一"]),
        (["林子云Claude", "呜唛唛"], ["呜唛唛"]),
        (["Кино"], ["КИНО"]),
        (["Artist A feat. Artist B"], ["Artist B"]),
        (["Artist A ft. Artist B"], ["artist b"]),
        (["Artist A featuring Artist B"], ["Artist B"]),
        (["Camelphat & Elderbrook"], ["Elderbrook"]),
        (["Above & Beyond"], ["Above & Beyond"]),
        (["Fred again.., Skrillex"], ["Skrillex"]),
        (["Skrillex x Fred again.."], ["Fred again.."]),
        (["Alpha", "Beta", "Gamma"], ["Delta", "Gamma"]),
        (["A-Trak"], ["A Trak"]),
        (["Doe John"], ["John Doe"]),
    ],
)
def test_hard_names_match(ours: list[str], theirs: list[str]) -> None:
    assert artist_similarity(ours, theirs) >= Matcher().threshold
    decision = Matcher().choose(ISRC, ours, [candidate("x", *theirs)])
    assert decision.spotify_track_id == "x"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (["坂本龍一"], ["久石譲"]),
        (["Кино"], ["Аквариум"]),
        (["Daft Punk"], ["Various Artists"]),
        (["Mark Knight feat. Skin"], ["Sonny Fodera"]),
        (["Artist A"], ["Artist C"]),
        (["Alpha", "Beta"], ["Gamma", "Delta"]),
    ],
)
def test_different_artists_do_not_match(ours: list[str], theirs: list[str]) -> None:
    assert artist_similarity(ours, theirs) < Matcher().threshold
    assert not Matcher().choose(ISRC, ours, [candidate("x", *theirs)]).found


def test_fold_strips_accents_case_and_width() -> None:
    assert fold("\uff23af\u00e9 \u00c5NGSTR\u00d6M") == "cafe angstrom"


def test_artist_tokens_split_credits() -> None:
    assert artist_tokens(["A feat. B & C, D x E ft. F featuring G"]) == [
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
        "g",
    ]


def test_popularity_is_never_consulted(matcher: Matcher) -> None:
    popular = candidate("b-popular", "Bicep", release_date="2021")
    popular.raw["popularity"] = 100
    obscure = candidate("a-obscure", "Bicep", release_date="2021")
    obscure.raw["popularity"] = 0
    assert matcher.choose(ISRC, ["Bicep"], [popular, obscure]).spotify_track_id == "a-obscure"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2021", (2021, 1, 1)), ("2021-08", (2021, 8, 1)), ("2021-08-15", (2021, 8, 15))],
)
def test_release_sort_date_pads_partial_dates(value: str, expected: tuple[int, int, int]) -> None:
    padded = release_sort_date(value)
    assert (padded.year, padded.month, padded.day) == expected


@pytest.mark.parametrize("value", [None, "", "unknown", "2021-13"])
def test_release_sort_date_unknown_sorts_last(value: str | None) -> None:
    assert release_sort_date(value) > release_sort_date("9999-12-31").replace(day=30)


# ---------------------------------------------------------------- namesake suffixes


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (["Kays (UK)"], ["Kays"]),
        (["Kays (UK)"], ["KAYS"]),
        (["Kays (UK)"], ["Kays (UK)"]),
        (["Kays (2)"], ["Kays"]),
        (["Kays (DE)", "Bicep"], ["Bicep & Kays"]),
        (["Kays (US) & Bob"], ["Kays"]),
    ],
)
def test_a_trailing_beatport_disambiguation_suffix_is_ignored(
    ours: list[str], theirs: list[str]
) -> None:
    decision = Matcher().choose(ISRC, ours, [candidate("x", *theirs)])
    assert decision.spotify_track_id == "x"
    assert decision.score == 100.0


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (["Kays (UK)"], ["Kays (US)"]),  # namesakes that both say which one they are
        (["Kays"], ["Kays (UK)"]),  # our bare name is not theirs with a suffix removed
        (["Kays (Live)"], ["Kays"]),  # not a disambiguation suffix
        (["Kays (UK)"], ["Kaysar"]),
    ],
)
def test_namesakes_and_other_parentheses_stay_apart(ours: list[str], theirs: list[str]) -> None:
    assert artist_similarity(ours, theirs) < Matcher().threshold
    assert not Matcher().choose(ISRC, ours, [candidate("x", *theirs)]).found


def test_suffix_only_name_is_kept_whole() -> None:
    assert without_disambiguation("(2)") == "(2)"
    assert without_disambiguation("Kays (UK)") == "Kays"
    assert without_disambiguation("Kays (uk)") == "Kays (uk)"
