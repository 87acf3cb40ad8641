"""`call_function_alone`: a function call that is its own transaction, on the database's
pool of autocommit connections, retried once when its pooled connection was broken."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import psycopg
import pytest
from sqlalchemy import text

from core.db import Database
from core.sql_functions import call_function_alone

XACT = text("SELECT * FROM pg_current_xact_id() AS xid")
BACKEND = text("SELECT pg_backend_pid() AS pid")
STATUS = text("SELECT pg_xact_status(CAST(:xid AS xid8))")
FAILS = text("SELECT 1 / CAST(:zero AS int) AS never")


@pytest.fixture
async def one_connection(db: Database) -> AsyncIterator[Database]:
    """The same database, with a function pool of exactly one connection."""
    alone = Database(url=db.url, embedded=False)
    alone.engine(pool_size=1)
    try:
        yield alone
    finally:
        await alone.dispose()


async def test_a_function_called_alone_is_committed_as_it_returns(db: Database):
    first = (await call_function_alone(db, XACT, {})).one().xid
    second = (await call_function_alone(db, XACT, {})).one().xid
    assert second != first  # one transaction a call
    async with db.session() as session:
        assert await session.scalar(STATUS, {"xid": str(first)}) == "committed"


async def test_a_failed_call_leaves_no_transaction_behind(one_connection: Database):
    pid = (await call_function_alone(one_connection, BACKEND, {})).one().pid
    with pytest.raises(psycopg.errors.DivisionByZero):
        await call_function_alone(one_connection, FAILS, {"zero": 0})
    # The one pooled connection serves the next call, not "transaction is aborted".
    assert (await call_function_alone(one_connection, BACKEND, {})).one().pid == pid
    xid = (await call_function_alone(one_connection, XACT, {})).one().xid
    async with one_connection.session() as session:
        assert await session.scalar(STATUS, {"xid": str(xid)}) == "committed"


async def test_a_connection_broken_in_the_pool_is_replaced_and_the_call_retried(
    one_connection: Database, db: Database, caplog: pytest.LogCaptureFixture
):
    pid = (await call_function_alone(one_connection, BACKEND, {})).one().pid
    async with db.session() as session:  # as a server restart or an idle timeout would
        assert await session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with caplog.at_level(logging.WARNING, logger="core.sql_functions"):
        again = (await call_function_alone(one_connection, BACKEND, {})).one().pid
    assert again != pid
    assert "retried on a fresh one" in caplog.text


async def test_an_error_on_a_sound_connection_is_not_retried(
    one_connection: Database, db: Database
):
    async with db.session() as session:
        await session.execute(text("DROP SEQUENCE IF EXISTS test_alone_attempts"))
        await session.execute(text("CREATE SEQUENCE test_alone_attempts"))
        await session.commit()
    try:
        counted = text("SELECT 1 / CAST(nextval('test_alone_attempts') * :zero AS int) AS x")
        with pytest.raises(psycopg.errors.DivisionByZero):
            await call_function_alone(one_connection, counted, {"zero": 0})
        async with db.session() as session:  # nextval survives the error: one attempt
            last = await session.scalar(text("SELECT last_value FROM test_alone_attempts"))
            assert last == 1
    finally:
        async with db.session() as session:
            await session.execute(text("DROP SEQUENCE test_alone_attempts"))
            await session.commit()


async def test_dispose_closes_the_function_pool(one_connection: Database):
    pool = await one_connection.function_pool()
    await call_function_alone(one_connection, BACKEND, {})
    await one_connection.dispose()
    assert pool.closed
    # Used again after dispose: a new pool, not the closed one.
    assert (await call_function_alone(one_connection, BACKEND, {})).one().pid > 0
    assert await one_connection.function_pool() is not pool
