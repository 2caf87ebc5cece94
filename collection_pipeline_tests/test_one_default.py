"""Every default of a setting is written once, in `settings.py`.

A second copy drifts: the Beatport client defaulted to 8 concurrent pages while the setting
said 16, and the not-found TTL was written in three places. Below the settings a knob either
has no default (the clients and the service take values) or defaults to the variable's own
`default_value()`; a literal there is a second default, and this test names it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "collection_pipeline"

KNOBS = frozenset(
    {
        "max_concurrency",  # COLLECTION_BEATPORT_CONCURRENCY, COLLECTION_SPOTIFY_CONCURRENCY
        "not_found_ttl",  # COLLECTION_NOT_FOUND_TTL_DAYS
        "not_found_ttl_days",
        "genre_ids",  # COLLECTION_GENRE_IDS
        "retry_after_cap",  # COLLECTION_RETRY_AFTER_CAP_S
        "retry_after_cap_s",
        "backoff_base",  # COLLECTION_RETRY_BACKOFF_S
        "retry_backoff_s",
        "initial_rate",  # COLLECTION_SPOTIFY_START_RATE
        "pacer_start_rate",
        "horizon_s",  # COLLECTION_SPOTIFY_RATE_HORIZON_HOURS
        "pacer_horizon_hours",
        "threshold",  # COLLECTION_MATCH_THRESHOLD
        "match_threshold",
        "deadline_s",  # COLLECTION_DATABASE_OUTAGE_DEADLINE_S
        "outage_deadline_s",
        "match_rate_floor",  # COLLECTION_MATCH_RATE_FLOOR
        "start_date",  # COLLECTION_START_DATE
    }
)
"""Parameter and field names that carry a setting, in every layer's spelling."""

EXEMPT = ("settings.py", "emulator")
"""settings.py declares the defaults; the emulator is a standalone program that imports
nothing from the pipeline, so its command line declares its own."""


def _is_literal(node: ast.expr) -> bool:
    """A value written out: 8, "5,11", (5, 11), -1.0, or timedelta(days=30) of such values."""
    if isinstance(node, ast.Constant):
        return node.value is not None
    if isinstance(node, ast.UnaryOp):
        return _is_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_literal(node.left) and _is_literal(node.right)
    if isinstance(node, ast.Tuple | ast.List):
        return bool(node.elts) and all(_is_literal(element) for element in node.elts)
    if isinstance(node, ast.Call):
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        return bool(arguments) and all(_is_literal(argument) for argument in arguments)
    return False


def second_defaults(source: str, where: str) -> list[str]:
    """Each knob given a literal default in `source`: parameters, class fields, DEFAULT_*."""
    found = []
    for node in ast.walk(ast.parse(source)):
        pairs: list[tuple[str, ast.expr | None]] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            positional = [*node.args.posonlyargs, *node.args.args]
            defaults = [None] * (len(positional) - len(node.args.defaults))
            pairs += zip((a.arg for a in positional), [*defaults, *node.args.defaults], strict=True)
            pairs += zip((a.arg for a in node.args.kwonlyargs), node.args.kw_defaults, strict=True)
        elif isinstance(node, ast.ClassDef):
            pairs += [
                (item.target.id, item.value)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            ]
        elif isinstance(node, ast.Module):
            for item in node.body:
                target = getattr(item, "target", None) or next(
                    iter(getattr(item, "targets", [])), None
                )
                if isinstance(target, ast.Name) and target.id.startswith("DEFAULT_"):
                    pairs.append((target.id, getattr(item, "value", None)))
        for name, default in pairs:
            knob = name in KNOBS or name.startswith("DEFAULT_")
            if knob and default is not None and _is_literal(default):
                found.append(f"{where}:{default.lineno} {name} = {ast.unparse(default)}")
    return found


def test_no_setting_has_a_second_default_below_the_settings():
    offenders = [
        found
        for path in sorted(PACKAGE.rglob("*.py"))
        if not set(path.relative_to(PACKAGE).parts) & set(EXEMPT)
        for found in second_defaults(path.read_text(), str(path.relative_to(PACKAGE)))
    ]
    assert not offenders, "defaults written again outside settings.py:\n" + "\n".join(offenders)


def test_the_scan_sees_the_shapes_second_defaults_take():
    source = """
DEFAULT_DEADLINE_S = 120.0
class Client:
    retry_after_cap: float = 120.0
    def __init__(self, *, max_concurrency: int = 8, genre_ids=(5, 11)) -> None: ...
def service(not_found_ttl=timedelta(days=30), threshold=settings.MATCH_THRESHOLD.default_value()):
    ...
def client(url, max_concurrency: int, page_size: int = 100): ...
"""
    assert sorted(line.split(" ", 1)[1] for line in second_defaults(source, "x")) == [
        "DEFAULT_DEADLINE_S = 120.0",
        "genre_ids = (5, 11)",
        "max_concurrency = 8",
        "not_found_ttl = timedelta(days=30)",
        "retry_after_cap = 120.0",
    ]
