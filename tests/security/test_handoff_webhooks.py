"""The hand-off URLs can't be used to dial anyone: they answer only Twilio (signed
requests), the number dialled is always the rep's own verified mobile from our records
(never anything in `HandoffData`), a rep without a verified mobile is not dialled (the
prospect hears the fallback and a callback is booked), and an ended call dials nobody."""

from __future__ import annotations

import json
import uuid

import httpx
from sqlalchemy import select, update

from accounts.models import Role, User
from telephony import calls
from telephony.followup_models import BookedCallback
from telephony.models import Call
from telephony.twilio import signature
from tests.accounts.helpers import make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.telephony.helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony

INJECTED = "+19005550100"


async def _post(base: str, path: str, call_id: uuid.UUID, params: dict[str, str], sign=True):
    url = f"{base}{path}?call={call_id}"
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = signature.compute(url, params, TWILIO_TEST_TOKEN)
    async with httpx.AsyncClient() as client:
        return await client.post(url, data=params, headers=headers)


def _ended(data: dict) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "5" * 32,
        "CallSid": "CA" + "1" * 32,
        "CallStatus": "in-progress",
        "HandoffData": json.dumps(data),
    }


async def _live_call(db, *, verified: bool = True):
    rep = await make_member(db, Role.REP)
    if not verified:
        async with db.session() as session:
            await session.execute(
                update(User).where(User.id == rep.actor.user_id).values(mobile_verified_at=None)
            )
            await session.commit()
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    call = await calls.place_call(
        db, rep.actor, contact.id, recording_telephony(Recorder()), purpose="renewal", now=NOON_NY
    )
    return rep, call


async def test_unsigned_requests_are_refused(db, live_server) -> None:
    _rep, call = await _live_call(db)
    data = _ended({"handoff": "rep"})
    for path in (
        "/webhooks/twilio/relay-ended",
        "/webhooks/twilio/handoff-whisper",
        "/webhooks/twilio/handoff-ended",
    ):
        answer = await _post(live_server, path, call.id, data, sign=False)
        assert answer.status_code == 403, path


async def test_only_the_reps_verified_mobile_is_dialled(db, live_server) -> None:
    rep, call = await _live_call(db)
    data = _ended({"handoff": "rep", "number": INJECTED, "to": INJECTED})
    answer = await _post(live_server, "/webhooks/twilio/relay-ended", call.id, data)
    assert answer.status_code == 200
    assert "<Dial" in answer.text and rep.mobile in answer.text
    assert INJECTED not in answer.text
    # Twilio asking again changes nothing and dials the same number.
    again = await _post(live_server, "/webhooks/twilio/relay-ended", call.id, data)
    assert rep.mobile in again.text and INJECTED not in again.text


async def test_no_verified_mobile_no_dial_and_a_callback(db, live_server) -> None:
    _rep, call = await _live_call(db, verified=False)
    answer = await _post(
        live_server, "/webhooks/twilio/relay-ended", call.id, _ended({"handoff": "rep"})
    )
    assert answer.status_code == 200 and "<Dial" not in answer.text
    assert "<Say>" in answer.text and "<Hangup" in answer.text
    async with db.session() as session:
        booked = await session.scalar(
            select(BookedCallback).where(BookedCallback.call_id == call.id)
        )
    assert booked is not None and booked.source == "handoff"


async def test_an_ended_call_or_no_handoff_dials_nobody(db, live_server) -> None:
    _rep, call = await _live_call(db)
    plain = await _post(
        live_server, "/webhooks/twilio/relay-ended", call.id, _ended({"outcome": "interested"})
    )
    assert "<Dial" not in plain.text and "<Hangup" in plain.text
    async with db.session() as session:
        await session.execute(update(Call).where(Call.id == call.id).values(status="completed"))
        await session.commit()
    ended = await _post(
        live_server, "/webhooks/twilio/relay-ended", call.id, _ended({"handoff": "rep"})
    )
    assert "<Dial" not in ended.text
    unknown = await _post(
        live_server, "/webhooks/twilio/relay-ended", uuid.uuid4(), _ended({"handoff": "rep"})
    )
    assert unknown.status_code == 200 and "<Dial" not in unknown.text
