"""The simulated carrier: a stand-in for Twilio that exercises our real code paths.

It implements `TelephonyProvider`. A placed call is answered (or busy, unanswered, or
picked up by voicemail) with configurable odds; an answered call is played by a
prospect persona that talks to the real `/voice/relay` endpoint over a real websocket,
exactly as ConversationRelay would (setup, prompt, dtmf; it reads text tokens and
honours `end`). Status, AMD and recording callbacks are posted over real HTTP to the
webhook URLs the call was created with, in Twilio's form format and signed with the
auth token (X-Twilio-Signature) — optionally duplicated and shuffled. Callbacks and the
relay handshake are signed by the `twilio` SDK (`telephony.twilio.signature`), the same
code that checks them.

Time on a simulated call is simulated: each turn lasts as long as its words would take
to say, so a call's `CallDuration` is realistic while the demo runs in seconds, and a
call that talks past its `TimeLimit` is cut off at it, as Twilio would.

A recorded call's recording is real audio: the conversation spoken by espeak-ng
(`speech.py`), uploaded to the app's simulated recording store (`recordings.py`) with
when each turn starts in it, and reported by the same signed recording-status callback
Twilio sends (`RecordingUrl` pointing at that store). Its turns are as long as the
relay's transcript says they are (the relay times a simulated call by speech, not by
the compressed wall clock: telephony/voice/relay.py), and `CallDuration` is its
length. Without espeak-ng the recording is reported `absent`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import random
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Final, Literal

import httpx
from websockets.asyncio.client import connect

from telephony.simulator import speech
from telephony.simulator.personas import PERSONAS, VOICEMAIL_GREETINGS, Persona
from telephony.simulator.recording_urls import ACCOUNT_SID, recording_url, upload_url
from telephony.twilio import CallRequest, PlacedCall, TelephonyError, signature
from telephony.twiml import relay_url_of


def connect_action_of(twiml: str) -> str | None:
    """The `<Connect action>` URL of a call's TwiML."""
    try:
        root = ET.fromstring(twiml)  # noqa: S314 - our own TwiML, never user input
    except ET.ParseError:
        return None
    node = root.find("./Connect")
    return None if node is None else node.get("action")


log = logging.getLogger(__name__)

Outcome = Literal["answered", "busy", "no-answer", "voicemail", "failed"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("answered", "busy", "no-answer", "voicemail", "failed")
WORDS_PER_SECOND: Final = 2.5
MAX_TURNS: Final = 60
# How often each prospect persona picks up a random simulated call.
PERSONA_WEIGHTS: Final = {
    "interested": 3.0,
    "price_objection": 2.0,
    "callback_later": 2.0,
    "not_interested": 2.0,
    "asks_if_ai": 1.0,
    "opt_out": 0.7,
    "opt_out_keypad": 0.3,
    "rambler": 0.5,
    "wants_a_person": 0.0,  # chosen by plan only (sorted last: other odds unchanged)
}
END_GRACE_S: Final = 0.1  # after a reply, how long an `end` may take to follow it
_KEYPAD: Final = re.compile(r"^\[keypad (.)\]$")


def parse_odds(raw: str) -> dict[Outcome, float]:
    """`answered=0.7,busy=0.1,...` → weights (unnamed outcomes weigh 0)."""
    odds: dict[Outcome, float] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in OUTCOMES:
            raise ValueError(f"unknown simulated call outcome {name!r}: use {', '.join(OUTCOMES)}")
        weight = float(value)
        if weight < 0:
            raise ValueError("simulated call odds must not be negative")
        odds[name] = weight
    if not odds or sum(odds.values()) <= 0:
        raise ValueError("simulated call odds need at least one positive weight")
    return odds


@dataclass(frozen=True)
class Plan:
    """How one simulated call goes (tests and the demo can choose it)."""

    outcome: Outcome = "answered"
    persona: str | None = None  # PERSONAS key; None: chosen at random
    duplicates: float | None = None  # share of callbacks sent twice; None: carrier default
    copies: int = 1  # every callback sent this many times (plus any duplicate)
    shuffle: bool | None = None
    drop_final: bool = False  # never send the terminal callback (reconciliation)
    seed: int | None = None
    talk_s: float = 45.0  # a rep's phone (warm hand-off) that answers talks this long


@dataclass
class SimCall:
    sid: str
    request: CallRequest
    plan: Plan
    status: str = "queued"
    duration_s: int | None = None
    elapsed_s: float = 0.0
    hangup: asyncio.Event = field(default_factory=asyncio.Event)
    sequence: int = 0
    transcript: list[tuple[str, str]] = field(default_factory=list)
    recording: speech.Recording | None = None
    recording_sid: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    handoff_data: str | None = None  # the relay's `end` message's handoffData
    extra_s: float = 0.0  # time on the call past the relay: a rep's leg ringing, talking
    rep_legs: list[tuple[str, str]] = field(default_factory=list)  # (number, DialCallStatus)
    whispers: list[str] = field(default_factory=list)  # what a rep heard before the bridge


def _recording_sid(rng: random.Random) -> str:
    return "RE" + "".join(rng.choice("0123456789abcdef") for _ in range(32))


def _spoken(who: str, text: str) -> speech.Turn:
    """A transcript entry as it sounds: "[keypad 9]" is the key's tone."""
    key = _KEYPAD.match(text)
    return speech.Turn("keypad", key.group(1)) if key else speech.Turn(who, text)


def _words_seconds(text: str | None) -> float:
    return len((text or "").split()) / WORDS_PER_SECOND


class SimulatedCarrier:
    live = False
    label = "simulated carrier"

    def __init__(
        self,
        *,
        auth_token: str,
        odds: dict[Outcome, float] | None = None,
        pace_s: float = 0.4,
        duplicates: float = 0.0,
        shuffle: bool = False,
        seed: int | None = None,
    ) -> None:
        self._token = auth_token
        self.odds = odds or {"answered": 1.0}
        self.pace_s = pace_s
        self.duplicates = duplicates
        self.shuffle = shuffle
        self._rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
        self._plans: dict[str, list[Plan]] = {}
        self.calls: dict[str, SimCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"SimulatedCarrier(odds={self.odds!r}, pace_s={self.pace_s})"

    # --- test and demo control ----------------------------------------------------

    def plan_next(self, to_e164: str, plan: Plan) -> None:
        """The next call to `to_e164` goes as `plan` (queued per number)."""
        self._plans.setdefault(to_e164, []).append(plan)

    def _plan_for(self, to_e164: str) -> Plan:
        queued = self._plans.get(to_e164)
        if queued:
            return queued.pop(0)
        outcomes = list(self.odds)
        outcome = self._rng.choices(outcomes, weights=[self.odds[o] for o in outcomes])[0]
        return Plan(outcome=outcome, seed=self._rng.randrange(1 << 30))

    async def wait(self, sid: str, timeout_s: float = 30.0) -> SimCall:
        """Until the simulated call has finished and delivered its callbacks."""
        call = self.calls[sid]
        await asyncio.wait_for(call.done.wait(), timeout_s)
        return call

    async def finish(self, timeout_s: float) -> None:
        """Until every simulated call in progress has finished (or `timeout_s`)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    # --- TelephonyProvider --------------------------------------------------------

    async def create_call(self, req: CallRequest) -> PlacedCall:
        sid = "CA" + secrets.token_hex(16)
        call = SimCall(sid=sid, request=req, plan=self._plan_for(req.to_e164))
        self.calls[sid] = call
        task = asyncio.create_task(self._run(call), name=f"sim-call-{sid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("simulated call %s to %s: %s", sid, req.to_e164, call.plan.outcome)
        return PlacedCall(sid=sid, status="queued", raw={"sid": sid, "status": "queued"})

    async def fetch_call(self, sid: str) -> dict[str, Any]:
        call = self.calls.get(sid)
        if call is None:
            raise TelephonyError("The requested resource was not found", code=20404, status=404)
        duration = None if call.duration_s is None else str(call.duration_s)
        return {"sid": sid, "status": call.status, "duration": duration}

    async def hangup(self, sid: str) -> bool:
        """As Twilio: a call that is over (or unknown) answers 20404, i.e. False."""
        call = self.calls.get(sid)
        if call is None or call.done.is_set() or call.duration_s is not None:
            return False
        call.hangup.set()
        return True

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- one call -----------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=15.0)
        return self._http

    async def _run(self, call: SimCall) -> None:
        plan = call.plan
        rng = random.Random(plan.seed)  # noqa: S311 - a simulation, not a secret
        outbox: list[tuple[str, dict[str, str]]] = []
        shuffle = self.shuffle if plan.shuffle is None else plan.shuffle
        dup = self.duplicates if plan.duplicates is None else plan.duplicates

        async def post(url: str | None, params: dict[str, str]) -> None:
            if not url:
                return
            copies = plan.copies + (1 if dup and rng.random() < dup else 0)
            for _ in range(copies):
                if shuffle:
                    outbox.append((url, params))
                else:
                    await self._deliver(url, params)

        async def status(value: str, **extra: str) -> None:
            call.status = value
            params = self._status_params(call, value, extra)
            await post(call.request.status_callback_url, params)

        try:
            await status("initiated")
            await self._pause()
            await status("ringing")
            await self._pause()
            if plan.outcome in ("busy", "no-answer", "failed"):
                call.duration_s = 0
                if not plan.drop_final:
                    await status(plan.outcome, CallDuration="0")
                else:
                    call.status = plan.outcome
            else:
                call.status = "in-progress"
                await status("in-progress")
                machine = plan.outcome == "voicemail"
                persona = None if machine else self._persona(plan, rng)
                await self._converse(call, persona, machine, rng, post)
                limit = call.request.time_limit_s
                if call.handoff_data and '"handoff"' in call.handoff_data:
                    await self._connect_action(call)
                recorded = call.request.record and call.request.recording_callback_url
                if recorded:
                    await self._make_recording(call, rng)
                if call.recording is not None:
                    call.elapsed_s = min(float(limit), call.recording.duration_s + call.extra_s)
                else:
                    call.elapsed_s = min(float(limit), call.elapsed_s + call.extra_s)
                call.duration_s = min(limit, max(1, math.ceil(call.elapsed_s)))
                if plan.drop_final:
                    call.status = "completed"
                else:
                    await status("completed", CallDuration=str(call.duration_s))
                if recorded:
                    await post(call.request.recording_callback_url, self._recording(call, rng))
            if shuffle:
                rng.shuffle(outbox)
                for url, params in outbox:
                    await self._deliver(url, params)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("simulated call %s failed", call.sid)
            call.status = "failed"
            call.duration_s = call.duration_s or 0
        finally:
            call.done.set()

    def _persona(self, plan: Plan, rng: random.Random) -> Persona:
        if plan.persona is not None:
            return PERSONAS[plan.persona](rng)
        names = sorted(PERSONAS)
        name = rng.choices(names, weights=[PERSONA_WEIGHTS.get(n, 1.0) for n in names])[0]
        return PERSONAS[name](rng)

    async def _pause(self) -> None:
        if self.pace_s > 0:
            await asyncio.sleep(self.pace_s)

    async def _converse(
        self,
        call: SimCall,
        persona: Persona | None,
        machine: bool,
        rng: random.Random,
        post: Any,
    ) -> None:
        url = relay_url_of(call.request.twiml or "")
        if url is None:
            raise RuntimeError("the call's TwiML has no ConversationRelay")
        limit = call.request.time_limit_s
        headers = {signature.HEADER: signature.compute(url, None, self._token)}
        async with connect(url, additional_headers=headers, open_timeout=10) as ws:
            await ws.send(
                json.dumps(
                    {
                        "type": "setup",
                        "sessionId": "VX" + secrets.token_hex(16),
                        "callSid": call.sid,
                        "accountSid": ACCOUNT_SID,
                        "from": call.request.from_e164,
                        "to": call.request.to_e164,
                        "direction": "outbound-api",
                        "customParameters": {},
                    }
                )
            )
            if machine:
                greeting = rng.choice(VOICEMAIL_GREETINGS)
                call.transcript.append(("machine", greeting))
                call.elapsed_s += _words_seconds(greeting) + 1.0  # the beep
            turns = 0
            while turns < MAX_TURNS:
                turns += 1
                said, ended = await self._hear(ws, call)
                call.elapsed_s += _words_seconds(said)
                if said:
                    call.transcript.append(("agent", said))
                if turns == 1:
                    answered_by = "machine_end_beep" if machine else "human"
                    await post(
                        call.request.amd_callback_url,
                        {
                            "AccountSid": ACCOUNT_SID,
                            "CallSid": call.sid,
                            "AnsweredBy": answered_by,
                            "MachineDetectionDuration": str(rng.randint(1800, 4200)),
                        },
                    )
                if ended or call.elapsed_s >= limit or call.hangup.is_set():
                    break
                if machine:
                    continue  # a machine only listens; the agent speaks its voicemail
                assert persona is not None
                line = persona.hear(said)
                await self._pause()
                if line.dtmf:
                    call.transcript.append(("prospect", f"[keypad {line.dtmf}]"))
                    await ws.send(json.dumps({"type": "dtmf", "digit": line.dtmf}))
                elif line.text:
                    call.transcript.append(("prospect", line.text))
                    call.elapsed_s += _words_seconds(line.text)
                    await ws.send(
                        json.dumps({"type": "prompt", "voicePrompt": line.text, "last": True})
                    )
                if call.elapsed_s >= limit or line.hang_up:
                    break
            call.elapsed_s = min(call.elapsed_s, float(limit))

    async def _hear(self, ws: Any, call: SimCall) -> tuple[str, bool]:
        """Read the agent's next reply (text tokens until `last`) and whether it ended
        the call (an `end` right behind the reply counts)."""
        tokens: list[str] = []
        complete = False
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=END_GRACE_S if complete else 15.0)
            except TimeoutError:
                return "".join(tokens).strip(), not complete
            except Exception:  # the socket closed
                return "".join(tokens).strip(), True
            if call.hangup.is_set():
                return "".join(tokens).strip(), True
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "text":
                tokens.append(str(message.get("token", "")))
                if message.get("last") and "".join(tokens).strip():
                    complete = True
            elif kind == "end":
                data = message.get("handoffData")
                call.handoff_data = data if isinstance(data, str) else None
                return "".join(tokens).strip(), True

    # --- the warm hand-off: <Connect action>, then <Dial> to the rep's phone ----------

    async def _fetch_twiml(self, url: str, params: dict[str, str]) -> ET.Element | None:
        """POST a signed request to a TwiML URL, as Twilio does; the parsed answer."""
        headers = {signature.HEADER: signature.compute(url, params, self._token)}
        try:
            response = await self._client().post(url, data=params, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("TwiML request to %s failed: %s", url, exc)
            return None
        if response.status_code != 200:
            log.warning("TwiML request to %s answered %d", url, response.status_code)
            return None
        try:
            return ET.fromstring(response.text)  # noqa: S314 - the app's own TwiML
        except ET.ParseError:
            log.warning("TwiML from %s is not XML", url)
            return None

    async def _play(self, call: SimCall, twiml: ET.Element | None) -> None:
        """Play a TwiML answer on the call: `<Say>` is heard by the prospect, `<Dial>`
        rings a person (the rep's phone, played here too), `<Hangup>` ends it."""
        for verb in list(twiml) if twiml is not None else []:
            if verb.tag == "Say" and verb.text:
                call.transcript.append(("agent", verb.text.strip()))
                call.extra_s += _words_seconds(verb.text)
            elif verb.tag == "Dial":
                await self._rep_leg(call, verb)
            elif verb.tag == "Hangup":
                return

    async def _connect_action(self, call: SimCall) -> None:
        """The relay session ended with hand-off data: ask the `<Connect action>` URL
        what next, with `HandoffData`, and play its answer."""
        action = connect_action_of(call.request.twiml or "")
        if action is None:
            return
        params = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": call.sid,
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "From": call.request.from_e164,
            "To": call.request.to_e164,
            "SessionStatus": "ended",
            "HandoffData": call.handoff_data or "",
        }
        await self._play(call, await self._fetch_twiml(action, params))

    async def _rep_leg(self, call: SimCall, dial: ET.Element) -> None:
        """Ring the `<Number>` of a `<Dial>` (the rep's phone): it answers or not as
        planned for that number (`plan_next`; default: answers). An answered leg plays
        the whisper to the rep, then talks for `Plan.talk_s`; then the `<Dial action>`
        URL is asked what next — with `DialCallStatus` — and its answer played."""
        number_el = dial.find("Number")
        if number_el is None or not (number_el.text or "").strip():
            return
        number = (number_el.text or "").strip()
        queued = self._plans.get(number)
        plan = queued.pop(0) if queued else Plan(outcome="answered")
        leg_sid = "CA" + secrets.token_hex(16)
        timeout = int(dial.get("timeout") or 30)
        await self._pause()
        if plan.outcome in ("answered", "voicemail"):
            status, talked = "completed", plan.talk_s
            whisper_url = number_el.get("url")
            if whisper_url:
                whisper = await self._fetch_twiml(
                    whisper_url,
                    {"AccountSid": ACCOUNT_SID, "CallSid": leg_sid, "ParentCallSid": call.sid},
                )
                said = [v.text.strip() for v in (whisper or []) if v.tag == "Say" and v.text]
                call.whispers.extend(said)
            call.extra_s += 3.0 + talked  # it rang a little, then they talked
        else:
            status, talked = plan.outcome, 0.0
            call.extra_s += float(timeout) if plan.outcome == "no-answer" else 2.0
        call.rep_legs.append((number, status))
        action = dial.get("action")
        if not action:
            return
        params = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": call.sid,
            "DialCallSid": leg_sid,
            "DialCallStatus": status,
            "DialCallDuration": str(int(talked)),
        }
        await self._play(call, await self._fetch_twiml(action, params))

    # --- callbacks ----------------------------------------------------------------

    def _status_params(self, call: SimCall, status: str, extra: dict[str, str]) -> dict[str, str]:
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": status,
            "CallbackSource": "call-progress-events",
            "Direction": "outbound-api",
            "From": call.request.from_e164,
            "To": call.request.to_e164,
            "SequenceNumber": str(call.sequence),
            "Timestamp": format_datetime(
                datetime.now(UTC) + timedelta(seconds=call.elapsed_s), usegmt=True
            ),
            **extra,
        }
        call.sequence += 1
        return params

    # --- the recording --------------------------------------------------------------

    @staticmethod
    def _base_url(call: SimCall) -> str:
        """The app's public base URL, as the call's recording callback URL shows it."""
        url = call.request.recording_callback_url or ""
        return url.split("/webhooks/twilio/recording", 1)[0]

    async def _make_recording(self, call: SimCall, rng: random.Random) -> None:
        """Speak the conversation (espeak-ng), upload it to the app's store and keep it
        on `call.recording`; on any failure the call has no recording (logged)."""
        sid = call.recording_sid = _recording_sid(rng)
        if not speech.available():
            log.warning("simulated call %s: no recording (espeak-ng is not installed)", call.sid)
            return
        turns = [_spoken(who, text) for who, text in call.transcript]
        try:
            made = await asyncio.to_thread(
                speech.synthesise, turns, max_seconds=float(call.request.time_limit_s)
            )
        except speech.SpeechError as exc:
            log.warning("simulated call %s: no recording: %s", call.sid, exc)
            return
        body = json.dumps(
            {
                "call_sid": call.sid,
                "duration_s": made.duration_s,
                "audio": base64.b64encode(made.wav).decode("ascii"),
                "timeline": [t.as_json() for t in made.timeline],
            }
        ).encode()
        url = upload_url(self._base_url(call), sid, body)
        headers = {signature.HEADER: signature.compute(url, None, self._token)}
        headers["Content-Type"] = "application/json"
        try:
            response = await self._client().post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("simulated call %s: recording upload failed: %s", call.sid, exc)
            return
        if response.status_code >= 300:
            log.warning("simulated recording upload refused: %d", response.status_code)
            return
        call.recording = made

    def _recording(self, call: SimCall, rng: random.Random) -> dict[str, str]:
        """The recording-status callback: completed with our store's URL, or absent."""
        made = call.recording
        sid = call.recording_sid or _recording_sid(rng)
        params = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": call.sid,
            "RecordingSid": sid,
            "RecordingStatus": "absent",
            "RecordingUrl": "",
            "RecordingDuration": "0",
            "RecordingChannels": "1",
            "RecordingSource": "OutboundAPI",
        }
        if made is not None:
            params["RecordingStatus"] = "completed"
            params["RecordingUrl"] = recording_url(self._base_url(call), sid)
            params["RecordingDuration"] = str(max(1, math.ceil(made.duration_s)))
        return params

    async def _deliver(self, url: str, params: dict[str, str]) -> None:
        """POST a signed callback; retried like Twilio on a connection error or 5xx."""
        headers = {signature.HEADER: signature.compute(url, params, self._token)}
        for attempt in range(3):
            with contextlib.suppress(httpx.TransportError):
                response = await self._client().post(url, data=params, headers=headers)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        log.warning("callback to %s refused: %d", url, response.status_code)
                    return
            await asyncio.sleep(0.2 * (attempt + 1))
        log.warning("callback to %s not delivered after 3 tries", url)
