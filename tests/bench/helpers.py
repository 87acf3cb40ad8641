"""Running a bench script as CI does: a subprocess from the repository root."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import REPO_ROOT


def run_bench(*args: str, timeout_s: int = 300) -> list[dict[str, Any]]:
    """`python bench/…` with `args`; it must exit 0. Its JSON figures, one per line."""
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
