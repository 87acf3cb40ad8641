"""Chainlit reads (or, when missing, writes a permissive default) `.chainlit/config.toml`
the first time it is imported. Importing the app from another directory must still use
the repo's own config and leave nothing behind in that directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_app_uses_its_own_chainlit_config_from_any_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CHAINLIT_APP_ROOT"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    probe = (
        "import chat_app.guard, chainlit.config as c; "
        "print(c.APP_ROOT); print(c.config.project.allow_origins)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    app_root, origins = out.stdout.splitlines()[-2:]
    assert Path(app_root) == REPO_ROOT
    assert origins == "[]"  # the repo's config, not Chainlit's default ["*"]
    assert list(tmp_path.iterdir()) == []
