"""Recordings (issue 18, item 3): a simulated call's recording is real audio (espeak-ng)
whose turns are where the transcript puts them, reported through the signed
recording-status callback, and heard only through the app by those who may see the
call. The transcript's times used to run [00:00]–[00:02] for a 49-second call: the
relay stamped turns with the wall clock, which the simulator compresses."""

from __future__ import annotations

import asyncio
import io
import math
import uuid
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import answer_message
from core.db import Database
from telephony import calls
from telephony.models import Call, CallCallback, TranscriptSegment
from telephony.provider import Telephony
from telephony.simulator import speech
from telephony.simulator.carrier import Plan
from telephony.simulator.recordings import SimRecording
from tests.accounts.helpers import Member, client, make_member, sign_in
from tests.conftest import TWILIO_TEST_TOKEN

from .helpers import NOON_NY, add_contact, carrier_of, fund, simulated_telephony

pytestmark = pytest.mark.skipif(not speech.available(), reason="needs espeak-ng (scripts/test.sh)")


@pytest.fixture(scope="module")
async def telephony(live_server: str) -> AsyncIterator[Telephony]:
    phone = simulated_telephony(live_server, seed=11)
    yield phone
    await phone.aclose()


@dataclass
class Recorded:
    rep: Member
    call: Call


async def _finished(db: Database, call_id: uuid.UUID) -> Call:
    """The call once settled and its recording callback applied (or refused)."""
    for _ in range(200):
        async with db.session() as session:
            call = await session.get(Call, call_id, populate_existing=True)
            assert call is not None
            got = await session.scalar(
                select(func.count())
                .select_from(CallCallback)
                .where(CallCallback.call_id == call_id, CallCallback.kind == "recording")
            )
            if call.settled_at is not None and got:
                return call
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_id} did not finish")


async def _place(db: Database, telephony: Telephony, rep: Member, persona: str) -> Call:
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    carrier = carrier_of(telephony)
    carrier.plan_next(contact.phone_e164, Plan(persona=persona))
    call = await calls.place_call(
        db, rep.actor, contact.id, telephony, purpose="introduce our spring pricing", now=NOON_NY
    )
    assert call.twilio_sid is not None
    await carrier.wait(call.twilio_sid)
    return await _finished(db, call.id)


@pytest.fixture(scope="module")
async def recorded(_engine_owner: Database, telephony: Telephony) -> Recorded:
    rep = await make_member(_engine_owner, Role.REP)
    return Recorded(rep, await _place(_engine_owner, telephony, rep, "interested"))


async def _get(base: str, db: Database, who: Member | None, path: str) -> tuple[int, bytes, dict]:
    async with client(base) as http:
        if who is not None:
            await sign_in(http, db, who)
        answer = await http.get(path)
        return answer.status_code, answer.content, dict(answer.headers)


async def _segments(db: Database, call_id: uuid.UUID) -> list[TranscriptSegment]:
    async with db.session() as session:
        rows = await session.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.call_id == call_id)
            .order_by(TranscriptSegment.seq)
        )
        return list(rows.all())


async def test_simulated_recording_is_a_wav_as_long_as_the_transcript(
    db: Database, live_server: str, recorded: Recorded
) -> None:
    call = recorded.call
    assert call.recording_sid and call.recording_sid.startswith("RE")
    # Our own store, never a provider's public URL.
    assert call.recording_url == f"{live_server}/simulator/recordings/{call.recording_sid}"
    status, body, headers = await _get(live_server, db, recorded.rep, f"/calls/{call.id}/recording")
    assert status == 200
    assert headers["content-type"] == "audio/wav"
    assert "no-store" in headers["cache-control"]
    with wave.open(io.BytesIO(body)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        seconds = wav.getnframes() / wav.getframerate()
        pcm = wav.readframes(wav.getnframes())
    assert seconds > 10  # a real conversation, not a stub
    assert any(pcm[i : i + 2] != b"\x00\x00" for i in range(0, len(pcm), 4410))  # sound

    segments = await _segments(db, call.id)
    assert len(segments) >= 4
    start = segments[0].started_at
    offsets = [(s.started_at - start).total_seconds() for s in segments]
    last_end = (segments[-1].ended_at - start).total_seconds()
    # The transcript spans the recording (it ran [00:00]–[00:02] before).
    assert abs(last_end - seconds) < 1.0, (last_end, seconds)
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    # Each turn starts where the one before it ended: the sum of the turns before it.
    elapsed = 0.0
    for segment, offset in zip(segments, offsets, strict=True):
        assert abs(offset - elapsed) < 0.01, (segment.text, offset, elapsed)
        elapsed += (segment.ended_at - segment.started_at).total_seconds()
    # Billed and reported for the recording's length.
    assert call.duration_s == math.ceil(seconds)
    assert call.recording_duration_s == math.ceil(seconds)


async def test_who_may_play_a_recording(db: Database, live_server: str, recorded: Recorded) -> None:
    call = recorded.call
    path = f"/calls/{call.id}/recording"
    workspace = recorded.rep.actor.workspace_id
    manager = await make_member(db, Role.MANAGER, workspace_id=workspace)
    other_rep = await make_member(db, Role.REP, workspace_id=workspace)
    other_manager = await make_member(db, Role.MANAGER)  # another workspace
    before = await _state(db, call.id)

    assert (await _get(live_server, db, recorded.rep, path))[0] == 200
    assert (await _get(live_server, db, manager, path))[0] == 200
    for outsider in (other_rep, other_manager):
        status, body, _ = await _get(live_server, db, outsider, path)
        assert status == 404 and body == b"No such call.\n"  # as for a call that is not there
    assert (await _get(live_server, db, None, path))[0] == 401
    missing = f"/calls/{uuid.uuid4()}/recording"
    assert (await _get(live_server, db, recorded.rep, missing))[:2] == (404, b"No such call.\n")
    assert (await _get(live_server, db, recorded.rep, "/calls/nonsense/recording"))[0] == 404
    # Asking changed nothing.
    assert await _state(db, call.id) == before


async def _state(db: Database, call_id: uuid.UUID) -> tuple:
    async with db.session() as session:
        call = await session.get(Call, call_id, populate_existing=True)
        assert call is not None
        segments = await session.scalar(
            select(func.count())
            .select_from(TranscriptSegment)
            .where(TranscriptSegment.call_id == call_id)
        )
        stored = await session.scalar(select(func.count()).select_from(SimRecording))
        callbacks = await session.scalar(select(func.count()).select_from(CallCallback))
        return (
            call.recording_sid,
            call.recording_url,
            call.updated_at,
            segments,
            stored,
            callbacks,
        )


async def test_the_call_page_plays_the_recording(
    db: Database, live_server: str, recorded: Recorded
) -> None:
    call = recorded.call
    status, body, _ = await _get(live_server, db, recorded.rep, f"/calls/{call.id}")
    page = body.decode()
    assert status == 200
    assert (
        f'<audio id="recording" controls preload="metadata" src="/calls/{call.id}/recording">'
        in page
    )
    assert "simulator/recordings" not in page  # never the store's own URL
    assert "asked me to call to introduce our spring pricing." in page
    assert "[00:00]" in page and page.count("<tr>") >= 4
    other = await make_member(db, Role.REP, workspace_id=recorded.rep.actor.workspace_id)
    assert (await _get(live_server, db, other, f"/calls/{call.id}"))[0] == 404
    status, _, headers = await _get(live_server, db, None, f"/calls/{call.id}")
    assert status == 303 and headers["location"].startswith("/account/login")


async def test_the_store_answers_only_the_carriers_own_credentials(
    db: Database, live_server: str, recorded: Recorded
) -> None:
    media = f"{recorded.call.recording_url}.wav"
    async with client(live_server) as http:
        assert (await http.get(media)).status_code == 401
        wrong = await http.get(media, auth=("AC" + "5" * 32, "not-the-token"))
        assert wrong.status_code == 401
        right = await http.get(media, auth=("AC" + "5" * 32, TWILIO_TEST_TOKEN))
        assert right.status_code == 200 and right.content[:4] == b"RIFF"


# --- in chat ------------------------------------------------------------------------------

AGENT = build_agent(OfflineChatModel())


async def _ask(db: Database, who: Member, text: str, telephony: Telephony):
    return await answer_message(
        db, AGENT, who.actor, text=text, message_id=str(uuid.uuid4()), telephony=telephony
    )


async def test_asking_to_play_the_recording_answers_with_the_audio(
    db: Database, telephony: Telephony, recorded: Recorded
) -> None:
    call = recorded.call
    result = await _ask(db, recorded.rep, "play the recording of my last call", telephony)
    assert [c.name for c in result.tool_calls] == ["play_recording"], result.body
    assert [(a.kind, a.content) for a in result.artifacts] == [
        ("audio", f"/calls/{call.id}/recording")
    ]
    assert f"Recording of call {str(call.id)[:8]}" in result.body
    assert "simulator/recordings" not in result.body and "twilio.com" not in result.body
    assert result.cost_mc == 500  # a recording is assistant work, like a transcript


async def test_another_reps_recording_is_not_found_and_costs_nothing(
    db: Database, telephony: Telephony, recorded: Recorded
) -> None:
    other = await make_member(db, Role.REP, workspace_id=recorded.rep.actor.workspace_id)
    await fund(db, other.actor.workspace_id, 10)
    short = str(recorded.call.id)[:8]
    result = await _ask(db, other, f"play the recording of call {short}", telephony)
    assert result.artifacts == []
    assert "no call" in result.body.lower() or "not found" in result.body.lower(), result.body
    assert result.cost_mc == 0


async def test_without_espeak_a_call_has_no_recording_and_says_why(
    db: Database, live_server: str, telephony: Telephony, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # the carrier (this process) finds no espeak-ng
    assert not speech.available()
    rep = await make_member(db, Role.REP)
    call = await _place(db, telephony, rep, "interested")
    monkeypatch.undo()
    assert call.status == "completed" and call.duration_s and call.duration_s > 5
    assert call.recording_sid is None and call.recording_url is None
    status, body, _ = await _get(live_server, db, rep, f"/calls/{call.id}/recording")
    assert status == 404 and b"espeak-ng" in body, body
    page = (await _get(live_server, db, rep, f"/calls/{call.id}"))[1].decode()
    assert "<audio" not in page and "espeak-ng" in page
    result = await _ask(db, rep, "play the recording of my last call", telephony)
    assert result.artifacts == [] and "espeak-ng" in result.body and result.cost_mc == 0
