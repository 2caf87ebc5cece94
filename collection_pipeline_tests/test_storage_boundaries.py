"""The storage boundary: one repository per table family, none holding another, and the raw
records' table read and written by its own repository alone."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from collection_pipeline import storage
from collection_pipeline.storage.unit_of_work import UnitOfWork

STORAGE = Path(storage.__file__).parent


def test_every_repository_of_the_unit_of_work_takes_only_a_connection() -> None:
    """The unit of work composes the repositories; a repository handed another would reach
    into its table family behind the unit's back."""
    signatures = {
        name: tuple(inspect.signature(repository).parameters)
        for name, repository in inspect.get_annotations(UnitOfWork, eval_str=True).items()
    }
    assert signatures == dict.fromkeys(["raw", "catalog", "spotify", "pacer_rates"], ("conn",))


def test_only_the_raw_repository_names_the_raw_table() -> None:
    """`external_data` is `RawRecordRepository`'s: schema.py defines it, migrations shape it."""
    offenders = {
        path.name
        for path in STORAGE.glob("*.py")
        if path.name not in ("raw.py", "schema.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Name | ast.alias)
        and (node.id if isinstance(node, ast.Name) else node.name) == "external_data"
    }
    assert offenders == set()
