"""What every benchmark shares: a standalone emulator, repetitions, and one result format.

Each benchmark script writes `bench/results/<name>.json` through `write_results`, and
`bench/run_all.py` gathers those files into the README table. A figure is always reported
beside the baseline or limit it was measured against in the same run, as a ratio with the
threshold it must meet.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

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


def median_of(repetitions: int, measure: Callable[[], float]) -> float:
    """Median of several runs: these machines are shared, a single run is noise."""
    return statistics.median(measure() for _ in range(repetitions))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def standalone_emulator(*args: str) -> Iterator[str]:
    """Run `python -m collection_pipeline.emulator` in its own process; yield its base URL.

    A separate process keeps the emulator off the benchmark's own interpreter, so the
    figures measure the client, not a shared GIL.
    """
    port = free_port()
    command = [sys.executable, "-m", "collection_pipeline.emulator", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base_url, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_serving(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"emulator exited with {process.returncode}: {stderr}")
        try:
            httpx.get(f"{base_url}/_emulator/stats", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"emulator at {base_url} did not start within 30 s")


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
