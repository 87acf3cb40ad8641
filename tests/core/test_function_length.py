"""No function or method over 80 lines outside migrations and benches (issue 16): a
function that long is several steps that want names of their own."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

MAX_LINES = 80
SKIPPED = ("bench", "build", "dist", "node_modules")


def _sources() -> list[Path]:
    found = []
    for path in sorted(REPO_ROOT.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).parts
        if parts[0] in SKIPPED or parts[0].startswith(".") or "migrations" in parts:
            continue
        found.append(path)
    return found


def _too_long(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({length} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_LINES
    ]


def test_no_function_is_over_80_lines() -> None:
    sources = _sources()
    assert any(p.parts[-2:] == ("chat_app", "turns.py") for p in sources)  # the walk sees the app
    long = [line for path in sources for line in _too_long(path)]
    assert long == [], "split these into named steps:\n" + "\n".join(long)
