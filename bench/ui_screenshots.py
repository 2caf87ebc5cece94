"""Screenshots of the Dagster UI for the README, from a real `dagster dev` in headless Chromium.

    pip install -e '.[screenshots]'     # Playwright from PyPI; the browser is Debian's chromium
    python -m bench.ui_screenshots [--out docs/images] [--browser /usr/bin/chromium]

Serves the emulator (with one genre-day that always fails), starts `dagster dev` on a scratch
DAGSTER_HOME, launches a 7-day backfill through the UI's GraphQL (six days succeed, one fails
alone) and saves the asset graph, a Partitions view, the per-day materializations, the
enrichment's metadata plotted per day on the Partitions axis and a check's history with its
per-day plots.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collection_pipeline.emulator import EmulatorConfig, serve_in_thread
from collection_pipeline.testing.dagster_dev import DagsterDev, dagster_dev, day_keys

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ["raw_beatport_tracks", "processed_tracks", "spotify_enrichments"]
LAST_DAY = datetime.now(UTC).date() - timedelta(days=1)
DAYS = day_keys(LAST_DAY - timedelta(days=6), LAST_DAY)
"""The week up to yesterday: the Partitions-axis plots draw the newest 120 partition keys of the
definition (materialized or not), so days further back would plot nothing there."""
FAILING_DAY = LAST_DAY - timedelta(days=2)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = {
    "asset-graph.png": "/asset-groups/catalogue",
    "partitions.png": f"/assets/raw_beatport_tracks?view=partitions&partition={FAILING_DAY}",
    "events.png": "/assets/processed_tracks?view=events",
    "plots.png": "/assets/spotify_enrichments",
    "check-history.png": "/assets/raw_beatport_tracks?view=checks"
    "&checkDetail=complete_against_api_count",
}
RANGE = f"[{DAYS[0]}...{DAYS[-1]}]"
"""The Partitions view opens on every day since the start date; narrow it to the run's days."""


def live_env(base_url: str, home: Path) -> dict[str, str]:
    return {
        "COLLECTION_SOURCE": "live",
        "COLLECTION_DATABASE_URL": f"sqlite:///{home / 'catalogue.db'}",
        "COLLECTION_GENRE_IDS": "5,11,12",
        "BEATPORT_API_URL": f"{base_url}/v4",
        "BEATPORT_ACCESS_TOKEN": "screenshot-token",
        "SPOTIFY_API_URL": f"{base_url}/v1",
        "SPOTIFY_TOKEN_URL": f"{base_url}/api/token",
        "SPOTIFY_CLIENT_ID": "screenshot-id",
        "SPOTIFY_CLIENT_SECRET": "screenshot-secret",
    }


def shoot(dev: DagsterDev, out: Path, browser_path: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        for name, path in PAGES.items():
            page.goto(dev.url + path, wait_until="networkidle", timeout=60_000)
            _skip_community_dialog(page)
            if "view=partitions" in path:
                box = page.locator("input[value^='[']").first
                box.fill(RANGE)
                box.press("Enter")
            if name == "plots.png":
                _show_partition_plots(page)
            page.wait_for_timeout(2_500)  # the UI renders graphs after its queries settle
            target = out / name
            page.screenshot(path=str(target), full_page=name == "events.png")
            saved.append(target)
        browser.close()
    return saved


def _skip_community_dialog(page: Any) -> None:
    """The first visit's community dialog opens a moment after the page; wait for it briefly."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=3_000)
    except PlaywrightTimeout:
        return
    skip.click()


def _show_partition_plots(page: Any) -> None:
    """The overview's Metadata section, switched from its table to its plots: for a partitioned
    asset they open on the Partitions axis, one point per day for every numeric entry."""
    page.get_by_role("button", name="Plots").first.click()
    page.get_by_text("Metadata", exact=True).first.evaluate(
        "heading => heading.scrollIntoView({block: 'start'})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--browser", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = EmulatorConfig(tracks_per_day=8, failing_genre_day=(5, FAILING_DAY))
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(config) as base_url:
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
        with dagster_dev(home, live_env(base_url, home)) as dev:
            status = dev.backfill(ASSETS, DAYS, timeout_s=600)["status"]
            print(f"backfill of {DAYS[0]}..{DAYS[-1]}: {status}")
            for path in shoot(dev, args.out, args.browser):
                print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
