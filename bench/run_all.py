"""Run the whole benchmark suite and write its table into the README.

    python -m bench.run_all            # every benchmark at default sizes
    python -m bench.run_all --only bench_spotify bench_beatport
    python -m bench.run_all --no-readme

Each benchmark runs in its own process (so one's memory or threads never colour another's
figures) and writes `bench/results/<name>.json`; this script gathers them into
`bench/results/summary.json` and the README's performance table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import RESULTS_DIR, markdown_table

BENCHMARKS = {
    "bench_emulator": "emulator",
    "bench_spotify": "spotify",
    "bench_beatport": "beatport",
    "bench_storage": "storage",
    "bench_processing": "processing",
    "bench_accuracy": "accuracy",
    "bench_end_to_end": "end_to_end",
    "bench_ui": "ui",
    "bench_outage": "outage",
}
README = Path(__file__).resolve().parent.parent / "README.md"
START_MARKER = "<!-- bench-table:start -->"
END_MARKER = "<!-- bench-table:end -->"


def run_benchmark(module: str) -> tuple[bool, float]:
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", f"bench.{module}"], check=False)
    return completed.returncode == 0, time.monotonic() - started


def gather(result_names: list[str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name in result_names:
        path = RESULTS_DIR / f"{name}.json"
        if path.exists():
            rows.extend(json.loads(path.read_text())["figures"])
    return rows


def update_readme(table: str, command: str) -> None:
    text = README.read_text()
    if START_MARKER not in text or END_MARKER not in text:
        raise SystemExit(f"README.md lacks the {START_MARKER} / {END_MARKER} markers")
    today = datetime.now(UTC).date().isoformat()
    block = f"{START_MARKER}\nMeasured {today} with `{command}`:\n\n{table}\n{END_MARKER}"
    head, rest = text.split(START_MARKER, 1)
    tail = rest.split(END_MARKER, 1)[1]
    README.write_text(head + block + tail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite README.md")
    args = parser.parse_args()
    selected = args.only or list(BENCHMARKS)

    failures = []
    for module in selected:
        print(f"== {module}", flush=True)
        ok, seconds = run_benchmark(module)
        print(f"== {module}: {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
        if not ok:
            failures.append(module)

    rows = gather([BENCHMARKS[module] for module in BENCHMARKS])
    table = markdown_table(rows)
    print(table)
    (RESULTS_DIR / "summary.json").write_text(json.dumps({"figures": rows}, indent=2) + "\n")
    if not args.no_readme and not args.only:
        update_readme(table, "python -m bench.run_all")
    missed = [row for row in rows if row["passed"] is False]
    if failures or missed:
        print(f"failed benchmarks: {failures}; figures below threshold: {len(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
