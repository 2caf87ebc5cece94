"""What every benchmark shares: a standalone emulator, repetitions, and one result format.

The standalone emulator is `collection_pipeline.testing.standalone`'s (tests use it too),
re-exported here so every benchmark imports its helpers from one module.

Each benchmark script writes `bench/results/<name>.json` through `write_results`, and
`bench/run_all.py` gathers those files into the README table. A figure is always reported
beside the baseline or limit it was measured against in the same run, as a ratio with the
threshold it must meet.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from collection_pipeline.testing.standalone import standalone_emulator

__all__ = [
    "RESULTS_DIR",
    "Figure",
    "markdown_table",
    "median_of",
    "print_table",
    "standalone_emulator",
    "write_results",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured figure and the same-run reference it is judged against."""

    benchmark: str
    figure: str
    value: float
    unit: str
    reference: float | None = None
    reference_name: str | None = None
    threshold: float | None = None
    higher_is_better: bool = True
    detail: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference in (None, 0):
            return None
        return self.value / self.reference

    @property
    def passed(self) -> bool | None:
        judged = self.ratio if self.reference is not None else self.value
        if self.threshold is None or judged is None:
            return None
        return judged >= self.threshold if self.higher_is_better else judged <= self.threshold

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ratio": self.ratio, "passed": self.passed}


def live_env(base_url: str, home: str | Path, database_url: str) -> dict[str, str]:
    """The variables that point a Dagster run, in live mode, at a standalone emulator: the
    benchmarks time the real clients over loopback, not the embedded in-process one."""
    return {
        "DAGSTER_HOME": str(home),
        "COLLECTION_SOURCE": "live",
        "COLLECTION_DATABASE_URL": database_url,
        "BEATPORT_API_URL": f"{base_url}/v4",
        "BEATPORT_ACCESS_TOKEN": "bench-token",
        "SPOTIFY_API_URL": f"{base_url}/v1",
        "SPOTIFY_TOKEN_URL": f"{base_url}/api/token",
        "SPOTIFY_CLIENT_ID": "bench-client",
        "SPOTIFY_CLIENT_SECRET": "bench-secret",
    }


def median_of(repetitions: int, measure: Callable[[], float]) -> float:
    """Median of several runs: these machines are shared, a single run is noise."""
    return statistics.median(measure() for _ in range(repetitions))


def write_results(name: str, figures: list[Figure], parameters: dict[str, object]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "parameters": parameters,
        "figures": [figure.as_dict() for figure in figures],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def print_table(figures: list[Figure]) -> None:
    print(markdown_table([figure.as_dict() for figure in figures]))


def markdown_table(rows: list[dict[str, object]]) -> str:
    header = "| benchmark | figure | value | reference | ratio | threshold | met |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in rows:
        reference = (
            f"{_number(row['reference'])} ({row['reference_name']})"
            if row["reference"] is not None
            else "-"
        )
        ratio = _number(row["ratio"]) if row["ratio"] is not None else "-"
        comparator = ">=" if row["higher_is_better"] else "<="
        threshold = f"{comparator} {row['threshold']}" if row["threshold"] is not None else "-"
        met = {True: "yes", False: "**NO**", None: "-"}[row["passed"]]
        value = f"{_number(row['value'])} {row['unit']}"
        lines.append(
            f"| {row['benchmark']} | {row['figure']} | {value} | {reference} | {ratio} "
            f"| {threshold} | {met} |"
        )
    return "\n".join(lines)


def _number(value: object) -> str:
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"
    return str(value)
