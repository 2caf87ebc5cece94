"""Normalization of raw Beatport JSON, starting from the real capture of the v4 API."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from collection_pipeline.domain import ArtistRole
from collection_pipeline.normalization import (
    MalformedRecord,
    content_key,
    normalize_beatport_track,
    normalize_isrc,
    parse_iso_date,
)

CAPTURE = Path(__file__).resolve().parent / "reference" / "beatport" / "list_tracks.json"


def _captured_tracks() -> list[dict[str, Any]]:
    """The two tracks of the real capture of `GET /v4/catalog/tracks/`."""
    return json.loads(CAPTURE.read_text(encoding="utf-8"))["results"]


@pytest.fixture
def track() -> dict[str, Any]:
    """The captured track with two artists and a remixer."""
    return copy.deepcopy(_captured_tracks()[-1])


def test_every_field_of_the_captured_track(track: dict[str, Any]) -> None:
    result = normalize_beatport_track(track)

    assert result.beatport_id == 29324574
    assert result.mix_name == "Original Mix"
    assert result.isrc == "CNZ852302143"
    assert result.bpm == 133
    assert (result.key_name, result.camelot) == ("D Major", "10B")
    assert result.length_ms == 177293
    assert result.publish_date == date(2026, 6, 12)
    assert result.new_release_date == date(2023, 2, 23)
    assert result.catalog_number == "P10004103575"
    assert (result.genre.beatport_id, result.genre.name) == (5, "House")
    assert result.sub_genre is None
    assert result.release is not None
    assert result.release.beatport_id == 7063994
    assert result.release.label is not None
    assert (result.release.label.beatport_id, result.release.label.name) == (170735, "秀动发行")
    assert [(c.artist.beatport_id, c.role, c.position) for c in result.credits] == [
        (2399455, ArtistRole.ARTIST, 1),
        (2399576, ArtistRole.ARTIST, 2),
        (2399575, ArtistRole.REMIXER, 1),
    ]
    assert result.credits[0].artist.name == "林子云Claude"


def test_all_captured_tracks_normalize() -> None:
    for raw in _captured_tracks():
        assert normalize_beatport_track(raw).beatport_id == raw["id"]


def test_sub_genre_is_kept_by_id(track: dict[str, Any]) -> None:
    track["sub_genre"] = {"id": 90, "name": "Deep Tech", "slug": "deep-tech"}
    sub = normalize_beatport_track(track).sub_genre
    assert sub is not None
    assert (sub.beatport_id, sub.name, sub.slug) == (90, "Deep Tech", "deep-tech")


def test_null_key_gives_no_key_and_no_camelot(track: dict[str, Any]) -> None:
    track["key"] = None
    result = normalize_beatport_track(track)
    assert (result.key_name, result.camelot) == (None, None)


@pytest.mark.parametrize(("number", "letter", "expected"), [(8, "A", "8A"), (12, "b", "12B")])
def test_camelot_notation(track: dict[str, Any], number: int, letter: str, expected: str) -> None:
    track["key"]["camelot_number"] = number
    track["key"]["camelot_letter"] = letter
    assert normalize_beatport_track(track).camelot == expected


def test_null_label_and_empty_strings_are_absent(track: dict[str, Any]) -> None:
    track["release"]["label"] = None
    track["mix_name"] = ""
    track["catalog_number"] = None
    result = normalize_beatport_track(track)
    assert result.release is not None
    assert result.release.label is None
    assert result.mix_name is None
    assert result.catalog_number is None


def test_repeated_artist_is_credited_once_but_artist_and_remixer_both_kept(
    track: dict[str, Any],
) -> None:
    first = track["artists"][0]
    track["artists"].append(copy.deepcopy(first))
    track["remixers"] = [copy.deepcopy(first)]
    credits = normalize_beatport_track(track).credits
    assert [(c.artist.beatport_id, c.role, c.position) for c in credits] == [
        (first["id"], ArtistRole.ARTIST, 1),
        (track["artists"][1]["id"], ArtistRole.ARTIST, 2),
        (first["id"], ArtistRole.REMIXER, 1),
    ]


def test_missing_remixers_means_none(track: dict[str, Any]) -> None:
    del track["remixers"]
    credits = normalize_beatport_track(track).credits
    assert all(c.role is ArtistRole.ARTIST for c in credits)


def test_integral_float_bpm_is_accepted(track: dict[str, Any]) -> None:
    track["bpm"] = 124.0
    assert normalize_beatport_track(track).bpm == 124


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CNZ852302143", "CNZ852302143"),
        ("cn-z85-23-02143", "CNZ852302143"),
        (" US RC1 76 12345 ", "USRC17612345"),
        ("GBAYE0601498", "GBAYE0601498"),
        ("", None),
        (None, None),
        ("CNZ85230214", None),  # 11 characters
        ("CNZ8523021430", None),  # 13 characters
        ("1NZ852302143", None),  # country code must be letters
        ("CNZ85A302143", None),  # year must be digits
        ("CNZ8523021X3", None),  # designation must be digits
        ("CNZ_852302143", None),  # only hyphens and spaces are stripped
        (852302143, None),
    ],
)
def test_normalize_isrc(raw: object, expected: str | None) -> None:
    assert normalize_isrc(raw) == expected


def test_invalid_isrc_becomes_null_without_quarantine(track: dict[str, Any]) -> None:
    track["isrc"] = "NOT-AN-ISRC"
    normalized = normalize_beatport_track(track)
    assert (normalized.isrc, normalized.isrc_rejected) == (None, True)


@pytest.mark.parametrize("absent", [None, "", "  ", "\x00"])
def test_an_isrc_never_sent_is_not_rejected(track: dict[str, Any], absent: str | None) -> None:
    track["isrc"] = absent
    normalized = normalize_beatport_track(track)
    assert (normalized.isrc, normalized.isrc_rejected) == (None, False)
    del track["isrc"]
    assert normalize_beatport_track(track).isrc_rejected is False


def test_hyphenated_isrc_is_normalized_in_the_track(track: dict[str, Any]) -> None:
    track["isrc"] = "cn-z85-23-02143"
    normalized = normalize_beatport_track(track)
    assert (normalized.isrc, normalized.isrc_rejected) == ("CNZ852302143", False)


def _without(key: str):
    def mutate(track: dict[str, Any]) -> None:
        del track[key]

    return mutate


def _set(path: str, value: object):
    def mutate(track: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = track
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (_without("id"), "missing_field:id"),
        (_set("id", None), "missing_field:id"),
        (_set("id", "29324574"), "wrong_type:id"),
        (_set("id", True), "wrong_type:id"),
        (_set("id", -1), "absurd_value:id"),
        (_without("name"), "missing_field:name"),
        (_set("name", "   "), "missing_field:name"),
        (_set("name", 42), "wrong_type:name"),
        (_set("bpm", -120), "absurd_value:bpm"),
        (_set("bpm", 0), "absurd_value:bpm"),
        (_set("bpm", 401), "absurd_value:bpm"),
        (_set("bpm", "128"), "wrong_type:bpm"),
        (_set("bpm", 127.5), "wrong_type:bpm"),
        (_set("length_ms", -1), "absurd_value:length_ms"),
        (_set("length_ms", 10**12), "absurd_value:length_ms"),
        (_set("isrc", 12345), "wrong_type:isrc"),
        (_set("publish_date", "2026-02-30"), "invalid_date:publish_date"),
        (_set("publish_date", "2026-13-01"), "invalid_date:publish_date"),
        (_set("publish_date", "12/06/2026"), "invalid_date:publish_date"),
        (_set("publish_date", "0001-01-01"), "invalid_date:publish_date"),
        (_set("publish_date", None), "missing_field:publish_date"),
        (_set("publish_date", 20260612), "wrong_type:publish_date"),
        (_set("new_release_date", "2023-02-29"), "invalid_date:new_release_date"),
        (_set("genre", None), "null_object:genre"),
        (_without("genre"), "missing_field:genre"),
        (_set("genre", "House"), "wrong_type:genre"),
        (_set("genre.id", None), "missing_field:genre.id"),
        (_set("release", None), "null_object:release"),
        (_set("release.id", "x"), "wrong_type:release.id"),
        (_set("release.label", []), "wrong_type:release.label"),
        (_set("release.label.name", None), "missing_field:release.label.name"),
        (_set("sub_genre", {"id": 3}), "missing_field:sub_genre.name"),
        (_set("key", "D Major"), "wrong_type:key"),
        (_set("key.camelot_number", 13), "absurd_value:key.camelot_number"),
        (_set("key.camelot_letter", "C"), "absurd_value:key.camelot_letter"),
        (_set("artists", None), "missing_field:artists"),
        (_set("artists", {"id": 1}), "wrong_type:artists"),
        (_set("artists.0", None), "null_object:artists"),
        (_set("artists.0.id", "2399455"), "wrong_type:artists.id"),
        (_set("remixers", "nobody"), "wrong_type:remixers"),
        (_set("remixers.0.name", None), "missing_field:remixers.name"),
    ],
)
def test_malformed_records_raise_with_a_stable_reason(
    track: dict[str, Any], mutate, reason: str
) -> None:
    mutate(track)
    with pytest.raises(MalformedRecord) as caught:
        normalize_beatport_track(track)
    assert caught.value.reason == reason
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize("payload", [None, [], "track", 7])
def test_non_object_record_is_malformed(payload: object) -> None:
    with pytest.raises(MalformedRecord) as caught:
        normalize_beatport_track(payload)
    assert caught.value.reason.split(":")[0] in ("null_object", "wrong_type")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-02-29", date(2024, 2, 29)),
        ("2023-02-29", None),
        ("2024-1-5", None),
        ("2024-01-05T00:00:00", None),
        (None, None),
        (20240105, None),
    ],
)
def test_parse_iso_date(value: object, expected: date | None) -> None:
    assert parse_iso_date(value) == expected


# ---------------------------------------------------------------- mess that is not malformed


@pytest.mark.parametrize(
    ("field", "attribute"),
    [
        ("new_release_date", "new_release_date"),
        ("mix_name", "mix_name"),
        ("catalog_number", "catalog_number"),
        ("isrc", "isrc"),
        ("bpm", "bpm"),
        ("length_ms", "length_ms"),
        ("sub_genre", "sub_genre"),
        ("key", "key_name"),
    ],
)
@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_optional_field_is_absent_not_malformed(
    track: dict[str, Any], field: str, attribute: str, blank: str
) -> None:
    track[field] = blank
    assert getattr(normalize_beatport_track(track), attribute) is None


def test_a_blank_label_is_absent(track: dict[str, Any]) -> None:
    track["release"]["label"] = ""
    assert normalize_beatport_track(track).release.label is None


@pytest.mark.parametrize("field", ["publish_date", "name"])
def test_a_blank_required_field_is_still_missing(track: dict[str, Any], field: str) -> None:
    track[field] = ""
    with pytest.raises(MalformedRecord) as caught:
        normalize_beatport_track(track)
    assert caught.value.reason == f"missing_field:{field}"


def test_nul_characters_are_dropped_from_every_normalized_string(track: dict[str, Any]) -> None:
    track["name"] = "Gl\x00ue"
    track["mix_name"] = "\x00Original Mix"
    track["isrc"] = "CNZ85\x002302143"
    track["artists"][0]["name"] = "Bicep\x00"
    track["release"]["label"]["name"] = "Ninja\x00 Tune"
    result = normalize_beatport_track(track)
    assert (result.name, result.mix_name, result.isrc) == ("Glue", "Original Mix", "CNZ852302143")
    assert result.credits[0].artist.name == "Bicep"
    assert result.release.label.name == "Ninja Tune"


def test_a_name_of_nothing_but_nul_is_missing(track: dict[str, Any]) -> None:
    track["name"] = "\x00\x00"
    with pytest.raises(MalformedRecord) as caught:
        normalize_beatport_track(track)
    assert caught.value.reason == "missing_field:name"


def test_content_key_is_stable_and_never_a_beatport_id(track: dict[str, Any]) -> None:
    del track["id"]
    reordered = dict(reversed(list(track.items())))
    assert content_key(track) == content_key(reordered)
    assert content_key(track).startswith("unkeyed:")
    assert len(content_key(track)) <= 64
    track["name"] = "Other"
    assert content_key(track) != content_key(reordered)
    assert content_key(None) != content_key([])
