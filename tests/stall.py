"""An event-loop stall monitor for tests: fails a test whose loop was blocked by one
callback for more than `LIMIT_S` (50 ms).

It times every callback the test's loop runs (`asyncio.Handle._run`, the call that
asyncio's own debug mode times for `slow_callback_duration`) and counts the time the
loop's thread was *blocked*: the callback's wall time less the time the thread spent
waiting for a CPU (Linux `/proc/<tid>/schedstat`). A loaded CI machine makes a
callback slow by not running it, which is not the code's fault and is left out; a
callback that hashes a password, sleeps, or waits on a lock or a socket blocks the
thread, and that is what fails. (Without schedstat, plain wall time is used.)
Garbage collection is left out too, and reported: the test process's heap (every
test module and what it imports) is not what a request path allocates; the server
freezes its start-up heap out of the collector (chat_app/server.py), and `warm_up`
(tests/web.py) does the same here.

`stall_monitor` (fixture) watches one test; the in-process HTTP client fixture
(tests/web.py) uses it, so every in-process request path is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

LIMIT_S = 0.05

_original_run = asyncio.events.Handle._run
_active: StallMonitor | None = None


@dataclass(frozen=True)
class Stall:
    callback: str
    blocked_s: float
    wall_s: float
    gc_s: float = 0.0
    seen_in: str = ""  # where the loop's thread was while the callback ran long

    def __str__(self) -> str:
        return (
            f"{self.callback} blocked the loop {self.blocked_s * 1000:.0f} ms"
            f" (wall {self.wall_s * 1000:.0f} ms, garbage collection {self.gc_s * 1000:.0f} ms)"
            + (f"\n    seen in: {self.seen_in}" if self.seen_in else "")
        )


def _waiting_clock(native_id: int) -> Callable[[], float]:
    """Seconds the thread has spent runnable but waiting for a CPU, so far."""
    try:
        fd = os.open(f"/proc/self/task/{native_id}/schedstat", os.O_RDONLY)
    except OSError:
        return lambda: 0.0
    return lambda: int(os.pread(fd, 128, 0).split()[1]) / 1e9


@dataclass
class StallMonitor:
    """Records every callback on the current thread's loop that blocks > `limit_s`."""

    limit_s: float = LIMIT_S
    stalls: list[Stall] = field(default_factory=list)
    thread: int = field(default_factory=threading.get_ident)
    waited: Callable[[], float] = field(
        default_factory=lambda: _waiting_clock(threading.get_native_id())
    )
    collecting_s: float = 0.0  # garbage collection on the loop's thread, so far
    _gc_started: float = 0.0
    _running_since: float | None = None
    _seen_in: str = ""

    def sample(self) -> None:
        """From a watchdog thread: note where a long-running callback is."""
        since = self._running_since
        if since is None or self._seen_in or time.perf_counter() - since < self.limit_s:
            return
        frame = sys._current_frames().get(self.thread)
        if frame is not None:
            stack = traceback.extract_stack(frame)[-6:]
            self._seen_in = " <- ".join(
                f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
            )

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if threading.get_ident() != self.thread:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.collecting_s += time.perf_counter() - self._gc_started

    def run(self, handle: asyncio.Handle) -> None:
        if threading.get_ident() != self.thread:
            _original_run(handle)
            return
        started, waited, collected = time.perf_counter(), self.waited(), self.collecting_s
        self._running_since, self._seen_in = started, ""
        try:
            _original_run(handle)
        finally:
            self._running_since = None
            wall = time.perf_counter() - started
            if wall > self.limit_s:
                gc_s = self.collecting_s - collected
                blocked = wall - (self.waited() - waited) - gc_s
                if blocked > self.limit_s:
                    stall = Stall(_describe(handle), blocked, wall, gc_s, self._seen_in)
                    self.stalls.append(stall)


def _describe(handle: asyncio.Handle) -> str:
    from asyncio.base_events import _format_handle  # type: ignore[attr-defined]

    return str(_format_handle(handle))


def _watch(monitor: StallMonitor, stop: threading.Event) -> None:
    while not stop.wait(monitor.limit_s / 2):
        monitor.sample()


def _patched_run(handle: asyncio.Handle) -> None:
    monitor = _active
    if monitor is None:
        _original_run(handle)
    else:
        monitor.run(handle)


@contextlib.contextmanager
def watching(limit_s: float = LIMIT_S) -> Iterator[StallMonitor]:
    """Watch the loop of the calling thread while the block runs."""
    global _active
    assert _active is None, "one stall monitor at a time"
    monitor = StallMonitor(limit_s=limit_s)
    _active = monitor
    asyncio.events.Handle._run = _patched_run  # type: ignore[method-assign,assignment]
    gc.callbacks.append(monitor.on_gc)
    stop = threading.Event()
    watchdog = threading.Thread(target=_watch, args=(monitor, stop), daemon=True)
    watchdog.start()
    try:
        yield monitor
    finally:
        stop.set()
        watchdog.join()
        gc.callbacks.remove(monitor.on_gc)
        asyncio.events.Handle._run = _original_run  # type: ignore[method-assign]
        _active = None


@pytest.fixture
async def stall_monitor() -> AsyncIterator[StallMonitor]:
    """Fails the test if its event loop was blocked > 50 ms by any one callback."""
    with watching() as monitor:
        yield monitor
    if monitor.stalls:
        pytest.fail(
            "the event loop was blocked:\n" + "\n".join(f"  {s}" for s in monitor.stalls),
            pytrace=False,
        )


def stalls_of(body: Callable[[], Any]) -> list[Stall]:
    """Run `body` (a coroutine function) on a new loop under a monitor (self-tests)."""

    async def main() -> list[Stall]:
        with watching() as monitor:
            await asyncio.create_task(body())
        return monitor.stalls

    return asyncio.run(main())
