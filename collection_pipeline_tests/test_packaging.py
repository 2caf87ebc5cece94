"""What the image and CI install: the lock files agree with pyproject.toml and with each other, and
the Docker build context carries what deploy/Dockerfile copies and nothing heavy."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from collection_pipeline_tests.support.build_context import (
    ROOT,
    dockerfile_instructions,
    in_context,
    repository_files,
)

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    assert "--hash=sha256:" in text, f"{lock} has no hashes"
    return {canonicalize_name(name): version for name, _, version in PIN.findall(text)}


def _requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", ("k8s",)), ("requirements-dev.lock", ("k8s", "dev"))],
)
def test_lock_pins_satisfy_pyproject(lock, extras):
    """A requirement added to or tightened in pyproject.toml fails here until the lock is refreshed
    (deploy/refresh-lock.sh); `pip install --no-deps` would otherwise silently skip it."""
    pins = _pins(lock)
    problems = []
    for requirement in _requirements(*extras):
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(f"{requirement} (locked: {pinned})")
    assert not problems, f"{lock} is stale; run deploy/refresh-lock.sh: {problems}"


def test_dev_lock_keeps_the_image_pins():
    """CI tests exactly the versions the image ships."""
    image, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in image} == image


def test_build_context_holds_what_the_dockerfile_copies():
    sources = [source for args in dockerfile_instructions("COPY") for source in args.split()[:-1]]
    assert sources == ["requirements.lock", "pyproject.toml", "README.md", "collection_pipeline"]
    files = repository_files()
    for source in sources:
        copied = [p for p in files if p == source or p.startswith(source + "/")]
        assert copied, source
        assert all(in_context(p) for p in copied if "__pycache__" not in p), source
    assert in_context("collection_pipeline/instance_defaults.yaml")
    assert in_context("collection_pipeline/storage/migrations/env.py")


@pytest.mark.parametrize(
    "path",
    [
        ".venv/lib/python3.11/site-packages/dagster/__init__.py",
        ".collection/dagster_home/catalogue.db",
        ".git/HEAD",
        "collection_pipeline_tests/test_cli.py",
        "bench/run_all.py",
        "requirements-dev.lock",
        "dagster.yaml",
        "collection_pipeline/__pycache__/cli.cpython-311.pyc",
    ],
)
def test_build_context_leaves_out(path):
    assert not in_context(path)


def test_image_installs_with_the_uv_that_ci_has():
    """The image's installer is the version the dev lock pins (and test_image.py uses)."""
    pinned = re.findall(r"uv==([0-9.]+)", " ".join(dockerfile_instructions("RUN")))
    assert pinned == [_pins("requirements-dev.lock")["uv"]]


def test_image_copies_no_instance_file_and_sets_no_dagster_home():
    """Run pods get the chart's instance ConfigMap and DAGSTER_HOME; an image copy would be dead."""
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "dagster.yaml" not in " ".join(dockerfile_instructions("COPY"))
    assert not any("DAGSTER_HOME" in env for env in dockerfile_instructions("ENV"))
    assert "--require-hashes -r requirements.lock" in text
    assert "--no-deps ." in text
