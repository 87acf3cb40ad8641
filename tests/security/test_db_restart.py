"""The app keeps working through a PostgreSQL restart (issue 15, item 2 and the fault test).

A PostgreSQL of this module's own (pgserver in a temporary directory — never the shared
test server) is stopped and started under a real `klosesales serve` and a real
`klosesales worker`:

- while it is down, /healthz answers 503 and reports the job worker; once it is back,
  /healthz answers 200 with the worker running, and a job queued after the restart
  runs — without restarting the app;
- `klosesales worker` alone survives the restart and runs a job queued after it;
- 500 signed Twilio status callbacks at 100-way concurrency while the database
  restarts: each is either stored or answered with a non-2xx status (none acknowledged
  and lost), and the worker is running afterwards.

Waits are bounded in count and time; everything talks to 127.0.0.1 or a local socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from billing import jobs as billing_jobs
from core import migrate
from core.db import Database, libpq_url, sqlalchemy_url
from core.jobs import make_job_app
from telephony.provider import SIMULATED_FROM
from telephony.twilio import signature
from tests.conftest import REPO_ROOT, TWILIO_TEST_TOKEN, serve_app

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

WAIT_S = 120.0  # the longest any recovery is waited for (the worker's backoff caps at 10 s)
POLL_S = 0.5


class RestartablePostgres:
    """A pgserver of our own that can be stopped and started again on the same data
    directory (which keeps its URL)."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self._server: Any = None
        self.url = ""

    def start(self) -> str:
        import pgserver

        self._server = pgserver.get_server(self.datadir, cleanup_mode="stop")
        url = libpq_url(sqlalchemy_url(self._server.get_uri()))
        assert not self.url or url == self.url, "the restarted server moved"
        self.url = url
        return url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()  # pg_ctl stop (fast): every connection is cut

    def is_up(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False


@pytest.fixture(scope="module")
def pg() -> Iterator[RestartablePostgres]:
    root = Path(tempfile.mkdtemp(prefix="ks-restart-"))
    server = RestartablePostgres(root / "pg")
    server.start()
    try:
        migrate.upgrade(sqlalchemy_url(server.url))
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def served(pg: RestartablePostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `klosesales serve` (job worker in process) on our own database."""
    db = Database(url=sqlalchemy_url(pg.url), embedded=False)
    with serve_app(
        db, tmp_path_factory.mktemp("restart-serve"), {"LOG_LEVEL": "INFO"}, worker=True
    ) as base:
        yield base


async def _restart(pg: RestartablePostgres, down_s: float = 1.0) -> None:
    await asyncio.to_thread(pg.stop)
    await asyncio.sleep(down_s)
    await asyncio.to_thread(pg.start)


async def _health(client: httpx.AsyncClient, base: str) -> httpx.Response | None:
    try:
        return await client.get(f"{base}/healthz", timeout=10)
    except httpx.HTTPError:
        return None


async def _until_healthy(
    client: httpx.AsyncClient, base: str, restarts_over: int = -1
) -> dict[str, Any]:
    """Poll /healthz until it answers 200 with the worker running, restarted more than
    `restarts_over` times (a worker stopping after a restart may still finish a job and
    look up for a moment: only a restart proves it was brought back); its body."""
    last: object = None
    for _ in range(int(WAIT_S / POLL_S)):
        response = await _health(client, base)
        if response is not None:
            last = (response.status_code, response.text[:500])
            body = response.json()
            worker = body.get("worker", {})
            if (
                response.status_code == 200
                and worker.get("running")
                and worker.get("restarts", 0) > restarts_over
            ):
                return body
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"the app did not recover: last /healthz {last}")


@contextlib.asynccontextmanager
async def _job_app(pg: RestartablePostgres) -> AsyncIterator[Any]:
    app = make_job_app(
        pg.url, [("billing", billing_jobs.register(Database(sqlalchemy_url(pg.url), False)))]
    )
    async with app.open_async():
        yield app


async def _queue_job(pg: RestartablePostgres) -> int:
    """Queue a job for the worker (billing's hold sweep, harmless here); its id."""
    async with _job_app(pg) as app:
        return int(
            await app.configure_task("billing:expire_holds").defer_async(timestamp=int(time.time()))
        )


async def _job_status(pg: RestartablePostgres, job_id: int) -> str | None:
    try:
        async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
            cursor = await conn.execute(
                "SELECT status::text FROM procrastinate_jobs WHERE id = %s", (job_id,)
            )
            row = await cursor.fetchone()
    except psycopg.OperationalError:
        return None
    return str(row[0]) if row else None


async def _until_job_done(pg: RestartablePostgres, job_id: int) -> str:
    status = None
    for _ in range(int(WAIT_S / POLL_S)):
        status = await _job_status(pg, job_id)
        if status in ("succeeded", "failed"):
            return status
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"job {job_id} never ran (status {status})")


@contextlib.contextmanager
def _worker_process(pg: RestartablePostgres, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": pg.url,
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "INFO",
        "TWILIO_AUTH_TOKEN": TWILIO_TEST_TOKEN,
    }
    env.pop("PADDLE_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    with open(data_dir / "worker.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chat_app.cli", "worker"],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


async def test_the_worker_alone_survives_a_database_restart(pg, tmp_path):
    # First in the module: the shared `served` (whose worker would compete) is not up yet.
    with _worker_process(pg, tmp_path) as proc:
        first = await _queue_job(pg)
        assert await _until_job_done(pg, first) == "succeeded"

        await _restart(pg)
        log_path = tmp_path / "worker.log"
        for _ in range(int(WAIT_S / POLL_S)):  # the worker notices and is restarted
            if "job worker failed" in log_path.read_text() or proc.poll() is not None:
                break
            await asyncio.sleep(POLL_S)
        second = await _queue_job(pg)
        status = await _until_job_done(pg, second)
        log = log_path.read_text()
        assert "job worker failed" in log, log[-3000:]
        assert proc.poll() is None, log[-3000:]
        assert status == "succeeded", log[-3000:]
        assert f"expire_holds[{second}]" in log  # this worker ran it (not a server's)
    assert proc.returncode == 0  # SIGTERM stops it cleanly


async def test_healthz_says_503_while_the_database_is_down_and_the_app_recovers(pg, served):
    async with httpx.AsyncClient() as client:
        before = await _until_healthy(client, served)
        assert set(before["worker"]) >= {"running", "last_job_at"}

        await asyncio.to_thread(pg.stop)
        try:
            down = await _health(client, served)
            assert down is not None and down.status_code == 503
            body = down.json()
            assert body["database"]["ok"] is False
            assert isinstance(body["worker"]["running"], bool)
            assert "last_job_at" in body["worker"]
        finally:
            await asyncio.to_thread(pg.start)

        after = await _until_healthy(client, served, restarts_over=before["worker"]["restarts"])
        assert after["database"]["ok"] is True
        job_id = await _queue_job(pg)
        assert await _until_job_done(pg, job_id) == "succeeded"
        # The worker of this server ran it (or a later one) after the restart.
        latest = (await client.get(f"{served}/healthz")).json()["worker"]["last_job_at"]
        assert latest is not None
        queued_at = await _job_event_time(pg, job_id)
        assert datetime.fromisoformat(latest) >= queued_at


async def _job_event_time(pg: RestartablePostgres, job_id: int) -> datetime:
    async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT min(at) FROM procrastinate_events WHERE job_id = %s", (job_id,)
        )
        row = await cursor.fetchone()
    assert row is not None and row[0] is not None
    return row[0]


def _status_callback(sid: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "5" * 32,
        "CallSid": sid,
        "CallStatus": "completed",
        "CallDuration": "7",
        "SequenceNumber": "3",
        "From": SIMULATED_FROM,
        "To": "+14155550100",
        "Direction": "outbound-api",
    }


async def test_webhooks_during_a_restart_are_stored_or_refused_never_lost(pg, served):
    total, concurrency = 500, 100
    url = f"{served}/webhooks/twilio/status"
    sids = ["CA" + secrets.token_hex(16) for _ in range(total)]
    answers: dict[str, int | None] = {}  # None: no answer at all
    started_restart = asyncio.Event()
    answered_before_restart = total
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        before = await _until_healthy(client, served)

        async def send(sid: str) -> None:
            params = _status_callback(sid)
            headers = {"X-Twilio-Signature": signature.compute(url, params, TWILIO_TEST_TOKEN)}
            async with gate:
                try:
                    response = await client.post(url, data=params, headers=headers)
                    answers[sid] = response.status_code
                except httpx.HTTPError:
                    answers[sid] = None
            if len(answers) >= concurrency:
                started_restart.set()

        async def restart_under_load() -> None:
            nonlocal answered_before_restart
            await started_restart.wait()  # a first wave is through; the rest is in flight
            answered_before_restart = len(answers)
            await _restart(pg, down_s=1.5)

        await asyncio.gather(restart_under_load(), *(send(sid) for sid in sids))
        assert len(answers) == total

        acknowledged = [sid for sid, code in answers.items() if code is not None and code < 300]
        async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
            cursor = await conn.execute(
                "SELECT DISTINCT call_sid FROM call_callbacks WHERE call_sid = ANY(%s)", (sids,)
            )
            stored = {row[0] for row in await cursor.fetchall()}
        lost = [sid for sid in acknowledged if sid not in stored]
        assert lost == [], f"{len(lost)} callbacks acknowledged with 2xx but not stored"
        # Valid, signed callbacks: a refusal is the server's "try again" (503), never a
        # 4xx nor a bare 500.
        refused = {code for code in answers.values() if code is not None and code >= 300}
        assert refused <= {503}, refused
        assert acknowledged  # the load did reach the database
        assert answered_before_restart < total  # the restart came while callbacks flowed

        after = await _until_healthy(client, served, restarts_over=before["worker"]["restarts"])
        assert after["worker"]["running"] is True

        # Once it is back, every callback is taken again (the pools replaced what broke).
        fresh = ["CA" + secrets.token_hex(16) for _ in range(20)]
        for sid in fresh:
            params = _status_callback(sid)
            headers = {"X-Twilio-Signature": signature.compute(url, params, TWILIO_TEST_TOKEN)}
            response = await client.post(url, data=params, headers=headers)
            assert response.status_code == 200, response.text
