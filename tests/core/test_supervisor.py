"""core.supervisor: a failing task is restarted with growing, capped, jittered delays,
its state is readable, a clean return ends supervision, and stopping cancels it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.supervisor import Backoff, Supervisor


def test_the_delay_grows_exponentially_to_its_cap():
    backoff = Backoff(initial_s=0.5, factor=2.0, max_s=4.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_spreads_the_delay_but_never_past_the_cap():
    backoff = Backoff(initial_s=1.0, factor=2.0, max_s=4.0, jitter=0.25)
    assert backoff.delay(1, rand=lambda: 0.0) == 0.75
    assert backoff.delay(1, rand=lambda: 1.0) == 1.25
    assert backoff.delay(5, rand=lambda: 1.0) == 4.0  # 4 × 1.25, capped
    assert backoff.delay(5, rand=lambda: 0.0) == 3.0


class Flaky:
    """Fails `failures` times, then runs until released (and returns)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.up = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError(f"database gone (attempt {self.attempts})")
        self.up.set()
        await self.release.wait()


async def test_a_failing_task_is_restarted_with_backoff_and_reports_its_state(caplog):
    flaky = Flaky(failures=4)
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    backoff = Backoff(initial_s=0.5, factor=2.0, max_s=2.0, jitter=0.0)
    supervisor = Supervisor("flaky", flaky, backoff=backoff, sleep=sleep)
    assert not supervisor.running
    caplog.set_level(logging.INFO, logger="core.supervisor")
    async with supervisor:
        await asyncio.wait_for(flaky.up.wait(), 5)
        assert supervisor.running
        state = supervisor.state()
        assert state.running and state.restarts == 4
        assert state.last_error == "ConnectionError: database gone (attempt 4)"
        assert state.last_failure_at is not None
        assert delays == [0.5, 1.0, 2.0, 2.0]  # exponential, capped
    assert not supervisor.running
    lines = [r for r in caplog.records if r.name == "core.supervisor"]
    assert len(lines) == 4  # one line a restart, not a flood
    assert lines[0].exc_info is not None  # the first failure of a streak has its traceback
    assert all(r.exc_info is None for r in lines[1:])


async def test_a_run_that_lasts_resets_the_backoff(caplog):
    attempts = 0
    delays: list[float] = []
    second_streak = asyncio.Event()

    async def factory() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 3:  # stays up long enough to count as healthy, then fails
            await asyncio.sleep(0.05)
        if attempts == 5:
            second_streak.set()
            await asyncio.Event().wait()
        raise RuntimeError("boom")

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    backoff = Backoff(initial_s=1.0, factor=2.0, max_s=8.0, jitter=0.0, reset_after_s=0.01)
    caplog.set_level(logging.INFO, logger="core.supervisor")
    async with Supervisor("resets", factory, backoff=backoff, sleep=sleep):
        await asyncio.wait_for(second_streak.wait(), 5)
    assert delays == [1.0, 2.0, 1.0, 2.0]  # the long third run started the count afresh
    assert "resets is running again after 2 restart(s)" in caplog.text


async def test_a_clean_return_ends_supervision():
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1

    supervisor = Supervisor("once", once)
    supervisor.start()
    await supervisor.join(grace_s=5)
    assert runs == 1
    assert supervisor.restarts == 0 and not supervisor.running


async def test_stopping_cancels_a_run_and_a_pending_restart():
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    supervisor = Supervisor("forever", forever)
    supervisor.start()
    await asyncio.wait_for(started.wait(), 5)
    await supervisor.stop()
    assert cancelled.is_set() and not supervisor.running

    async def failing() -> None:
        raise RuntimeError("down")

    waiting = Supervisor("waiting", failing, backoff=Backoff(initial_s=60, jitter=0))
    waiting.start()
    for _ in range(100):
        if waiting.restarts:
            break
        await asyncio.sleep(0)
    assert waiting.restarts == 1
    await asyncio.wait_for(waiting.stop(), 5)  # the 60 s wait is cut short


async def test_starting_twice_is_refused():
    supervisor = Supervisor("twice", lambda: asyncio.Event().wait())
    supervisor.start()
    try:
        with pytest.raises(RuntimeError, match="already supervised"):
            supervisor.start()
    finally:
        await supervisor.stop()
