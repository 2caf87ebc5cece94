#!/usr/bin/env bash
# Re-resolve both lock files from pyproject.toml, with hashes, for every platform Python 3.11+ runs
# on (the image is linux/amd64 or linux/arm64, CI linux/amd64), with the dev venv's uv.
# requirements.lock      what the image installs: the package's dependencies and dagster-k8s
# requirements-dev.lock  what CI installs: the same pins plus the dev tools
# Extra arguments go to both compiles, e.g. --upgrade-package sqlalchemy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
common=(--universal --python-version 3.11 --generate-hashes --quiet)
uv pip compile pyproject.toml --extra k8s "${common[@]}" -o requirements.lock "$@"
uv pip compile pyproject.toml --extra k8s --extra dev "${common[@]}" \
  --constraint requirements.lock -o requirements-dev.lock "$@"
