"""`call_function_alone`: a function call that is its own transaction, on a pooled
connection that goes back to the pool transactional again."""

from __future__ import annotations

from sqlalchemy import text

from core.db import Database
from core.sql_functions import call_function, call_function_alone

XACT = text("SELECT * FROM pg_current_xact_id() AS xid")
STATUS = text("SELECT pg_xact_status(CAST(:xid AS xid8))")


async def test_a_function_called_alone_is_committed_as_it_returns(db: Database):
    first = (await call_function_alone(db.engine(), XACT, {})).one().xid
    second = (await call_function_alone(db.engine(), XACT, {})).one().xid
    assert second != first  # one transaction a call
    async with db.session() as session:
        assert await session.scalar(STATUS, {"xid": str(first)}) == "committed"


async def test_the_connection_goes_back_to_the_pool_transactional(db: Database):
    # One pooled connection: the session below gets the very one the call used.
    alone = Database(url=db.url, embedded=False)
    try:
        alone.engine(pool_size=1)
        await call_function_alone(alone.engine(), XACT, {})
        async with alone.session() as session:
            xid = (await call_function(session, XACT, {})).one().xid
            await session.rollback()
        async with alone.session() as session:
            assert await session.scalar(STATUS, {"xid": str(xid)}) == "aborted"
    finally:
        await alone.dispose()
