"""The Docker build context of deploy/Dockerfile, worked out without Docker.

Docker drops every path that the last matching `.dockerignore` pattern excludes, where a pattern
matches a path or any of its parent folders (`*` stays within one path segment, `**` spans any
number, `[...]` is a character class, `!` re-includes). Tests use this to check that the context
holds what the Dockerfile copies and nothing heavy, and to install exactly that context into a
fresh virtualenv.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for token in re.split(r"(\*\*/?|\*|\?|\[[^\]]*\])", pattern.strip("/")):
        if token.startswith("["):
            parts.append(token)
        elif token.startswith("**"):
            parts.append(".*")
        elif token == "*":
            parts.append("[^/]*")
        elif token == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts) + r"\Z")


@cache
def ignore_rules(path: Path = ROOT / ".dockerignore") -> tuple[tuple[bool, re.Pattern[str]], ...]:
    """(is_exception, regex) per non-comment line, in file order."""
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        rules.append((exception, _pattern_regex(line.removeprefix("!"))))
    return tuple(rules)


def in_context(relative: str) -> bool:
    """Whether the file at this repository-relative POSIX path reaches the build context."""
    segments = relative.split("/")
    candidates = ["/".join(segments[: i + 1]) for i in range(len(segments))]
    included = True
    for exception, regex in ignore_rules():
        if any(regex.match(candidate) for candidate in candidates):
            included = exception
    return included


def repository_files() -> list[str]:
    """Tracked and untracked-but-not-gitignored files, the way a fresh clone plus edits has them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return sorted(p for p in listed.split("\0") if p and (ROOT / p).is_file())


def copy_context(target: Path) -> list[str]:
    """Copy the build context into `target`; returns the copied relative paths."""
    copied = [p for p in repository_files() if in_context(p)]
    for relative in copied:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, destination)
    return copied


def dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction (continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        line.strip()[len(name) :].strip()
        for line in joined.splitlines()
        if line.strip().upper().startswith(name.upper() + " ")
    ]


def dockerfile_cmd() -> list[str]:
    """The image's CMD (exec form)."""
    [cmd] = dockerfile_instructions("CMD")
    return json.loads(cmd)
