"""The layers of the repository: benchmarks and tests share harnesses through
`collection_pipeline.testing`, never through test modules, and the pipeline never uses them;
comments and docstrings cite only documents the repository holds."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import tokenize
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


def _test_imports(path: Path) -> set[str]:
    """The suite's own modules `path` imports, relative imports (`from .x import`) included."""
    modules = _imported_modules(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            package = path.parent.relative_to(ROOT).parts
            base = ".".join(package[: len(package) - node.level + 1])
            names = [node.module] if node.module else [alias.name for alias in node.names]
            modules.update(f"{base}.{name}" for name in names)
    return modules


def test_no_test_module_imports_another_or_conftest():
    """Fixtures and factories live in `support/` (or `collection_pipeline.testing`), where a
    reader looks for what tests share; a helper in a test module is shared by accident, and
    conftest's names are pytest's to inject as fixtures, not to import."""
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "collection_pipeline_tests").rglob("*.py")
        for module in _test_imports(path)
        if module.split(".")[0] == "collection_pipeline_tests"
        and module.split(".")[-1].startswith(("test_", "conftest"))
        and "support" not in module.split(".")[1:-1]
    }
    assert not offenders


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


ENVIRONMENT = {"environ", "getenv", "putenv"}


def _reads_the_environment(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENVIRONMENT
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and {alias.name for alias in node.names} & ENVIRONMENT
        ):
            return True
    return False


def test_settings_is_the_only_reader_of_the_environment():
    """Resources, the CLI, storage and clients take values; `testing/` builds the environment
    of the subprocesses it starts, which is not reading settings."""
    package = ROOT / "collection_pipeline"
    readers = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "testing" not in path.relative_to(package).parts and _reads_the_environment(path)
    }
    assert readers == {"settings.py"}


def test_client_errors_stay_below_the_service():
    """Assets, checks and the per-day step catch the service's and the domain's errors; only
    the resources, which build the clients, may import `clients` (the service wraps the rest)."""
    defs = ROOT / "collection_pipeline" / "defs"
    offenders = {
        f"{path.name}: {module}"
        for path in defs.glob("*.py")
        if path.name != "resources.py"
        for module in _imported_modules(path)
        if module.startswith("collection_pipeline.clients")
    }
    assert not offenders


def _cited_documents(source: str) -> set[str]:
    """The `*.md` files a module's comments and docstrings cite; an upper-case document name
    followed by the word "section" cites that name's `.md` file."""
    texts = [
        token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            texts.append(ast.get_docstring(node) or "")
    text = "\n".join(texts)
    return set(re.findall(r"[\w./-]*\w\.md\b", text)) | {
        f"{name}.md" for name in re.findall(r"\b([A-Z][A-Z_]{2,}) section\b", text)
    }


def test_comments_cite_only_documents_in_the_repository():
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tracked = [name for name in listed if (ROOT / name).is_file()]
    documents = {Path(name) for name in tracked if name.endswith(".md")}
    missing = {
        f"{name}: {cited}"
        for name in tracked
        if name.endswith(".py")
        for cited in _cited_documents((ROOT / name).read_text())
        if not any(
            document == Path(cited) or document == Path(name).parent / cited
            for document in documents
        )
    }
    assert documents, "git ls-files found no document: the scan would prove nothing"
    assert not missing


def test_the_citation_scan_reads_comments_and_docstrings():
    source = '''"""See DESIGN section 7 and docs/x.md."""
def f():  # README.md
    """Also CONTRACTS.md."""
    return "not_a_comment.md"
'''
    assert _cited_documents(source) == {"DESIGN.md", "docs/x.md", "README.md", "CONTRACTS.md"}
