"""deploy/k8s/values.yaml installs the instance README describes.

The values are merged over the chart's defaults the way Helm merges them and validated against the
chart's values.schema.json (both vendored in helm_chart/, see its README for source and version).
The schema cannot say what the instance ConfigMap will contain, so `rendered_instance` follows the
conditions of the chart's instance templates for the keys this deployment relies on, and the
result is checked with Dagster's own instance-config validation.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster_postgres.utils import get_conn_string
from jsonschema import Draft202012Validator

from collection_pipeline.instance_defaults import instance_defaults_yaml
from collection_pipeline_tests.support.build_context import dockerfile_cmd

ROOT = Path(__file__).resolve().parent.parent
CHART = Path(__file__).resolve().parent / "helm_chart"
VALUES = ROOT / "deploy" / "k8s" / "values.yaml"


def helm_merge(defaults: Any, overrides: Any) -> Any:
    """Helm's coalescing of user values over chart values: maps merge key by key, a null deletes
    the key, anything else (lists included) replaces."""
    if not (isinstance(defaults, dict) and isinstance(overrides, dict)):
        return copy.deepcopy(overrides)
    merged = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = helm_merge(merged.get(key), value)
    return merged


def _local_schema(node: Any) -> Any:
    """The schema without its references to remote Kubernetes definitions (no network here); every
    constraint of the chart's own remains."""
    if isinstance(node, dict):
        return {
            key: _local_schema(value)
            for key, value in node.items()
            if not (key == "$ref" and str(value).startswith("http"))
        }
    if isinstance(node, list):
        return [_local_schema(item) for item in node]
    return node


VALIDATOR = Draft202012Validator(
    _local_schema(json.loads((CHART / "values.schema.json").read_text()))
)


def chart_values(overrides: dict[str, Any]) -> dict[str, Any]:
    return helm_merge(yaml.safe_load((CHART / "values.yaml").read_text()), overrides)


def schema_errors(values: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in VALIDATOR.iter_errors(values)
    ]


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return chart_values(yaml.safe_load(VALUES.read_text()))


def _postgres_config(values: dict[str, Any]) -> dict[str, Any]:
    postgresql = values["postgresql"]
    config = {
        "username": postgresql["postgresqlUsername"],
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": postgresql["postgresqlHost"],
        "db_name": postgresql["postgresqlDatabase"],
        "port": postgresql["service"]["port"],
        "params": postgresql["postgresqlParams"],
    }
    if postgresql.get("postgresqlScheme"):  # rendered only when non-empty
        config["scheme"] = postgresql["postgresqlScheme"]
    return {"postgres_db": config}


def _concurrency(values: dict[str, Any]) -> dict[str, Any]:
    pools, runs = values["concurrency"]["pools"], values["concurrency"]["runs"]
    rendered: dict[str, Any] = {}
    pool_config = {
        "default_limit": pools.get("defaultLimit"),
        "granularity": pools.get("granularity") or None,
        "op_granularity_run_buffer": pools.get("opGranularityRunBuffer"),
    }
    if any(v is not None for v in pool_config.values()):
        rendered["pools"] = {k: v for k, v in pool_config.items() if v is not None}
    run_config: dict[str, Any] = {}
    if runs.get("maxConcurrentRuns") is not None:
        run_config["max_concurrent_runs"] = runs["maxConcurrentRuns"]
    if runs.get("tagConcurrencyLimits"):
        run_config["tag_concurrency_limits"] = runs["tagConcurrencyLimits"]
    if run_config:
        rendered["runs"] = run_config
    return rendered


def rendered_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The parts of the chart's instance ConfigMap (dagster.yaml of every run pod and the daemon)
    that this deployment depends on, under the conditions the chart's templates render them."""
    daemon = values["dagsterDaemon"]
    instance: dict[str, Any] = {"telemetry": {"enabled": values["telemetry"]["enabled"]}}
    for key, module, cls in (
        ("run_storage", "dagster_postgres.run_storage", "PostgresRunStorage"),
        ("event_log_storage", "dagster_postgres.event_log", "PostgresEventLogStorage"),
        ("schedule_storage", "dagster_postgres.schedule_storage", "PostgresScheduleStorage"),
    ):
        instance[key] = {"module": module, "class": cls, "config": _postgres_config(values)}
    coordinator = daemon["runCoordinator"]
    queued = coordinator["type"] == "QueuedRunCoordinator"
    if daemon["enabled"] and coordinator["enabled"] and queued:
        instance["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
        }
    monitoring = daemon["runMonitoring"]
    if daemon["enabled"] and monitoring.get("enabled"):
        rendered = {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
            "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"],
        }
        for key, name in (
            ("cancel_timeout_seconds", "cancelTimeoutSeconds"),
            ("max_runtime_seconds", "maxRuntimeSeconds"),
            ("max_resume_run_attempts", "maxResumeRunAttempts"),
        ):
            if monitoring.get(name) is not None:
                rendered[key] = monitoring[name]
        instance["run_monitoring"] = rendered
    retries = daemon["runRetries"]
    if daemon["enabled"] and retries["enabled"]:
        instance["run_retries"] = {"enabled": True}
        if retries.get("maxRetries"):  # a 0 is not rendered
            instance["run_retries"]["max_retries"] = retries["maxRetries"]
        if "retryOnAssetOrOpFailure" in retries:  # rendered whenever the key is present
            instance["run_retries"]["retry_on_asset_or_op_failure"] = retries[
                "retryOnAssetOrOpFailure"
            ]
    if values["concurrency"]["enabled"]:
        instance["concurrency"] = _concurrency(values)
    return instance


@contextmanager
def cluster_instance(values: dict[str, Any], tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A DagsterInstance with the rendered settings: the whole file is validated as rendered, then
    loaded with the PostgreSQL storages left out (so it falls back to SQLite under tmp_path and
    nothing connects) to read the settings through Dagster's own properties."""
    rendered = rendered_instance(values)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(rendered))
    dagster_instance_config(str(tmp_path))
    for key in ("run_storage", "event_log_storage", "schedule_storage"):
        del rendered[key]
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(rendered))
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        yield instance


def test_values_merged_over_the_chart_defaults_satisfy_the_schema(values):
    assert schema_errors(values) == []


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"runLauncher": {"type": "K8sLauncher"}}, "runLauncher.type"),
        ({"concurrency": {"pools": {"defaultLimt": 1}}}, "concurrency.pools"),
        ({"dagsterDaemon": {"runRetries": {"maxRetries": "two"}}}, "runRetries.maxRetries"),
    ],
)
def test_schema_rejects_a_broken_value(values, override, expected):
    errors = schema_errors(helm_merge(values, override))
    assert any(e.startswith(f"{expected}") or expected in e for e in errors), errors


def test_chart_does_not_render_its_own_postgresql_secret(values):
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"


def test_instance_storage_uses_psycopg2_which_the_image_has(values, monkeypatch):
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "secret")

    def driver(vals: dict[str, Any]) -> str:
        db = dict(_postgres_config(vals)["postgres_db"], password="secret")
        return sa.make_url(get_conn_string(**db)).get_dialect().driver

    assert driver(values) == "psycopg2"
    assert importlib.util.find_spec("psycopg2") is not None
    # The chart's default (no scheme) would load psycopg 3, which nothing here installs.
    unschemed = helm_merge(values, {"postgresql": {"postgresqlScheme": ""}})
    assert driver(unschemed) == "psycopg"
    assert importlib.util.find_spec("psycopg") is None


def test_rendered_instance_has_the_pools_monitoring_and_retries_of_the_local_one(values, tmp_path):
    local = yaml.safe_load(instance_defaults_yaml())
    with cluster_instance(values, tmp_path) as instance:
        concurrency = instance.get_concurrency_config()
        pools, runs = concurrency.pool_config, concurrency.run_queue_config
        assert pools.default_pool_limit == local["concurrency"]["pools"]["default_limit"] == 1
        assert pools.pool_granularity.value == local["concurrency"]["pools"]["granularity"]
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert runs.max_concurrent_runs == 8
        assert runs.tag_concurrency_limits == [{"key": "dagster/backfill", "limit": 2}]
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 30
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2
        assert instance.run_retries_retry_on_asset_or_op_failure is False
        assert local["run_retries"]["retry_on_asset_or_op_failure"] is False
        assert not instance.telemetry_enabled


def test_without_the_key_dagster_would_retry_asset_failures(values, tmp_path):
    """Why retryOnAssetOrOpFailure is spelled out: Dagster's default for it is true."""
    dropped = copy.deepcopy(values)
    del dropped["dagsterDaemon"]["runRetries"]["retryOnAssetOrOpFailure"]
    with cluster_instance(dropped, tmp_path) as instance:
        assert instance.run_retries_retry_on_asset_or_op_failure is True


def test_without_concurrency_enabled_the_pools_would_be_unlimited(values, tmp_path):
    disabled = helm_merge(values, {"concurrency": {"enabled": False}})
    assert "concurrency" not in rendered_instance(disabled)


def test_user_code_deployment_serves_the_image_command_and_passes_config_to_runs(values):
    [deployment] = values["dagster-user-deployments"]["deployments"]
    command = dockerfile_cmd()
    assert command[:3] == ["dagster", "api", "grpc"]
    assert deployment["dagsterApiGrpcArgs"] == command[command.index("3030") + 1 :]
    assert deployment["port"] == 3030
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert {"name": "collection-pipeline-env"} in deployment["envSecrets"]
    assert {"name": "COLLECTION_SOURCE", "value": "live"} in deployment["env"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False


def test_readme_installs_the_chart_of_the_pinned_release_with_the_secrets_the_values_use(values):
    readme = (ROOT / "README.md").read_text()
    scaling = readme[readme.index("<!-- scaling:start -->") : readme.index("<!-- scaling:end -->")]
    pyproject = (ROOT / "pyproject.toml").read_text()
    [dagster_pin] = re.findall(r'"dagster==([0-9.]+)"', pyproject)
    assert f"helm upgrade --install dagster dagster/dagster --version {dagster_pin} " in scaling
    [deployment] = values["dagster-user-deployments"]["deployments"]
    for secret in [
        values["global"]["postgresqlSecretName"],
        *(s["name"] for s in deployment["envSecrets"]),
    ]:
        assert f"kubectl create secret generic {secret} " in scaling, secret
    assert "--from-literal=postgresql-password=" in scaling
