"""`python -m collection_pipeline.emulator` flags: the drift, move, over-cap and failure knobs."""

from __future__ import annotations

from datetime import date

import pytest

from collection_pipeline.emulator.__main__ import config_from_args, parse_args
from collection_pipeline.emulator.config import OVERCAP_DAY, OVERCAP_GENRE_ID, EmulatorConfig


def test_the_flags_set_the_knobs_of_issue_12() -> None:
    config = config_from_args(
        parse_args(
            [
                "--profile", "drift", "--failing-genre-day", "6:2024-03-02",
                "--drift-per-block", "3", "--drift-per-request", "5",
                "--moves-per-block", "2", "--moves-per-request", "4",
                "--overcap-tracks", "11000", "--overcap-genre-id", "5",
                "--overcap-day", "2024-04-01",
            ]
        )
    )  # fmt: skip
    assert config.profile == "drift"
    assert config.failing_genre_day == (6, date(2024, 3, 2))
    assert (config.effective_drift_per_block, config.drift_per_request) == (3, 5)
    assert (config.effective_moves_per_block, config.moves_per_request) == (2, 4)
    assert config.effective_overcap_tracks == 11_000
    assert (config.overcap_genre_id, config.overcap_day) == (5, date(2024, 4, 1))


def test_left_out_flags_keep_the_profile_presets() -> None:
    overcap = config_from_args(parse_args(["--profile", "overcap"]))
    assert overcap == EmulatorConfig(profile="overcap")
    # The real cap, which no flag lowers: the pipeline a standalone emulator serves has no
    # setting for it either (bench_beatport's overcap case crawls 12,500 tracks past 10,000).
    assert (overcap.count_cap, overcap.effective_overcap_tracks) == (10_000, 12_500)
    drift = config_from_args(parse_args(["--profile", "drift"]))
    assert (drift.effective_drift_per_block, drift.effective_moves_per_block) == (2, 1)
    assert (drift.overcap_genre_id, drift.overcap_day) == (OVERCAP_GENRE_ID, OVERCAP_DAY)


def test_a_malformed_genre_day_or_knob_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--failing-genre-day", "6-2024-03-02"])
    assert "GENRE:YYYY-MM-DD" in capsys.readouterr().err
    with pytest.raises(ValueError, match="moves_per_block"):
        config_from_args(parse_args(["--moves-per-block", "-1"]))
    with pytest.raises(ValueError, match="count_cap"):
        EmulatorConfig(count_cap=0)
