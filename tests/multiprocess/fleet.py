"""A small fleet for the multi-process tests: `klosesales serve` processes and a
`klosesales worker` on the one test database, as they run behind a load balancer.

Every process gets its own DATA_DIR but the same secrets (sessions, Chainlit's tokens,
the Twilio auth token) and the same PUBLIC_BASE_URL — the address Twilio signs and
posts to, here process B's own (B stands where the load balancer would). The serves
run no job worker (RUN_WORKER_IN_SERVE=false): the worker process does the jobs. The
notice and progress safety net (EVENTS_RESYNC_S) is an hour, so within a test only a
LISTEN/NOTIFY event can bring anything to a chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core.db import Database
from telephony.twilio import signature
from tests.conftest import PADDLE_TEST_SECRET, REPO_ROOT, TWILIO_TEST_TOKEN, _free_port

SECRETS = {
    "SESSION_SECRET": "multiprocess-session-secret-" + "s" * 20,
    "CHAINLIT_AUTH_SECRET": "multiprocess-chainlit-secret-" + "c" * 20,
    "TWILIO_AUTH_TOKEN": TWILIO_TEST_TOKEN,
}
WAIT_S = 120.0  # a guard against a hang only: every wait ends on an event
START_S = 240.0  # a process answering (several start at once on a shared machine)
free_port = _free_port


def fleet_env(public_base_url: str | None = None, **extra: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        **SECRETS,
        "RUN_WORKER_IN_SERVE": "false",
        "EVENTS_RESYNC_S": "3600",
        "SIM_CARRIER_PACE_S": "0",
        **extra,
    }
    if public_base_url is not None:
        env["PUBLIC_BASE_URL"] = public_base_url
    return env


@dataclass
class Serve:
    """A running `klosesales serve`: its own address, its log, its process."""

    base: str
    data_dir: Path
    proc: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return (self.data_dir / "serve.log").read_text(errors="replace")

    def kill_9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.base}/healthz", timeout=10).json())


@dataclass
class Fleet:
    a: Serve
    b: Serve  # where PUBLIC_BASE_URL points: Twilio's callbacks and relay sockets

    @property
    def public(self) -> str:
        return self.b.base


def _child_env(database: Database, data_dir: Path, extra: dict[str, str | None]) -> dict[str, str]:
    env: dict[str, str | None] = {
        **os.environ,
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "PADDLE_WEBHOOK_SECRET": PADDLE_TEST_SECRET,
        "RATE_LIMIT_IP_MULTIPLIER": "1000",
        "OPENAI_API_KEY": None,
        "PADDLE_API_KEY": None,
        **extra,
    }
    return {k: v for k, v in env.items() if v is not None}


def _wait_for(ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until `ready()`; the log's tail if the process exits or START_S passes first."""
    deadline = time.monotonic() + START_S
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text(errors="replace")[-3000:])
        time.sleep(0.3)


def _answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url, timeout=3).status_code == 200
        return False

    return check


@contextlib.contextmanager
def serve(
    database: Database, data_dir: Path, public_base_url: str | None = None, **extra: str
) -> Iterator[Serve]:
    """A serve process of the fleet, as tests/conftest.py's `serve_app` starts one (the
    same environment), with a longer start-up allowance — several processes start at
    once on a shared machine — and its process at hand (`kill_9`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _child_env(database, data_dir, fleet_env(public_base_url or base, **extra))
    log_path = data_dir / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chat_app.cli", "serve", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        _wait_for(_answers(f"{base}/healthz"), proc, log_path)
        yield Serve(base, data_dir, proc)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def worker(database: Database, data_dir: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m chat_app.cli worker` on the test database, until it says it runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _child_env(database, data_dir, {**fleet_env(**extra), "LOG_LEVEL": "INFO"})
    log_path = data_dir / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chat_app.cli", "worker"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        _wait_for(lambda: b"job worker is running" in log_path.read_bytes(), proc, log_path)
        yield proc
    finally:
        _stop(proc)


# --- playing Twilio ------------------------------------------------------------------


async def signed_post(to: str, public: str, path: str, params: dict[str, str]) -> httpx.Response:
    """POST a callback to the process at `to`, signed as Twilio signs it: for the public
    URL (`public` + path), whichever process the load balancer hands it to."""
    header = signature.compute(f"{public}{path}", params, TWILIO_TEST_TOKEN)
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(f"{to}{path}", data=params, headers={signature.HEADER: header})


def relay_socket_url(to: str, public_relay_url: str) -> tuple[str, dict[str, str]]:
    """Where to open a relay websocket on the process at `to`, and the handshake's
    signature header (for the public wss URL Twilio was given)."""
    path = public_relay_url.split("://", 1)[1].split("/", 1)[1]
    header = signature.compute(public_relay_url, None, TWILIO_TEST_TOKEN)
    return f"{to.replace('http://', 'ws://')}/{path}", {signature.HEADER: header}


def status_params(sid: str, status: str, seq: int, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "5" * 32,
        "CallSid": sid,
        "CallStatus": status,
        "SequenceNumber": str(seq),
        "Direction": "outbound-api",
        **extra,
    }


def amd_params(sid: str, answered_by: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "5" * 32, "CallSid": sid, "AnsweredBy": answered_by}


async def relay_reply(ws: Any) -> str:
    """The agent's next reply on a relay socket: text tokens until `last`."""
    tokens: list[str] = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        if message["type"] == "text":
            tokens.append(message["token"])
            if message["last"] and "".join(tokens).strip():
                return "".join(tokens)


async def relay_until_end(ws: Any) -> tuple[str, dict[str, Any]]:
    """Everything the agent says until it ends the call, and its `end` message."""
    tokens: list[str] = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        if message["type"] == "text":
            tokens.append(message["token"])
        elif message["type"] == "end":
            return "".join(tokens), message
