"""The code location: every asset, check, job, schedule, sensor and resource, wired once.

The Dagster objects are discovered in the `defs/` folder, as in every `dg` project; resources
are bound here so that tests can bind emulators and temporary databases instead. Loading needs
no credentials and starts nothing: resources read the environment here but validate it, and
start the embedded emulator, only when a run or sensor uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from dagster.components import load_defs

import collection_pipeline.defs
from collection_pipeline.defs.resources import resources_from_env


def build_definitions(resources: Mapping[str, dg.ConfigurableResource]) -> dg.Definitions:
    """Everything in `defs/`, bound to the given resources."""
    # The folder holding the package (the checkout, or site-packages for an installed wheel):
    # left to itself, load_defs looks for a pyproject.toml above defs/ and fails without one.
    project_root = Path(collection_pipeline.defs.__file__).resolve().parents[2]
    return dg.Definitions.merge(
        load_defs(defs_root=collection_pipeline.defs, project_root=project_root),
        dg.Definitions(resources=resources),
    )


defs = build_definitions(resources_from_env())
