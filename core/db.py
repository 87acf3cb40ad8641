"""Database: the URL (external or embedded PostgreSQL), engine, sessions, and the pool
of autocommit connections that database functions run on alone (core/sql_functions.py).

`open_database()` resolves where the database is: `DATABASE_URL` when set, else an
embedded PostgreSQL 16 + pgvector from `pgserver` in `DATA_DIR/pg`, started on
demand and stopped by `Database.close()`. Nothing here reads the current user.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool

from core.errors import DatabaseUnavailable
from core.settings import Settings

log = logging.getLogger(__name__)

# How long a function call waits for a pooled connection before it fails (a webhook
# then answers 5xx and its sender retries): less than Twilio's 15 s request timeout.
FUNCTION_POOL_TIMEOUT_S = 10.0


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database could not be reached or the
    connection broke — a restart, an outage — rather than a bad statement."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.OperationalError | sa_exc.OperationalError):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def sqlalchemy_url(raw: str) -> URL:
    """Normalise any PostgreSQL URL to the psycopg 3 dialect."""
    url = make_url(raw)
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def libpq_url(url: URL) -> str:
    """A plain libpq conninfo URL (for psycopg, procrastinate, pg tools)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def describe(url: URL) -> str:
    """Where the database is, for messages: host, port and name, never the password."""
    host = url.host or (url.query.get("host") or "local socket")
    if isinstance(host, tuple):
        host = host[0]
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database or ''}"


@dataclass
class Database:
    """A resolved database: its URL and, when embedded, the server we started."""

    url: URL
    embedded: bool
    _server: Any = field(default=None, repr=False)
    _engine: AsyncEngine | None = field(default=None, repr=False)
    _sessions: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)
    _functions: AsyncConnectionPool | None = field(default=None, repr=False)

    @property
    def libpq_url(self) -> str:
        return libpq_url(self.url)

    def engine(self, pool_size: int = 10) -> AsyncEngine:
        """The SQLAlchemy engine. Its pool pings a connection before handing it out, so
        connections a database restart broke are replaced, not used."""
        if self._engine is None:
            self._engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
            )
        return self._engine

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            self._sessions = async_sessionmaker(self.engine(), expire_on_commit=False)
        return self._sessions

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions()() as s:
            yield s

    async def function_pool(self) -> AsyncConnectionPool:
        """Plain psycopg connections in autocommit mode, for a database function that is
        a whole unit of work: no ORM session, no pre-ping, no transaction to reset. One
        connection at start, up to the engine's pool size under load. A connection found
        broken is discarded on its return; `recover_function_pool` weeds out the idle
        ones a restart broke. Waiting for a connection fails after
        `FUNCTION_POOL_TIMEOUT_S` (psycopg_pool.PoolTimeout)."""
        pool = self._functions
        if pool is None:
            pool = self._functions = AsyncConnectionPool(
                self.libpq_url,
                min_size=1,
                max_size=cast(QueuePool, self.engine().pool).size(),
                kwargs={"autocommit": True},
                name="functions",
                timeout=FUNCTION_POOL_TIMEOUT_S,
                open=False,
            )
        if pool.closed:  # not opened yet (open() is safe to race: the second waits)
            await pool.open()
        return pool

    async def recover_function_pool(self) -> None:
        """Check every idle connection of the function pool, replacing the broken ones
        (after a database restart, all of them)."""
        if self._functions is not None and not self._functions.closed:
            await self._functions.check()

    async def dispose(self) -> None:
        if self._functions is not None:
            functions, self._functions = self._functions, None
            await functions.close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
            self._sessions = None

    def close(self) -> None:
        """Stop the embedded server if this process started or attached to it."""
        if self._server is not None:
            server, self._server = self._server, None
            server.cleanup()


def check_reachable(url: URL, timeout_s: int = 5) -> None:
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        if url.password:
            reason = reason.replace(url.password, "***")
        raise DatabaseUnavailable(
            f"cannot reach the database at {describe(url)}: {reason}"
        ) from None


def start_embedded(settings: Settings) -> Database:
    import pgserver  # imported lazily: only the embedded path needs it

    pg_dir = settings.pg_dir
    pg_dir.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", pg_dir)
    server = pgserver.get_server(pg_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    return Database(url=sqlalchemy_url(server.get_uri()), embedded=True, _server=server)


def open_database(settings: Settings) -> Database:
    """Resolve the database; raise `DatabaseUnavailable` with a one-line reason."""
    if settings.database_url is not None:
        url = sqlalchemy_url(settings.database_url.get_secret_value())
        check_reachable(url)
        return Database(url=url, embedded=False)
    db = start_embedded(settings)
    check_reachable(db.url)
    return db
