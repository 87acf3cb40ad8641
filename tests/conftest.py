"""Shared fixtures: one real PostgreSQL for the whole run, migrated from scratch.

`DATABASE_URL` set: a fresh database is created on that server (the URL's user
needs CREATEDB) and dropped afterwards. Unset: an embedded PostgreSQL (pgserver)
under `.data/test-pg` hosts it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pgserver
import psycopg
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Workspace
from core import migrate
from core.db import Database, libpq_url, sqlalchemy_url
from tests.stall import stall_monitor  # noqa: F401 - fixture: fails a test that stalls its loop
from tests.web import web, web_app  # noqa: F401 - fixtures: the routers served in process

REPO_ROOT = Path(__file__).resolve().parent.parent
# Simulated carriers in tests sign Twilio callbacks with this; the live server checks them.
TWILIO_TEST_TOKEN = "twilio-test-token-not-a-secret"
# The live server verifies Paddle webhooks with this (payments stay simulated: no key).
PADDLE_TEST_SECRET = "pdl_ntfset_test_" + "0" * 24
TEST_PG_DIR = REPO_ROOT / ".data" / "test-pg"


# Room for every pytest-xdist worker's pools and live servers at once (the default is 100).
TEST_PG_MAX_CONNECTIONS = 400
_TEST_PG = pytest.StashKey["pgserver.PostgresServer"]()


def pytest_configure(config: pytest.Config) -> None:
    """The run's first process (the only one, or xdist's controller before it starts
    its workers) starts the embedded test server and gives it room for every worker's
    connections. It holds the server until the run ends; workers share it."""
    if os.environ.get("DATABASE_URL") or hasattr(config, "workerinput"):
        return
    from pgserver._commands import pg_ctl

    TEST_PG_DIR.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(TEST_PG_DIR, cleanup_mode="stop")
    config.stash[_TEST_PG] = server
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
        if row is not None and int(row[0]) >= TEST_PG_MAX_CONNECTIONS:
            return
        conn.execute(f"ALTER SYSTEM SET max_connections = {TEST_PG_MAX_CONNECTIONS}")
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=TEST_PG_DIR, user=server.system_user)


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_TEST_PG, None)
    if server is not None:
        server.cleanup()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A libpq URL of a server we may create databases on."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield libpq_url(sqlalchemy_url(external))
        return
    TEST_PG_DIR.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(TEST_PG_DIR, cleanup_mode="stop")
    try:
        yield libpq_url(sqlalchemy_url(server.get_uri()))
    finally:
        server.cleanup()


@contextlib.contextmanager
def empty_database(server_url: str, prefix: str) -> Iterator[URL]:
    """A database of its own on the test server (no schema), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sqlalchemy_url(server_url).set(database=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database(pg_server_url: str) -> Iterator[Database]:
    with empty_database(pg_server_url, "klosesales_test") as url:
        migrate.upgrade(url)
        yield Database(url=url, embedded=False)


@pytest.fixture(scope="session")
async def _engine_owner(database: Database) -> AsyncIterator[Database]:
    yield database
    await database.dispose()


@pytest.fixture
async def session(_engine_owner: Database) -> AsyncIterator[AsyncSession]:
    async with _engine_owner.session() as s:
        yield s


@pytest.fixture
def db(_engine_owner: Database) -> Database:
    return _engine_owner


@pytest.fixture(scope="module")
def _module_database(pg_server_url: str) -> Iterator[Database]:
    with empty_database(pg_server_url, "klosesales_own") as url:
        migrate.upgrade(url)
        yield Database(url=url, embedded=False)


@pytest.fixture
async def own_db(_module_database: Database) -> AsyncIterator[Database]:
    """A migrated database of the test module's own, for a test whose result depends on
    every row of a table (reconciliation sweeps every overdue call): the worker's shared
    one holds whatever the test files before it left behind."""
    yield _module_database
    await _module_database.dispose()


@pytest.fixture
def make_workspace(db: Database) -> Callable[..., object]:
    """Create a committed workspace of its own; tests never share one."""

    async def make(name: str = "Test Co") -> uuid.UUID:
        async with db.session() as s:
            ws = Workspace(name=f"{name} {uuid.uuid4().hex[:6]}")
            s.add(ws)
            await s.commit()
            return ws.id

    return make


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_app(
    database: Database,
    data_dir: Path,
    extra_env: dict[str, str | None] | None = None,
    *,
    worker: bool = False,
) -> Iterator[str]:
    """Run a real `klosesales serve` on a free port against the test database (payments
    and the chat model simulated) and yield its base URL once /healthz answers.
    `extra_env` adds or overrides variables; a value of None removes one.

    The server runs the job worker only with `worker=True`: a worker sweeps every
    workspace (reconciliation, the post-call sweep, due callbacks), so one left running
    would change the rows of tests that have nothing to do with it."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PADDLE_WEBHOOK_SECRET": PADDLE_TEST_SECRET,
        # Simulated carriers in tests sign callbacks with this token, as Twilio would.
        "TWILIO_AUTH_TOKEN": TWILIO_TEST_TOKEN,
        # Every test request comes from 127.0.0.1: per-IP limits would trip across tests.
        "RATE_LIMIT_IP_MULTIPLIER": "1000",
        "RUN_WORKER_IN_SERVE": "true" if worker else "false",
        **(extra_env or {}),
    }
    env = {key: value for key, value in env.items() if value is not None}
    env.pop("PADDLE_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    log_path = data_dir / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chat_app.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(log_path.read_text()[-2000:])
            time.sleep(0.3)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def live_server(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shared `klosesales serve` for HTTP and browser tests."""
    with serve_app(database, tmp_path_factory.mktemp("serve-data")) as base:
        yield base
