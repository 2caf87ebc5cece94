"""Local emulator of the Beatport v4 and Spotify Web APIs, a separate program in the package.

It imports nothing from the rest of collection_pipeline. Its command line and profiles are in
README.md (Quickstart); its answers follow the real captures in
collection_pipeline_tests/reference/ key for key (test_emulator_contract.py):

    with serve_in_thread(EmulatorConfig(profile="flaky")) as base_url:
        ...  # Beatport at f"{base_url}/v4", Spotify at f"{base_url}/v1" and f"{base_url}/api/token"
"""

from collection_pipeline.emulator.app import create_app
from collection_pipeline.emulator.config import PROFILES, EmulatorConfig, FaultRates
from collection_pipeline.emulator.server import serve_in_thread

__all__ = [
    "PROFILES",
    "EmulatorConfig",
    "FaultRates",
    "create_app",
    "serve_in_thread",
]
