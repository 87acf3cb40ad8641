"""The event-loop stall monitor (tests/stall.py) catches a callback that blocks the
loop, and only that: waiting in a coroutine, or work in a thread, is not a stall."""

from __future__ import annotations

import asyncio
import time

from accounts import passwords
from tests.stall import stalls_of


def test_a_blocking_call_on_the_loop_is_a_stall():
    async def blocks() -> None:
        time.sleep(0.2)  # noqa: ASYNC251 - the point of the test

    [stall] = stalls_of(blocks)
    assert "blocks" in stall.callback
    assert stall.blocked_s >= 0.15


def test_awaiting_is_not_a_stall():
    async def waits() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(time.sleep, 0.2)

    assert stalls_of(waits) == []


def test_password_hashing_and_checking_do_not_stall_the_loop():
    async def signs_in() -> None:
        hashed = await passwords.hash_password("correct horse battery staple")
        assert await passwords.verify_password(hashed, "correct horse battery staple")
        assert not await passwords.verify_password(None, "anything at all")
        assert await passwords.strength_problem("password123") is not None

    assert stalls_of(signs_in) == []
