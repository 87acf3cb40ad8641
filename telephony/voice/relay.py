"""One call's conversation over Twilio ConversationRelay (the `/voice/relay` websocket).

Twilio does speech-to-text and text-to-speech; this side exchanges text:

- `setup` → the agent speaks first: who is calling, on whose behalf, that it is an
  AI and that the call is recorded, then the purpose;
- `prompt` (the callee's words; pieces until `last`) → an opt-out ("stop calling me",
  "remove me") puts the number on do-not-call at once and ends politely; otherwise the
  agent's reply streams back as `text` tokens;
- `interrupt` → the reply being spoken stops; only what was heard is kept;
- `dtmf` → keypad 9 is an opt-out;
- `error` → logged and stored;
- anything else → refused (logged, ignored); a frame that is not JSON closes the
  socket (1007).

A machine (asynchronous AMD, via `RelaySessions`) → the brief's voicemail is left, or
the call ends at once, as the brief says. When the agent is done, an `end` message
carries the outcome as `handoffData` — with `"handoff": "rep"` when the prospect
accepted the warm hand-off, which the `<Connect action>` URL answers with a `<Dial>`
to the rep (telephony/handoff.py). Every turn is stored as a transcript segment.

A segment's time is the wall clock's, except on a simulated call (`paced_by_speech`):
the simulated carrier plays a call of a minute in a few seconds, so there each turn
starts where the one before it ended and lasts as long as its words take to say
(`turn_seconds`) — the pace its recording is made at (telephony/simulator/speech.py),
so the transcript's times are the recording's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import update

from accounts.models import User
from accounts.service import Actor
from core.db import Database
from telephony.dnc import add_to_dnc
from telephony.models import Call, CallOutcome, Contact, DncSource, TranscriptSegment
from telephony.voice.agent import VoiceAgent
from telephony.voice.intents import OPT_OUT_DIGIT, is_opt_out

log = logging.getLogger(__name__)

WORDS_PER_SECOND: Final = 2.5  # a text-to-speech voice, for segment end times
KEY_PRESS_S: Final = 0.3  # a keypad press's tone
MAX_PROMPT_CHARS: Final = 4000
_TOKENS: Final = re.compile(r"\S+\s*")


class RelaySocket(Protocol):
    """The websocket, as the conversation needs it (Starlette's WebSocket fits)."""

    async def send_text(self, data: str) -> None: ...
    async def receive_text(self) -> str: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


def speak_after(
    previous: asyncio.Task[None] | None, work: Coroutine[Any, Any, None], *, name: str
) -> asyncio.Task[None]:
    """A task that stops `previous` (what is being said) and then runs `work`. Work whose
    task is cancelled before it began — the callee hung up, or spoke again — is closed,
    not left never awaited."""
    began = False

    async def run() -> None:
        nonlocal began
        if previous is not None and not previous.done():
            previous.cancel()
            await asyncio.wait([previous])  # its end, whatever it was; ours propagates
        began = True
        await work

    task = asyncio.create_task(run(), name=name)
    task.add_done_callback(lambda _: None if began else work.close())
    return task


def speech_seconds(text: str) -> float:
    return len(text.split()) / WORDS_PER_SECOND


def turn_seconds(speaker: str, text: str) -> float:
    """How long a turn lasts on a call paced by speech: its words, or a key's tone."""
    return KEY_PRESS_S if speaker == "keypad" else speech_seconds(text)


async def _pieces(text: str) -> AsyncIterator[str]:
    for token in _TOKENS.findall(text):
        yield token


@dataclass
class _Turn:
    speaker: str
    text: str
    started_at: datetime
    ended_at: datetime
    interrupted: bool = False


class RelayConversation:
    def __init__(
        self,
        socket: RelaySocket,
        db: Database,
        call: Call,
        contact: Contact,
        agent: VoiceAgent,
        *,
        wait_for_speech: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        paced_by_speech: bool = False,
    ) -> None:
        self.socket = socket
        self.db = db
        self.call_id = call.id
        self.workspace_id = call.workspace_id
        self.phone_e164 = call.phone_e164
        self.placed_by = call.placed_by
        self.call_sid = call.twilio_sid
        self.brief_voicemail = str(call.brief.get("on_voicemail", "leave"))
        self.contact_tz = ZoneInfo(contact.time_zones[0]) if contact.time_zones else UTC
        self.agent = agent
        self.wait_for_speech = wait_for_speech
        self.clock = clock
        # On a simulated call: where the next turn starts (see the module's docstring).
        self._speech_at: datetime | None = clock() if paced_by_speech else None
        self._seq = 0
        self._speaking: asyncio.Task[None] | None = None
        self._pending_prompt: list[str] = []
        self._ended = False
        self._machine = False
        self._lock = asyncio.Lock()  # one reply at a time
        self._writes: set[asyncio.Task[None]] = set()
        self._spoken_so_far = ""

    # --- the loop -----------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                raw = await self.socket.receive_text()
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("relay %s: a frame that is not JSON; closing", self.call_id)
                    await self.socket.close(code=1007, reason="not JSON")
                    return
                if not isinstance(message, dict):
                    log.warning("relay %s: a message that is not an object", self.call_id)
                    continue
                await self.handle(message)
        finally:
            if not self._ended:
                await self._keep_state()  # the callee hung up: keep what was learned
            if self._speaking is not None:
                self._speaking.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._speaking
            if self._writes:
                await asyncio.gather(*self._writes, return_exceptions=True)

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "setup":
            sid = message.get("callSid")
            if isinstance(sid, str) and self.call_sid is None:
                self.call_sid = sid
            self._start(self._say_opening())
        elif kind == "prompt":
            piece = str(message.get("voicePrompt") or "")[:MAX_PROMPT_CHARS]
            self._pending_prompt.append(piece)
            if message.get("last", True):
                text = " ".join(p.strip() for p in self._pending_prompt if p.strip())
                self._pending_prompt.clear()
                if text:
                    await self._on_caller(text)
        elif kind == "interrupt":
            heard = str(message.get("utteranceUntilInterrupt") or "")
            await self._interrupt(heard)
        elif kind == "dtmf":
            digit = str(message.get("digit") or "")
            now = self.clock()
            pressed = now + timedelta(seconds=KEY_PRESS_S)
            self._record(_Turn("system", f"Keypad: {digit}", now, pressed))
            if digit == OPT_OUT_DIGIT:
                await self._opt_out(f"pressed {digit} to opt out")
        elif kind == "error":
            description = str(message.get("description") or "")[:500]
            log.warning("relay %s: Twilio reported an error: %s", self.call_id, description)
            self._record(_Turn("system", f"Relay error: {description}", self.clock(), self.clock()))
        else:
            log.warning("relay %s: refused a message of unknown type %r", self.call_id, kind)

    # --- what the callee does -----------------------------------------------------

    async def _on_caller(self, text: str) -> None:
        now = self.clock()
        self._record(_Turn("prospect", text, now, now + timedelta(seconds=speech_seconds(text))))
        if self._ended:
            return
        if is_opt_out(text):
            await self._opt_out(f"said {text[:120]!r}")
            return
        self._start(self._say(self.agent.respond(text)))

    async def _interrupt(self, heard: str) -> None:
        task = self._speaking
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.agent.interrupted(heard)

    async def _opt_out(self, how: str) -> None:
        await self._interrupt(self._spoken_so_far)
        async with self.db.session() as session:
            user = await session.get(User, self.placed_by)
            assert user is not None
            await add_to_dnc(
                session,
                Actor.of(user),
                self.phone_e164,
                reason=f"Opted out during an AI call: {how}",
                source=DncSource.OPT_OUT_CALL,
                workspace_id=self.workspace_id,
                reference=self.call_sid or str(self.call_id),
            )
            await session.execute(
                update(Call)
                .where(Call.id == self.call_id)
                .values(outcome=CallOutcome.OPTED_OUT.value, end_reason="callee opted out")
            )
            await session.commit()
        log.info("relay %s: the callee opted out; number on do-not-call", self.call_id)
        self._start(self._say(_pieces(self.agent.opted_out())))

    def machine_detected(self, answered_by: str) -> None:
        """From the AMD callback: leave the brief's voicemail, or hang up."""
        if self._machine or self._ended:
            return
        self._machine = True
        leave = self.brief_voicemail == "leave" and answered_by != "fax"
        self._start(self._voicemail(leave))

    # --- speaking -----------------------------------------------------------------

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        self._speaking = speak_after(self._speaking, work, name=f"relay-speak-{self.call_id}")

    async def _say_opening(self) -> None:
        await self._load_handoff()
        await self.agent.prepare()
        await self._say(_pieces(self.agent.opening()))

    async def _load_handoff(self) -> None:
        """Whether the rep can take this call now (a verified mobile) and whether the
        workspace wants the hand-off offered on the goal; unknown: not offered."""
        from telephony.handoff import policy_for  # it builds on the call service

        try:
            async with self.db.session() as session:
                self.agent.handoff = await policy_for(session, self.workspace_id, self.placed_by)
        except Exception:
            log.warning("relay %s: could not read the hand-off policy", self.call_id, exc_info=True)

    async def _voicemail(self, leave: bool) -> None:
        if leave:
            await self.agent.prepare()
            await self._say(_pieces(self.agent.voicemail()), end=True, outcome="voicemail")
        else:
            await self._end({"outcome": CallOutcome.VOICEMAIL.value, "reason": "machine"})

    async def _say(
        self, tokens: AsyncIterator[str], *, end: bool = False, outcome: str | None = None
    ) -> None:
        async with self._lock:
            if self._ended:
                return
            started = self.clock()
            spoken: list[str] = []
            self._spoken_so_far = ""
            try:
                async for token in tokens:
                    if not token:
                        continue
                    await self.socket.send_text(
                        json.dumps({"type": "text", "token": token, "last": False})
                    )
                    spoken.append(token)
                    self._spoken_so_far += token
                await self.socket.send_text(json.dumps({"type": "text", "token": "", "last": True}))
            except asyncio.CancelledError:
                text = "".join(spoken).strip()
                if text:
                    self._record(_Turn("agent", text, started, self.clock(), interrupted=True))
                raise
            text = "".join(spoken).strip()
            if text:
                self._record(
                    _Turn(
                        "agent",
                        text,
                        started,
                        started + timedelta(seconds=speech_seconds(text)),
                    )
                )
            state = self.agent.state
            if end or state.end_call:
                if self.wait_for_speech:
                    await asyncio.sleep(speech_seconds(text))
                data: dict[str, Any] = {
                    "outcome": outcome or (state.outcome.value if state.outcome else None),
                    "callback_at": state.callback_at.isoformat() if state.callback_at else None,
                }
                if state.handoff and not end:
                    # The <Connect action> URL dials the rep (telephony/handoff.py).
                    data.update(handoff="rep", reason=state.handoff)
                await self._end(data)

    async def _end(self, handoff: dict[str, Any]) -> None:
        if self._ended:
            return
        self._ended = True
        await self._keep_state(handoff.get("outcome"))
        await self.socket.send_text(json.dumps({"type": "end", "handoffData": json.dumps(handoff)}))

    async def _keep_state(self, outcome: str | None = None) -> None:
        """Store the outcome and callback time the conversation reached (an outcome
        already stored, e.g. an opt-out, is kept)."""
        state = self.agent.state
        values: dict[str, Any] = {}
        outcome = outcome or (state.outcome.value if state.outcome else None)
        if outcome:
            values["outcome"] = outcome
        if state.callback_at is not None:
            values["callback_at"] = state.callback_at
        if not values:
            return
        try:
            async with self.db.session() as session:
                await session.execute(
                    update(Call)
                    .where(Call.id == self.call_id, Call.outcome.is_(None))
                    .values(**values)
                )
                await session.commit()
        except Exception:
            log.exception("relay %s: could not store the outcome", self.call_id)

    # --- the transcript -----------------------------------------------------------

    def _record(self, turn: _Turn) -> None:
        """Store a turn in the background (the reply must not wait on the database)."""
        if self._speech_at is not None:  # a simulated call: speaking time, not wall time
            length = turn.ended_at - turn.started_at
            turn.started_at = self._speech_at
            turn.ended_at = self._speech_at = self._speech_at + max(length, timedelta(0))
        seq, self._seq = self._seq, self._seq + 1
        task = asyncio.create_task(self._write(seq, turn))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, seq: int, turn: _Turn) -> None:
        try:
            async with self.db.session() as session:
                session.add(
                    TranscriptSegment(
                        call_id=self.call_id,
                        workspace_id=self.workspace_id,
                        seq=seq,
                        speaker=turn.speaker,
                        text=turn.text,
                        started_at=turn.started_at,
                        ended_at=max(turn.ended_at, turn.started_at),
                        interrupted=turn.interrupted,
                    )
                )
                await session.commit()
        except Exception:
            log.exception("relay %s: could not store transcript segment %d", self.call_id, seq)
