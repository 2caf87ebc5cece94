"""Every shipped YAML parses; the instance configs load as Dagster instances and agree on pools;
the CLI's instance defaults come from package data, identical to the repository's dagster.yaml."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef

from collection_pipeline.instance_defaults import instance_defaults_yaml, seed_instance_home

ROOT = Path(__file__).resolve().parent.parent
YAML_FILES = sorted(
    p
    for pattern in ("*.yaml", "deploy/**/*.yaml", ".github/**/*.yaml")
    for p in ROOT.glob(pattern)
    if ".venv" not in p.parts
)


def test_the_expected_yaml_files_exist():
    names = {p.relative_to(ROOT).as_posix() for p in YAML_FILES}
    assert {
        "dagster.yaml",
        "workspace.yaml",
        "deploy/postgres/dagster.yaml",
        "deploy/k8s/values.yaml",
    } <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_yaml_parses(path):
    assert isinstance(yaml.safe_load(path.read_text()), dict)


@pytest.mark.parametrize("relative", ["dagster.yaml", "deploy/postgres/dagster.yaml"])
def test_instance_config_is_valid_and_limits_pools_to_one(relative, tmp_path, monkeypatch):
    for name in ("HOST", "PORT", "DB", "USERNAME", "PASSWORD"):
        monkeypatch.setenv(f"DAGSTER_PG_{name}", "5432" if name == "PORT" else "x")
    (tmp_path / "dagster.yaml").write_text((ROOT / relative).read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    assert config["telemetry"]["enabled"] is False


def test_local_instance_loads(tmp_path):
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_repository_dagster_yaml_is_the_packaged_instance_defaults():
    """One instance for a checkout and a pip install: the root copy may not drift."""
    assert (ROOT / "dagster.yaml").read_text() == instance_defaults_yaml()
    assert (ROOT / "collection_pipeline" / "instance_defaults.yaml").is_file()


def test_seeding_writes_the_defaults_once_and_keeps_an_existing_file(tmp_path):
    assert seed_instance_home(tmp_path) is True
    assert (tmp_path / "dagster.yaml").read_text() == instance_defaults_yaml()
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    assert seed_instance_home(tmp_path) is False
    assert (tmp_path / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"


def test_packaged_defaults_load_as_an_instance_with_pools_monitoring_and_retries(tmp_path):
    seed_instance_home(tmp_path)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_monitoring_enabled
        assert instance.run_retries_enabled
        assert instance.run_retries_retry_on_asset_or_op_failure is False


def test_helm_values_run_the_code_location_with_k8s_launcher():
    values = yaml.safe_load((ROOT / "deploy/k8s/values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert "collection_pipeline.definitions" in deployment["dagsterApiGrpcArgs"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["postgresql"]["enabled"] is False
    assert values["concurrency"]["pools"]["defaultLimit"] == 1
    assert {"name": "collection-pipeline-env"} in deployment["envSecrets"]


def test_workspace_and_pyproject_point_at_the_definitions():
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == (
        "collection_pipeline.definitions"
    )
    assert (
        'module_name = "collection_pipeline.definitions"' in (ROOT / "pyproject.toml").read_text()
    )
