"""Generated secrets: made once per data directory, never seen half-written."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import SecretStr

from core.secrets import persistent_secret


def test_a_configured_secret_wins_and_nothing_is_written(tmp_path: Path) -> None:
    assert persistent_secret(tmp_path, "s", SecretStr("configured")) == "configured"
    assert list(tmp_path.iterdir()) == []


def test_made_once_private_and_kept(tmp_path: Path) -> None:
    first = persistent_secret(tmp_path, "s", None)
    assert len(first) >= 48 and persistent_secret(tmp_path, "s", None) == first
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # no temporary file left


def test_processes_starting_together_all_get_the_one_whole_secret(tmp_path: Path) -> None:
    """Many starters racing on an empty data directory: every one gets the same,
    complete secret (the old code let a reader see the file before it was written)."""
    starters = 16
    for round_no in range(40):
        data_dir = tmp_path / str(round_no)
        barrier = threading.Barrier(starters)

        def start(barrier: threading.Barrier = barrier, data_dir: Path = data_dir) -> str:
            barrier.wait()
            return persistent_secret(data_dir, "s", None)

        with ThreadPoolExecutor(starters) as pool:
            seen = set(pool.map(lambda _: start(), range(starters)))
        assert len(seen) == 1 and len(seen.pop()) >= 48, f"round {round_no}: {seen}"
        assert [p.name for p in data_dir.iterdir()] == ["s"]
