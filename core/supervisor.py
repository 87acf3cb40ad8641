"""Supervision of a process's long-lived background tasks.

A task such as the job worker or the post-call queue must outlive whatever breaks it
for a while — a database restart ends the job worker (its listener's connection dies),
a network blip fails a statement. `Supervisor(name, factory)` runs `factory()` in a task
of its own and, whenever that raises, starts it again after a delay that grows
exponentially up to a cap, with jitter (so a fleet of processes does not reconnect in
lock-step); a run that lasts `Backoff.reset_after_s` resets the delay. A factory that
returns has finished on purpose and is not restarted (a task that must never finish
should raise when it does). Cancelling the supervisor cancels the run.

Each restart is logged once: the first failure of a streak with its traceback, the
next ones as one line each, and the recovery once the task has run long enough. The
state (`running`, `restarts`, `last_error`) is what a health check reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts: `initial_s × factor^(n-1)` for the n-th failure in a row,
    capped at `max_s`, each spread by ± `jitter` (a fraction) and never above `max_s`."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 10.0
    jitter: float = 0.2
    reset_after_s: float = 30.0

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """The delay before the restart that follows `failures` (≥ 1) failures in a row."""
        base = min(self.max_s, self.initial_s * self.factor ** max(failures - 1, 0))
        return min(self.max_s, base * (1 + self.jitter * (2 * rand() - 1)))


@dataclass(frozen=True)
class SupervisedState:
    """A supervised task as a health check sees it."""

    name: str
    running: bool
    restarts: int
    last_error: str | None
    last_failure_at: datetime | None


class Supervisor:
    """Runs `factory()` until it returns, restarting it with backoff whenever it raises.

    `start()` begins (within a running event loop); `stop()` cancels the run and waits
    for it to end; `join(grace_s)` waits for the factory to return by itself, then
    stops it. Usable as an async context manager (start on enter, stop on exit).
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], Awaitable[None]],
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._factory = factory
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._failures = 0  # in a row, since the last run that lasted reset_after_s
        self.restarts = 0
        self.last_error: str | None = None
        self.last_failure_at: datetime | None = None

    @property
    def running(self) -> bool:
        """True while a run of the factory is under way (not while waiting to restart)."""
        return self._running

    def state(self) -> SupervisedState:
        return SupervisedState(
            self.name, self._running, self.restarts, self.last_error, self.last_failure_at
        )

    def start(self) -> None:
        if self._task is not None and not self._task.done():
            raise RuntimeError(f"{self.name} is already supervised")
        self._task = asyncio.create_task(self._supervise(), name=f"supervised:{self.name}")

    async def stop(self) -> None:
        """Cancel the run (or the wait before a restart) and wait for it to end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def join(self, grace_s: float) -> None:
        """Wait up to `grace_s` seconds for the factory to return by itself, then stop."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        await self.stop()

    async def __aenter__(self) -> Supervisor:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _healthy(self) -> None:
        """The current run has lasted `reset_after_s`: the next failure starts afresh."""
        if self._failures:
            log.info("%s is running again after %d restart(s)", self.name, self._failures)
        self._failures = 0

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._running = True
            healthy = loop.call_later(self.backoff.reset_after_s, self._healthy)
            try:
                await self._factory()
                return
            except Exception as exc:
                error = exc
            finally:
                healthy.cancel()
                self._running = False
            self._failures += 1
            self.restarts += 1
            self.last_error = f"{type(error).__name__}: {error}".strip()[:300]
            self.last_failure_at = datetime.now(UTC)
            delay = self.backoff.delay(self._failures)
            if self._failures == 1:
                log.error("%s failed; restarting in %.1f s", self.name, delay, exc_info=error)
            else:
                log.warning(
                    "%s failed again (%d in a row): %s; restarting in %.1f s",
                    self.name,
                    self._failures,
                    self.last_error,
                    delay,
                )
            del error  # no reference cycle through the traceback while we wait
            await self._sleep(delay)
