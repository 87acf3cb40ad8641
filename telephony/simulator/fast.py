"""A fast simulated carrier for volume: many calls, no conversation.

`FastCarrier` implements `TelephonyProvider` like the full simulator (carrier.py) but
skips the voice: each placed call rings, then ends answered (a `CallDuration` drawn at
random, never past the call's `TimeLimit`), by a machine, busy or unanswered, and its
status callbacks are applied through the same code the signed webhook runs
(`telephony.callbacks.apply_status`: de-duplication, the settlement of the hold,
exactly once) — in-process, at `speed` times real time. It records when each request
reached it, so a bench can check the calls-per-second limit where the carrier sees it.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from core.db import Database
from telephony import callbacks
from telephony.twilio import CallRequest, PlacedCall

DEFAULT_ODDS = {"answered": 0.5, "no-answer": 0.25, "busy": 0.1, "voicemail": 0.15}


@dataclass
class FastCall:
    sid: str
    call_id: str
    to: str
    received_at: float  # time.time() when the request reached the carrier
    outcome: str = ""
    duration_s: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class FastCarrier:
    live = False
    label = "fast simulated carrier"

    def __init__(
        self,
        db: Database,
        *,
        speed: float = 20.0,
        odds: dict[str, float] | None = None,
        talk_s: tuple[int, int] = (20, 240),
        ring_s: float = 15.0,
        seed: int | None = None,
    ) -> None:
        self.db = db
        self.speed = speed
        self.odds = odds or DEFAULT_ODDS
        self.talk_s = talk_s
        self.ring_s = ring_s
        self.rng = random.Random(seed)  # noqa: S311 (a simulation, not a secret)
        self.calls: dict[str, FastCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def create_call(self, req: CallRequest) -> PlacedCall:
        call_id = parse_qs(urlsplit(req.status_callback_url).query).get("call", [""])[0]
        sid = "CA" + secrets.token_hex(16)
        call = FastCall(sid, call_id, req.to_e164, time.time())
        outcomes = list(self.odds)
        call.outcome = self.rng.choices(outcomes, [self.odds[o] for o in outcomes])[0]
        if call.outcome in ("answered", "voicemail"):
            low, high = self.talk_s
            call.duration_s = min(req.time_limit_s, self.rng.randint(low, high))
        self.calls[sid] = call
        task = asyncio.create_task(self._run(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return PlacedCall(sid=sid, status="queued")

    async def _status(self, call: FastCall, seq: int, status: str, **extra: str) -> None:
        params = {"CallSid": call.sid, "CallStatus": status, "SequenceNumber": str(seq), **extra}
        await callbacks.apply_status(self.db, call.call_id, callbacks.parse_status(params))

    async def _run(self, call: FastCall) -> None:
        try:
            await self._status(call, 0, "initiated")
            await asyncio.sleep(self.ring_s / self.speed)
            if call.outcome in ("answered", "voicemail"):
                await self._status(call, 1, "in-progress")
                await asyncio.sleep(call.duration_s / self.speed)
                extra = {"AnsweredBy": "machine_end_beep"} if call.outcome == "voicemail" else {}
                await self._status(call, 2, "completed", CallDuration=str(call.duration_s), **extra)
            else:
                await self._status(call, 1, call.outcome, CallDuration="0")
        finally:
            call.done.set()

    async def fetch_call(self, sid: str) -> dict[str, Any]:
        call = self.calls.get(sid)
        if call is None:
            return {"sid": sid, "status": "queued"}
        return {"sid": sid, "status": "completed" if call.done.is_set() else "in-progress"}

    async def hangup(self, sid: str) -> bool:
        return sid in self.calls

    async def finish(self, timeout_s: float) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def call_ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(c.call_id) for c in self.calls.values()]
