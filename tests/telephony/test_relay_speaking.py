"""`speak_after`: what the relay says next stops what it was saying; words cancelled
before they began are dropped cleanly (no "coroutine was never awaited")."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings

from telephony.voice.relay import speak_after


async def _forever() -> None:
    await asyncio.sleep(3600)


async def test_the_next_words_stop_the_ones_being_said():
    said: list[str] = []

    async def say(text: str) -> None:
        said.append(text)

    talking = asyncio.create_task(_forever())
    await asyncio.sleep(0)
    nxt = speak_after(talking, say("next"), name="t")
    await nxt
    assert talking.cancelled()
    assert said == ["next"]


async def test_words_cancelled_before_they_began_are_dropped_cleanly():
    said: list[str] = []

    async def say(text: str) -> None:
        said.append(text)

    talking = asyncio.create_task(_forever())
    await asyncio.sleep(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for cancel_at in (0, 1):  # before its first step, and while stopping `talking`
            task = speak_after(talking, say("goodbye"), name="t")
            for _ in range(cancel_at):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            talking = asyncio.create_task(_forever())
            await asyncio.sleep(0)
        talking.cancel()
        del task
        gc.collect()
    assert said == []
    never_awaited = [w for w in caught if "never awaited" in str(w.message)]
    assert never_awaited == []
