"""Processes the deployment tests start: app servers, workers, the proxy.

Every wait is bounded by a deadline and ends early if the process exits; every process
is stopped (SIGTERM, then SIGKILL) when its block ends. Start-up is allowed longer than
tests/conftest.py's `serve_app` does, because these tests start several processes at
once on a shared two-core machine.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

START_TIMEOUT_S = 180.0  # a process answering; bounded, generous under load
POLL_S = 0.5


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(*drop: str) -> dict[str, str]:
    """The test's environment without what would point a child at the repo's virtualenv
    or at live providers (plus any `drop` names)."""
    env = dict(os.environ)
    for name in (
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "DATABASE_URL",
        "OPENAI_API_KEY",
        "PADDLE_API_KEY",
        "PADDLE_WEBHOOK_SECRET",
        *drop,
    ):
        env.pop(name, None)
    return env


@contextlib.contextmanager
def running(
    argv: list[str], *, env: dict[str, str], log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` with stdout and stderr in `log` for the length of the block."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_until(
    ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    """Poll `ready` until it is true; fail with the log's tail if `proc` exits first or
    START_TIMEOUT_S passes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            pytest.fail(
                f"{what}: exited {proc.returncode}\n{log.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(POLL_S)
    pytest.fail(
        f"{what}: not ready in {START_TIMEOUT_S:.0f} s\n{log.read_text(errors='replace')[-3000:]}"
    )


def answers(url: str) -> Callable[[], bool]:
    """A `ready` check: `url` answers HTTP 200."""

    def check() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url, timeout=3, trust_env=False).status_code == 200
        return False

    return check


def printed(log: Path, text: str) -> Callable[[], bool]:
    """A `ready` check: `text` appeared in `log`."""
    return lambda: text in log.read_text(errors="replace")
