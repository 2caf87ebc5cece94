"""Pools: every pool the README and the shipped instance configs name is one a step claims, so a
limit an operator sets there always binds a step (a declared pool no step claims limits nothing)."""

from __future__ import annotations

import re
from pathlib import Path

from collection_pipeline.definitions import defs

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [
    "README.md",
    "dagster.yaml",
    "collection_pipeline/instance_defaults.yaml",
    "deploy/k8s/values.yaml",
]
POOL_NAME = re.compile(r"`(\w+_api)`|concurrency set (\w+)")


def _claimed_pools() -> set[str]:
    repository = defs.get_repository_def()
    return {
        node.definition.pool
        for job in repository.get_all_jobs()
        for node in job.graph.nodes
        if node.definition.pool
    }


def test_every_documented_pool_is_claimed_by_a_step():
    assert _claimed_pools() == {"spotify_api"}
    named = {
        f"{document}: {next(filter(None, match.groups()))}"
        for document in DOCUMENTS
        for match in POOL_NAME.finditer((ROOT / document).read_text())
    }
    assert named, "the documents name the pools"
    unclaimed = {entry for entry in named if entry.rsplit(": ", 1)[1] not in _claimed_pools()}
    assert not unclaimed
