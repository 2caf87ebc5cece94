"""The CLI's default Dagster instance (pools, run monitoring, run retries), read from package data.

It lives in the installed package rather than in the checkout so that `pip install` of the wheel
followed by `collection-pipeline run` in any folder gets the same instance as a run from the
repository; without it, runs would fall back to Dagster's defaults (no pool limits, no monitoring).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

RESOURCE = "instance_defaults.yaml"


def instance_defaults_yaml() -> str:
    """The packaged dagster.yaml text, exactly as shipped."""
    return files("collection_pipeline").joinpath(RESOURCE).read_text(encoding="utf-8")


def seed_instance_home(home: Path) -> bool:
    """Write the defaults to `home/dagster.yaml` unless it exists (an operator's file wins)."""
    target = home / "dagster.yaml"
    if target.exists():
        return False
    target.write_text(instance_defaults_yaml(), encoding="utf-8")
    return True
