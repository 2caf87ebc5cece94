"""The layers of the repository: benchmarks and tests share harnesses through
`collection_pipeline.testing`, never through test modules, and the pipeline never uses them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def test_benchmarks_import_nothing_from_the_tests():
    offenders = {
        f"{path.name}: {module}"
        for path in (ROOT / "bench").glob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] == "collection_pipeline_tests"
    }
    assert not offenders


def test_every_test_module_holds_tests_and_helpers_are_not_named_test():
    without_tests = [
        path.name
        for path in (ROOT / "collection_pipeline_tests").rglob("test_*.py")
        if not any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert not without_tests


def test_the_pipeline_never_imports_the_test_harnesses():
    package = ROOT / "collection_pipeline"
    offenders = {
        f"{path.relative_to(package)}: {module}"
        for path in package.rglob("*.py")
        if "testing" not in path.relative_to(package).parts
        for module in _imported_modules(path)
        if module.startswith(("collection_pipeline.testing", "collection_pipeline_tests"))
    }
    assert not offenders
