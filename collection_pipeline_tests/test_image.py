"""The image as the chart runs it, and the wheel as a user installs it, without Docker.

One fresh virtualenv gets what deploy/Dockerfile installs, with the same installer (uv, the
version the Dockerfile pins): requirements.lock with hashes checked, then the package built as a
wheel from the Docker build context (the files .dockerignore lets through) and installed without
dependencies. Then:
- the code server starts with the chart's command line and only the environment a chart pod gets
  (image ENV, the chart's shared and per-deployment variables, the values' env and the
  collection-pipeline-env secret's keys), in the image's working directory, and passes the
  health check the chart's readiness probe runs;
- `collection-pipeline run` in a folder outside the checkout writes the packaged instance
  defaults and the pools its run claims get limit 1.
uv's cache is used (nothing disables it), so with it warm the install costs little. The one
difference from the image: the Dockerfile compiles the bytecode of every installed module
(`--compile-bytecode`), which changes no behaviour; here that cost 40 to 90 CPU-seconds of the
suite's shared cores, while the two processes below import a fraction of those modules and
Python caches their bytecode for the second one. (pip stored nothing in its cache on these
machines: 22-70 s for the same install.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import ListRepositoriesResponse
from dagster_shared.serdes import deserialize_value

from collection_pipeline.testing.ports import PortTakenError, retry_if_port_taken
from collection_pipeline_tests.support.build_context import ROOT, copy_context, dockerfile_cmd

pytestmark = pytest.mark.slow

IMAGE = "registry.example.com/collection-pipeline:0.1.0"
RELEASE = "dagster"
CODE_SERVER_STARTED = "Started Dagster code server"
BIND_FAILED = "Failed to bind to address"  # gRPC's words when the port is taken
# What `collection-pipeline-env` holds (README "Scaling out"); any credentials do for loading.
SECRET = {
    "COLLECTION_DATABASE_URL": "postgresql+psycopg2://user:pass@127.0.0.1:5432/catalogue",
    "BEATPORT_ACCESS_TOKEN": "beatport-token",
    "BEATPORT_REFRESH_TOKEN": "beatport-refresh",
    "BEATPORT_CLIENT_ID": "beatport-client",
    "SPOTIFY_CLIENT_ID": "spotify-client",
    "SPOTIFY_CLIENT_SECRET": "spotify-secret",
}


@dataclass(frozen=True)
class ImageEnv:
    context: Path
    venv: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


UV = Path(sys.executable).parent / "uv"  # the dev venv's, from requirements-dev.lock


def _clean_env() -> dict[str, str]:
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "UV_NO_CACHE", "UV_PYTHON", "UV_SYSTEM_PYTHON"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(args: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs
    )
    assert completed.returncode == 0, (args, completed.stdout[-2000:], completed.stderr[-4000:])
    return completed


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> ImageEnv:
    base = tmp_path_factory.mktemp("image")
    context, venv, dist = base / "context", base / "venv", base / "dist"
    copied = copy_context(context)
    assert "requirements.lock" in copied
    assert "collection_pipeline/instance_defaults.yaml" in copied
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    env = _clean_env()
    python = venv / "bin" / "python"
    lock = context / "requirements.lock"
    install = [UV, "pip", "install", "--python", python]
    _run([*install, "--require-hashes", "-r", lock], env=env)
    _run([UV, "build", "--wheel", "--out-dir", dist, context], env=env)
    [wheel] = dist.glob("collection_pipeline-*.whl")
    _run([*install, "--no-deps", wheel], env=env)
    return ImageEnv(context=context, venv=venv)


def _deployment() -> dict:
    values = yaml.safe_load((ROOT / "deploy" / "k8s" / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    return deployment


def _chart_pod_env(image: ImageEnv, home: Path, deployment: dict) -> dict[str, str]:
    """The code-server container's environment as the chart (user-deployments subchart) builds it,
    plus the image's own ENV and PATH."""
    container_context = {
        "k8s": {
            "image_pull_policy": deployment["image"]["pullPolicy"],
            "env_config_maps": [f"{RELEASE}-{deployment['name']}-user-env"],
            "env_secrets": [s["name"] for s in deployment["envSecrets"]],
            "resources": deployment["resources"],
            "namespace": "default",
            "service_account_name": f"{RELEASE}-user-deployments",
            "env": deployment["env"],
        }
    }
    env = {
        "PATH": f"{image.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home.parent / "home-dagster"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "DAGSTER_HOME": str(home),
        "DAGSTER_K8S_PIPELINE_RUN_NAMESPACE": "default",
        "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP": f"{RELEASE}-pipeline-env",
        "DAGSTER_CURRENT_IMAGE": IMAGE,
        "DAGSTER_PG_PASSWORD": "instance-db-password",
        "DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT": json.dumps(container_context),
    }
    env.update({item["name"]: item["value"] for item in deployment["env"]})
    env.update(SECRET)
    return env


@pytest.fixture
def code_server(image, tmp_path) -> Iterator[tuple[int, subprocess.Popen[str], Path]]:
    """The code server as the chart starts it; its port, process and output file.

    `dagster api grpc` takes a port number, not a socket, so the port cannot be held for it: a
    race lost for it ends the server at once with gRPC's bind error, and it is started again
    on a fresh port (`retry_if_port_taken`).
    """
    deployment = _deployment()
    home = tmp_path / "dagster_home"  # the image creates global.dagsterHome, empty
    home.mkdir()
    output = tmp_path / "code-server.log"

    def start(port: int) -> tuple[int, subprocess.Popen[str]]:
        # The chart's args; 127.0.0.1 instead of 0.0.0.0 keeps the test on loopback.
        args = ["dagster", "api", "grpc", "-h", "127.0.0.1", "-p", str(port)]
        args += deployment["dagsterApiGrpcArgs"]
        with output.open("w") as out:
            server = subprocess.Popen(
                [image.bin("dagster"), *args[1:]],
                cwd=image.context,  # the image's WORKDIR holds the same files
                env=_chart_pod_env(image, home, deployment),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + 120
        while server.poll() is None and time.monotonic() < deadline:
            if CODE_SERVER_STARTED in output.read_text():
                break
            time.sleep(0.2)  # bounded polling of the server's own output
        if server.poll() is not None and BIND_FAILED in output.read_text():
            raise PortTakenError(f"port {port} was taken before the code server bound it")
        return port, server

    port, server = retry_if_port_taken(start)
    try:
        yield port, server, output
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_code_server_starts_as_the_chart_runs_it_and_passes_its_health_check(image, code_server):
    port, server, output = code_server
    probe = [image.bin("dagster"), "api", "grpc-health-check", "-p", str(port)]
    deadline = time.monotonic() + 120
    while True:
        checked = subprocess.run(probe, capture_output=True, text=True, timeout=60)
        if checked.returncode == 0:
            break
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"code server never became healthy: {checked.stderr[-1500:]}"
                f"{output.read_text()[-3000:]}"
            )
        time.sleep(0.5)  # readiness polling, like the chart's probe; no rate is measured

    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    listed = deserialize_value(client.list_repositories())
    assert isinstance(listed, ListRepositoriesResponse), listed
    assert listed.repository_symbols
    assert listed.container_context["k8s"]["env_secrets"] == ["collection-pipeline-env"]
    assert deserialize_value(client.get_current_image()).current_image == IMAGE
    assert dockerfile_cmd()[:3] == ["dagster", "api", "grpc"]


def test_wheel_cli_outside_the_checkout_uses_the_packaged_instance_defaults(image, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert ROOT not in elsewhere.parents
    env = {
        k: v
        for k, v in _clean_env().items()
        if not k.startswith(("DAGSTER_", "COLLECTION_", "BEATPORT_", "SPOTIFY_"))
    }
    env.update(
        PATH=f"{image.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        COLLECTION_GENRE_IDS="5",
        COLLECTION_EMULATOR_TRACKS_PER_DAY="4",
    )
    python = image.bin("python")
    located = _run(
        [python, "-c", "import collection_pipeline; print(collection_pipeline.__file__)"],
        cwd=elsewhere,
        env=env,
    ).stdout.strip()
    assert located.startswith(str(image.venv))

    ran = _run(
        [image.bin("collection-pipeline"), "run", "--start", "2024-01-01", "--end", "2024-01-01"],
        cwd=elsewhere,
        env=env,
    )
    assert "Raw        4 Beatport records" in ran.stdout
    home = elsewhere / ".collection" / "dagster_home"
    packaged = (ROOT / "collection_pipeline" / "instance_defaults.yaml").read_text()
    assert (home / "dagster.yaml").read_text() == packaged

    # Read back with this process's Dagster (the same locked version): the run's instance limits
    # every pool to 1, and the pools its steps claimed (spotify_api at least) got that limit.
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_monitoring_enabled
        assert instance.run_retries_max_retries == 1
        storage = instance.event_log_storage
        pools = {
            key: storage.get_concurrency_info(key).slot_count
            for key in storage.get_concurrency_keys()
        }
        assert "spotify_api" in pools
        assert set(pools.values()) == {1}, pools
