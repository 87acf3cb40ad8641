"""Calling a PL/pgSQL function on a session's own connection, prepared, in one round trip.

The ledger and the call callbacks do their work in database functions (one call per
operation, every invariant checked under the right row locks). Going around
SQLAlchemy's statement machinery to psycopg directly, as a server-side prepared
statement, halves the client CPU such a call costs (bench/ledger.py); the function
runs in the session's transaction like any other statement.

`call_function_alone` runs a function that is a whole unit of work as its own
transaction, on the database's pool of autocommit psycopg connections
(`Database.function_pool`): the row locks it takes are released the moment it ends, not
when the client's COMMIT arrives — after the event loop has served everything else
that was ready, which under load held a hot row for tens of milliseconds — and the call
costs a third of the client CPU of an ORM connection's checkout, pre-ping and reset.
Such a function must be idempotent (by a key it is given): a call whose connection
turns out to be broken (the server restarted, or closed it while idle) is retried once
on a fresh one, after the pool's idle connections are checked, and may have been
applied before the break.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import TextClause
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"(?<![:\w]):(\w+)")
_DRIVER_SQL: dict[str, str] = {}


class Rows:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise RuntimeError(f"a database function returned {len(self._rows)} rows, not 1")
        return self._rows[0]


def _driver_sql(statement: TextClause) -> str:
    sql = _DRIVER_SQL.get(statement.text)
    if sql is None:
        sql = _DRIVER_SQL.setdefault(statement.text, _PLACEHOLDER.sub(r"%(\1)s", statement.text))
    return sql


async def _run(driver: psycopg.AsyncConnection[Any], sql: str, params: dict[str, Any]) -> Rows:
    async with driver.cursor(row_factory=namedtuple_row) as cursor:
        await cursor.execute(sql, params, prepare=True)
        return Rows(await cursor.fetchall())


async def call_function(
    session: AsyncSession, statement: TextClause, params: dict[str, Any]
) -> Rows:
    """Run `statement` (`SELECT * FROM fn(:a, :b)`) with `params` in the session's
    transaction; the rows as named tuples."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    return await _run(driver, _driver_sql(statement), params)


async def call_function_alone(db: Database, statement: TextClause, params: dict[str, Any]) -> Rows:
    """Run `statement` as its own transaction (autocommit: committed, or rolled back on
    an error, by the server as the statement ends); the rows as named tuples."""
    pool = await db.function_pool()
    sql = _driver_sql(statement)
    async with pool.connection() as driver:
        try:
            return await _run(driver, sql, params)
        except psycopg.OperationalError:
            if not driver.broken:
                raise
    # The server restarted or dropped idle connections: weed out the pool's other broken
    # ones too, so the retry (and the calls after it) get a live connection.
    log.warning("a pooled connection was broken: the function call is retried on a fresh one")
    await db.recover_function_pool()
    async with pool.connection() as driver:
        return await _run(driver, sql, params)
