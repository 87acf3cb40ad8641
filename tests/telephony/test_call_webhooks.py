"""Twilio's call webhooks over real HTTP, where the simulated carrier or the relay
websocket is needed: callbacks for calls the carrier placed, ordering rules, and the
relay websocket's authentication. Signatures, malformed and unknown callbacks are
tested in process (test_twilio_webhooks.py)."""

from __future__ import annotations

import json
import secrets
import uuid

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from accounts.models import Role
from billing import ledger
from telephony import calls
from telephony.models import Call, CallCallback
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.simulator.carrier import SimulatedCarrier
from telephony.twilio import signature
from tests.accounts.helpers import make_member
from tests.conftest import TWILIO_TEST_TOKEN

from .helpers import NOON_NY, add_contact, fund


def _sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


def _status(sid: str, status: str, seq: int, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "5" * 32,
        "CallSid": sid,
        "CallStatus": status,
        "SequenceNumber": str(seq),
        "From": SIMULATED_FROM,
        "To": "+14155550100",
        "Direction": "outbound-api",
        **extra,
    }


async def _post(
    base: str,
    path: str,
    params: dict[str, str],
    *,
    token: str = TWILIO_TEST_TOKEN,
    sign_url: str | None = None,
    header: str | None = "sign",
) -> httpx.Response:
    url = f"{base}{path}"
    headers = {}
    if header == "sign":
        headers["X-Twilio-Signature"] = signature.compute(sign_url or url, params, token)
    elif header is not None:
        headers["X-Twilio-Signature"] = header
    async with httpx.AsyncClient() as client:
        return await client.post(url, data=params, headers=headers)


async def _stored_for(db, sid: str) -> list[CallCallback]:
    async with db.session() as session:
        rows = await session.scalars(select(CallCallback).where(CallCallback.call_sid == sid))
        return list(rows.all())


async def test_a_callback_naming_another_calls_id_is_not_applied_to_it(db, live_server):
    """The call id in the URL is checked against the CallSid Twilio gave us."""
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    contact = await add_contact(db, rep.actor)
    phone = _telephony(live_server)
    carrier = phone.provider
    assert isinstance(carrier, SimulatedCarrier)
    from telephony.simulator.carrier import Plan

    carrier.plan_next(contact.phone_e164, Plan(outcome="busy", drop_final=True))
    call = await calls.place_call(db, rep.actor, contact.id, phone, purpose="a test", now=NOON_NY)
    await carrier.wait(call.twilio_sid or "")
    stranger = _sid()
    response = await _post(
        live_server,
        f"/webhooks/twilio/status?call={call.id}",
        _status(stranger, "completed", 9, CallDuration="500"),
        sign_url=f"{live_server}/webhooks/twilio/status?call={call.id}",
    )
    assert response.status_code == 200
    async with db.session() as session:
        fresh = await session.get(Call, call.id)
    assert fresh is not None and fresh.settled_at is None and fresh.cost_mc is None
    assert [s.result for s in await _stored_for(db, stranger)] == ["unknown_call"]
    await phone.aclose()


async def test_later_callbacks_never_undo_a_terminal_status(db, live_server):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    contact = await add_contact(db, rep.actor)
    phone = _telephony(live_server)
    carrier = phone.provider
    assert isinstance(carrier, SimulatedCarrier)
    from telephony.simulator.carrier import Plan

    carrier.plan_next(contact.phone_e164, Plan(outcome="no-answer"))
    call = await calls.place_call(db, rep.actor, contact.id, phone, purpose="a test", now=NOON_NY)
    await carrier.wait(call.twilio_sid or "")
    sid = call.twilio_sid or ""
    path = f"/webhooks/twilio/status?call={call.id}"
    late = [
        _status(sid, "in-progress", 7),
        _status(sid, "completed", 8, CallDuration="90"),
    ]
    for params in late:
        response = await _post(live_server, path, params)
        assert response.status_code == 200
    async with db.session() as session:
        fresh = await session.get(Call, call.id, populate_existing=True)
        balance = await ledger.get_balance(session, rep.actor.workspace_id)
    assert fresh is not None and (fresh.status, fresh.cost_mc) == ("no-answer", 0)
    assert (balance.balance_mc, balance.held_mc) == (100_000, 0)
    results = [s.result for s in await _stored_for(db, sid)]
    assert results.count("after_terminal") == 2 and results.count("settled") == 1
    await phone.aclose()


async def test_the_relay_refuses_a_socket_without_the_calls_token(live_server):
    ws_base = live_server.replace("http://", "ws://")
    for query in ("", f"?call={uuid.uuid4()}", f"?call={uuid.uuid4()}&token=abc"):
        url = f"{ws_base}/voice/relay{query}"
        # Refused unsigned, and refused signed too: the signature does not stand in
        # for the call's token.
        for headers in ({}, {signature.HEADER: signature.compute(url, None, TWILIO_TEST_TOKEN)}):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, additional_headers=headers):
                    pass
            assert refused.value.response.status_code == 403


@pytest.mark.parametrize("how", ["missing", "wrong_token", "other_host", "other_call"])
async def test_the_relay_refuses_a_handshake_twilio_did_not_sign(db, live_server, how):
    """The call's token is not enough: ConversationRelay signs its handshake (the wss://
    URL, rebuilt from PUBLIC_BASE_URL) and an unsigned or mis-signed one is refused
    before the socket is accepted."""
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    contact = await add_contact(db, rep.actor)
    phone = _telephony(live_server)
    phone.provider = _Silent()
    call = await calls.place_call(db, rep.actor, contact.id, phone, purpose="a test", now=NOON_NY)
    url = phone.relay_url(call.id)
    headers: dict[str, str] = {}
    if how == "wrong_token":
        headers[signature.HEADER] = signature.compute(url, None, "some-other-token")
    elif how == "other_host":
        evil = url.replace(live_server.replace("http://", "ws://"), "wss://evil.example")
        headers[signature.HEADER] = signature.compute(evil, None, TWILIO_TEST_TOKEN)
    elif how == "other_call":
        other = phone.relay_url(uuid.uuid4())
        headers[signature.HEADER] = signature.compute(other, None, TWILIO_TEST_TOKEN)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 403
    # Signed as Twilio signs it, the same socket is accepted.
    signed = {signature.HEADER: signature.compute(url, None, TWILIO_TEST_TOKEN)}
    async with connect(url, additional_headers=signed) as ws:
        await ws.send(json.dumps({"type": "setup", "callSid": call.twilio_sid}))
        assert "AI" in await _reply(ws)


class _Silent:
    """A carrier that takes the call and never dials (the test plays Twilio)."""

    live = False
    label = "silent"

    async def create_call(self, req):  # type: ignore[no-untyped-def]
        from telephony.twilio import PlacedCall

        return PlacedCall(sid=_sid(), status="queued")

    async def fetch_call(self, sid):  # type: ignore[no-untyped-def]
        return {"status": "queued"}

    async def hangup(self, sid):  # type: ignore[no-untyped-def]
        return True

    async def aclose(self):  # type: ignore[no-untyped-def]
        return None


async def test_the_relay_ignores_unknown_messages_and_closes_on_garbage(db, live_server):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    contact = await add_contact(db, rep.actor)
    phone = _telephony(live_server)
    # A call row the relay will accept, placed without a carrier (Twilio is a double).
    from telephony.twilio import PlacedCall

    class Silent:
        live = False
        label = "silent"

        async def create_call(self, req):  # type: ignore[no-untyped-def]
            return PlacedCall(sid=_sid(), status="queued")

        async def fetch_call(self, sid):  # type: ignore[no-untyped-def]
            return {"status": "queued"}

        async def hangup(self, sid):  # type: ignore[no-untyped-def]
            return None

        async def aclose(self):  # type: ignore[no-untyped-def]
            return None

    phone.provider = Silent()
    call = await calls.place_call(db, rep.actor, contact.id, phone, purpose="a test", now=NOON_NY)
    url = phone.relay_url(call.id)
    signed = {signature.HEADER: signature.compute(url, None, TWILIO_TEST_TOKEN)}
    async with connect(url, additional_headers=signed) as ws:
        await ws.send(json.dumps({"type": "setup", "callSid": call.twilio_sid}))
        opening = await _reply(ws)
        assert "AI" in opening and "recorded" in opening
        await ws.send(json.dumps({"type": "launchMissiles", "target": "everything"}))
        await ws.send(json.dumps({"type": "prompt", "voicePrompt": "Who is this?", "last": True}))
        answer = await _reply(ws)
        assert answer  # the conversation went on
        await ws.send("this is not json")
        with pytest.raises(ConnectionClosed) as closed:
            await _drain(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    async with db.session() as session:
        balance = await ledger.get_balance(session, rep.actor.workspace_id)
    assert balance.balance_mc == 100_000  # nothing was billed by the relay


async def _drain(ws) -> None:  # type: ignore[no-untyped-def]
    while True:
        await ws.recv()


async def _reply(ws) -> str:  # type: ignore[no-untyped-def]
    tokens: list[str] = []
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "text":
            tokens.append(message["token"])
            if message["last"]:
                return "".join(tokens).strip()


def _telephony(base: str) -> Telephony:
    return Telephony(
        provider=SimulatedCarrier(auth_token=TWILIO_TEST_TOKEN, pace_s=0),
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=base,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )
