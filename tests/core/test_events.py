"""core/events.py on the real test database: a notification is delivered only when the
transaction that published it commits; payloads that are not ids are ignored; a
listener whose connection is killed reconnects, re-reads (its resync callbacks run,
its watches wake) and goes on delivering."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import psycopg
import pytest

from core import events
from core.db import Database, libpq_url, sqlalchemy_url
from core.supervisor import Backoff

WAIT_S = 30  # a guard against a hang only: every wait below ends on an event

FAST = Backoff(initial_s=0.05, max_s=0.2, jitter=0.0)


async def _listening(db: Database) -> events.EventListener:
    listener = events.EventListener(db.libpq_url, backoff=FAST)
    listener.start()
    assert await listener.wait_connected(WAIT_S)
    return listener


async def test_an_event_is_delivered_when_its_transaction_commits(db: Database) -> None:
    listener = await _listening(db)
    got: asyncio.Queue[str] = asyncio.Queue()
    listener.on(events.CALL_AMD, got.put_nowait)
    try:
        rolled_back, committed = uuid.uuid4(), uuid.uuid4()
        async with db.session() as session:
            await events.publish(session, events.CALL_AMD, rolled_back)
            await session.rollback()
        async with db.session() as session:
            await events.publish(session, events.CALL_AMD, committed)
            assert got.empty()  # not before the commit
            await session.commit()
        # The rolled-back one was never sent: the first to arrive is the committed one.
        assert await asyncio.wait_for(got.get(), WAIT_S) == str(committed)
    finally:
        await listener.stop()


async def test_a_watch_wakes_only_for_its_own_key(db: Database) -> None:
    listener = await _listening(db)
    mine, other = uuid.uuid4(), uuid.uuid4()
    seen: asyncio.Queue[str] = asyncio.Queue()
    listener.on(events.NOTICES, seen.put_nowait)
    try:
        with listener.watch((events.NOTICES, mine)) as watch:
            async with db.session() as session:
                await events.publish(session, events.NOTICES, other)
                await session.commit()
            await asyncio.wait_for(seen.get(), WAIT_S)  # the other one has been dispatched
            assert not watch.event.is_set()
            async with db.session() as session:
                await events.publish(session, events.NOTICES, mine)
                await session.commit()
            assert await watch.wait(WAIT_S) is True
    finally:
        await listener.stop()


def test_a_payload_too_big_for_postgresql_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="8000 bytes"):
        events.payload_of("x" * 8000)
    assert events.payload_of("x" * 7999) == "x" * 7999


async def test_a_payload_that_is_not_an_id_is_ignored_and_logged(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    listener = await _listening(db)
    ids: asyncio.Queue[uuid.UUID | None] = asyncio.Queue()
    listener.on(
        events.CALL_AMD, lambda payload: ids.put_nowait(events.parse_id(events.CALL_AMD, payload))
    )
    try:
        with caplog.at_level(logging.WARNING, logger="core.events"):
            async with await psycopg.AsyncConnection.connect(db.libpq_url, autocommit=True) as c:
                await c.execute("SELECT pg_notify('ks_call_amd', 'DROP TABLE calls; --')")
                good = uuid.uuid4()
                await c.execute("SELECT pg_notify('ks_call_amd', %s)", (str(good),))
            assert await asyncio.wait_for(ids.get(), WAIT_S) is None
            assert await asyncio.wait_for(ids.get(), WAIT_S) == good
        assert "payload is not an id" in caplog.text
    finally:
        await listener.stop()


async def test_a_killed_connection_is_reopened_and_state_re_read(db: Database) -> None:
    """NOTIFYs sent while the listener was away are lost: after reconnecting it runs its
    resync callbacks and wakes every watch, then delivers again."""
    listener = await _listening(db)
    resynced = asyncio.Event()

    async def resync() -> None:
        resynced.set()

    listener.on_reconnect(resync)
    got: asyncio.Queue[str] = asyncio.Queue()
    listener.on(events.CALL_PROGRESS, got.put_nowait)
    key = uuid.uuid4()
    try:
        with listener.watch((events.CALL_PROGRESS, key)) as watch:
            async with await psycopg.AsyncConnection.connect(db.libpq_url, autocommit=True) as c:
                killed = await c.execute("SELECT pg_terminate_backend(%s)", (listener.backend_pid,))
                assert (await killed.fetchone()) == (True,)
            await asyncio.wait_for(resynced.wait(), WAIT_S)
            assert await watch.wait(WAIT_S) is True  # woken by the reconnect
            assert listener.connected and listener.status()["reconnects"] == 1
            async with db.session() as session:
                await events.publish(session, events.CALL_PROGRESS, key)
                await session.commit()
            assert await asyncio.wait_for(got.get(), WAIT_S) == str(key)
    finally:
        await listener.stop()


async def test_the_listener_comes_back_after_a_database_restart(tmp_path: Path) -> None:
    """A PostgreSQL of its own (the shared test server is never stopped), stopped and
    started again on the same data directory: the listener reconnects by itself, re-reads
    (its resync runs) and delivers what is published after the restart."""
    import pgserver

    data = tmp_path / "pg"
    server = pgserver.get_server(data, cleanup_mode="stop")
    url = libpq_url(sqlalchemy_url(server.get_uri()))
    listener = events.EventListener(url, backoff=FAST)
    resynced = asyncio.Event()

    async def resync() -> None:
        resynced.set()

    listener.on_reconnect(resync)
    got: asyncio.Queue[str] = asyncio.Queue()
    listener.on(events.NOTICES, got.put_nowait)
    listener.start()
    try:
        assert await listener.wait_connected(WAIT_S)
        await asyncio.to_thread(server.cleanup)  # the database goes away
        server = await asyncio.to_thread(pgserver.get_server, data, cleanup_mode="stop")
        assert libpq_url(sqlalchemy_url(server.get_uri())) == url
        await asyncio.wait_for(resynced.wait(), WAIT_S)
        key = uuid.uuid4()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("SELECT pg_notify('ks_notices', %s)", (str(key),))
        assert await asyncio.wait_for(got.get(), WAIT_S) == str(key)
        assert listener.status()["reconnects"] == 1
    finally:
        await listener.stop()
        server.cleanup()
