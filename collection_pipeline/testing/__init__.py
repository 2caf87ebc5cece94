"""Harnesses the tests and the benchmarks share: a service built from real parts on the
emulator, scoring against the emulator's ground truth, and a `dagster dev` under test.

It ships with the package, beside the emulator it drives, so that `bench/` never imports from
the test suite; nothing in the pipeline itself imports it.
"""
