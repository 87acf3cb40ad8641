"""Cross-process events over PostgreSQL `LISTEN/NOTIFY`.

`klosesales serve` runs as any number of processes; a Twilio callback or a job may land
on one process while the socket it concerns (a call's ConversationRelay websocket, a
user's chat) is held by another. What must reach that process goes through the
database, never through this process's memory:

- the writer calls `publish(session, channel, key)` inside the transaction that wrote
  the truth (PostgreSQL delivers a NOTIFY only when that transaction commits, and
  never one from a transaction rolled back);
- every process runs one `EventListener`: a dedicated psycopg connection LISTENing on
  `CHANNELS`, which hands each notification to this process's subscribers.

Payloads are ids only (a call id, a workspace id): a subscriber reads the truth from
the tables, so a duplicate, late or forged notification changes nothing by itself.

- `ks_call_amd` (a call id): an AMD callback found a machine → the process holding
  the call's relay socket (telephony/voice/sessions.py);
- `ks_call` (a call id): a status callback moved the call on or settled it → the chats
  showing its progress (telephony/progress.py);
- `ks_notices` (a workspace id): a call settled, insights written, credits used, a
  payment granted (billing/webhooks.py) → the workspace's open chats, which look for
  notices due (chat_app/notifications.py).

NOTIFYs sent while the listener is disconnected are lost, so after every reconnect
the listener calls its `on_reconnect` callbacks (which re-read their state from the
tables) and wakes every `Watch`. The connection is supervised (`core.supervisor`):
a database restart ends it, and it is opened again with backoff. While it is down, a
`Watch` falls back to polling every `POLL_WHILE_DOWN_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.supervisor import Backoff, Supervisor

log = logging.getLogger(__name__)

CALL_AMD: Final = "ks_call_amd"
CALL_PROGRESS: Final = "ks_call"
NOTICES: Final = "ks_notices"
CHANNELS: Final = (CALL_AMD, CALL_PROGRESS, NOTICES)
MAX_PAYLOAD_BYTES: Final = 7999  # PostgreSQL refuses 8000 and more
POLL_WHILE_DOWN_S: Final = 2.0  # how often a Watch re-reads while the listener is down
HEALTH_CHECK_S: Final = 30.0  # an idle listener pings its connection this often
APPLICATION_NAME: Final = "klosesales-events"  # how the connection shows in pg_stat_activity
BACKOFF: Final = Backoff(initial_s=0.5, max_s=10.0, reset_after_s=30.0)

Handler = Callable[[str], Awaitable[None] | None]
Resync = Callable[[], Awaitable[None]]

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def payload_of(key: uuid.UUID | str) -> str:
    """The payload for `key`: its text, refused when PostgreSQL would refuse it."""
    payload = str(key)
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"a NOTIFY payload must be under 8000 bytes ({len(payload)} given)")
    return payload


async def publish(session: AsyncSession, channel: str, key: uuid.UUID | str) -> None:
    """Queue a notification on `channel` in the session's transaction: sent to every
    listening process when it commits (nothing if it rolls back)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown event channel {channel!r}")
    await session.execute(_NOTIFY, {"channel": channel, "payload": payload_of(key)})


def parse_id(channel: str, payload: str) -> uuid.UUID | None:
    """The id a payload names, or None (logged as a warning: nobody we know sends it)."""
    try:
        return uuid.UUID(payload)
    except ValueError:
        log.warning("ignored a %s notification whose payload is not an id: %.80r", channel, payload)
        return None


class Watch:
    """A local wait for events on some (channel, key) pairs: `wait()` returns when one
    arrives, when the listener reconnects (state may have changed unseen), or after a
    timeout — whichever comes first. Re-read the tables after every return."""

    def __init__(self, listener: EventListener, keys: list[tuple[str, str]]) -> None:
        self._listener = listener
        self.keys = keys
        self.event = asyncio.Event()

    async def wait(self, timeout_s: float) -> bool:
        """True when woken by an event (or a reconnect), False on timeout. While the
        listener is down the timeout is at most `POLL_WHILE_DOWN_S`."""
        if not self._listener.connected:
            timeout_s = min(timeout_s, POLL_WHILE_DOWN_S)
        try:
            await asyncio.wait_for(self.event.wait(), timeout_s)
        except TimeoutError:
            return False
        finally:
            self.event.clear()
        return True


class EventListener:
    """This process's one LISTEN connection, dispatching to local subscribers.

    `on(channel, handler)`: `handler(payload)` for every notification on the channel
    (run as a task of its own; its failure is logged). `watch(channel, key)`: a `Watch`
    woken by notifications whose payload is `key`. `on_reconnect(resync)`: awaited
    after each reconnect (not the first connect). `start()`/`stop()` (or `async with`).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        backoff: Backoff = BACKOFF,
        health_check_s: float = HEALTH_CHECK_S,
    ) -> None:
        self._conninfo = conninfo
        self._health_check_s = health_check_s
        self._handlers: dict[str, list[Handler]] = {channel: [] for channel in CHANNELS}
        self._resyncs: list[Resync] = []
        self._watches: dict[tuple[str, str], set[Watch]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connects = 0
        self._connected = asyncio.Event()
        self.received = 0
        self.backend_pid: int | None = None  # the server process of the LISTEN connection
        self.supervisor = Supervisor("event listener", self._listen, backoff=backoff)

    @property
    def connected(self) -> bool:
        """Whether the listener is LISTENing now (notifications reach this process)."""
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def status(self) -> dict[str, object]:
        state = self.supervisor.state()
        return {
            "connected": self.connected,
            "reconnects": max(self._connects - 1, 0),
            "received": self.received,
            "last_error": state.last_error,
        }

    # --- subscribing -------------------------------------------------------------------

    def on(self, channel: str, handler: Handler) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"unknown event channel {channel!r}")
        self._handlers[channel].append(handler)

    def on_reconnect(self, resync: Resync) -> None:
        self._resyncs.append(resync)

    @contextlib.contextmanager
    def watch(self, *pairs: tuple[str, uuid.UUID | str]) -> Iterator[Watch]:
        """A `Watch` on these (channel, key) pairs for the length of the block."""
        keys = [(channel, str(key)) for channel, key in pairs]
        watch = Watch(self, keys)
        for key in keys:
            self._watches.setdefault(key, set()).add(watch)
        try:
            yield watch
        finally:
            for key in keys:
                found = self._watches.get(key)
                if found is not None:
                    found.discard(watch)
                    if not found:
                        del self._watches[key]

    # --- running -----------------------------------------------------------------------

    def start(self) -> None:
        self.supervisor.start()

    async def stop(self) -> None:
        await self.supervisor.stop()
        self._connected.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> EventListener:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _listen(self) -> None:
        """One connection's life: LISTEN, resync if it is a reconnect, dispatch until the
        connection breaks (raised, so the supervisor opens a new one with backoff)."""
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            application_name=APPLICATION_NAME,
            keepalives=1,
            keepalives_idle=30,
        )
        async with conn:
            self.backend_pid = conn.info.backend_pid
            for channel in CHANNELS:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._connects += 1
            self._connected.set()
            try:
                if self._connects > 1:
                    log.info("event listener reconnected: re-reading state from the tables")
                    await self._resync()
                while True:
                    async for notify in conn.notifies(timeout=self._health_check_s):
                        self._dispatch(notify.channel, notify.payload)
                    await conn.execute("SELECT 1")  # idle: is the connection still alive?
            finally:
                self._connected.clear()

    async def _resync(self) -> None:
        for watches in list(self._watches.values()):
            for watch in watches:
                watch.event.set()
        for resync in list(self._resyncs):
            self._spawn(resync(), "resync")

    def _dispatch(self, channel: str, payload: str) -> None:
        self.received += 1
        for watch in self._watches.get((channel, payload), ()):
            watch.event.set()
        for handler in self._handlers.get(channel, ()):
            try:
                outcome = handler(payload)
            except Exception:
                log.exception("a %s event handler failed", channel)
                continue
            if inspect.isawaitable(outcome):
                self._spawn(outcome, channel)

    def _spawn(self, work: Awaitable[None], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("a %s event handler failed", what)

        task = asyncio.create_task(run(), name=f"event:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
