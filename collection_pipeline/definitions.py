"""The code location: every asset, check, job, schedule, sensor and resource, wired once.

Loading it needs no credentials and starts nothing: resources read the environment here but
validate it, and start the embedded emulator, only when a run or sensor uses them.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from collection_pipeline.assets import ASSETS
from collection_pipeline.automation import (
    automation_sensor,
    daily_collection_job,
    daily_collection_schedule,
    spotify_recheck_job,
    spotify_recheck_sensor,
)
from collection_pipeline.checks import CHECKS
from collection_pipeline.resources import resources_from_env


def build_definitions(resources: Mapping[str, dg.ConfigurableResource]) -> dg.Definitions:
    """Everything, bound to the given resources (tests bind emulators and temp databases)."""
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=[daily_collection_job, spotify_recheck_job],
        schedules=[daily_collection_schedule],
        sensors=[spotify_recheck_sensor, automation_sensor],
        resources=resources,
    )


defs = build_definitions(resources_from_env())
