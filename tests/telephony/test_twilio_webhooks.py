"""Twilio's call webhooks, served in process (tests/telephony/web.py): signatures,
malformed and unknown callbacks, and the hand-over of a settled call's post-call work.
What needs the simulated carrier or the relay websocket is in test_call_webhooks.py."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from billing import ledger
from billing.models import LedgerEntry
from core.db import Database
from telephony import calls
from telephony.models import Call, CallCallback
from telephony.provider import SIMULATED_FROM
from telephony.twilio import signature
from tests.accounts.helpers import make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.telephony.web import (
    BASE,
    SilentCarrier,
    TwilioWeb,
    twilio_app,
    twilio_web,
    warm_twilio_app,
)

from .helpers import NOON_NY, add_contact, fund

__all__ = ["twilio_app", "twilio_web", "warm_twilio_app"]  # fixtures

STATUS = "/webhooks/twilio/status"


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


async def _stored_for(db: Database, sid: str) -> list[CallCallback]:
    async with db.session() as session:
        rows = await session.scalars(select(CallCallback).where(CallCallback.call_sid == sid))
        return list(rows.all())


async def _entries(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


@pytest.mark.parametrize("how", ["missing", "garbage", "wrong_token", "other_host", "tampered"])
async def test_a_bad_signature_is_refused_and_nothing_stored(
    db: Database, twilio_web: TwilioWeb, how: str
) -> None:
    sid = _sid()
    params = _status(sid, "completed", 3, CallDuration="60")
    if how == "missing":
        response = await twilio_web.post(STATUS, params, header=None)
    elif how == "garbage":
        response = await twilio_web.post(STATUS, params, header="bm90IGEgc2lnbmF0dXJl")
    elif how == "wrong_token":
        response = await twilio_web.post(STATUS, params, token="some-other-token")
    elif how == "other_host":
        # Signed for the Host the request claims, not for PUBLIC_BASE_URL.
        evil = "https://evil.example/webhooks/twilio/status"
        response = await twilio_web.post(STATUS, params, sign_url=evil)
    else:
        good = signature.compute(f"{BASE}{STATUS}", params, TWILIO_TEST_TOKEN)
        tampered = {**params, "CallDuration": "6000"}
        response = await twilio_web.post(STATUS, tampered, header=good)
    assert response.status_code == 403
    assert response.text == "Invalid X-Twilio-Signature.\n"
    assert await _stored_for(db, sid) == []


@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/twilio/amd",
        "/webhooks/twilio/recording",
        "/webhooks/twilio/relay-ended",
    ],
)
async def test_every_webhook_needs_a_signature(
    db: Database, twilio_web: TwilioWeb, path: str
) -> None:
    sid = _sid()
    response = await twilio_web.post(path, {"CallSid": sid, "AnsweredBy": "human"}, header=None)
    assert response.status_code == 403
    assert await _stored_for(db, sid) == []


async def test_a_callback_too_large_or_not_utf8_is_refused_before_its_signature(
    twilio_web: TwilioWeb,
) -> None:
    big = await twilio_web.post(STATUS, {}, content=b"CallSid=" + b"x" * (64 * 1024))
    assert (big.status_code, big.text) == (413, "Callback too large.\n")
    latin1 = await twilio_web.post(STATUS, {}, content=b"CallSid=\xff")
    assert (latin1.status_code, latin1.text) == (400, "Callback body is not UTF-8.\n")


async def test_the_relay_ending_hangs_up(twilio_web: TwilioWeb) -> None:
    response = await twilio_web.post("/webhooks/twilio/relay-ended", {"CallSid": _sid()})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    assert "<Hangup" in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"CallStatus": "completed", "CallDuration": "5"},  # no CallSid
        {"CallSid": "not-a-sid", "CallStatus": "completed", "CallDuration": "5"},
        {"CallSid": "{sid}", "CallStatus": "exploded"},
        {"CallSid": "{sid}", "CallStatus": "completed"},  # completed without a duration
        {"CallSid": "{sid}", "CallStatus": "completed", "CallDuration": "-4"},
        {"CallSid": "{sid}", "CallStatus": "ringing", "SequenceNumber": "one"},
    ],
)
async def test_a_malformed_callback_is_refused_with_400(
    db: Database, twilio_web: TwilioWeb, params: dict[str, str]
) -> None:
    sid = _sid()
    body = {k: v.format(sid=sid) for k, v in params.items()}
    response = await twilio_web.post(STATUS, body)
    assert response.status_code == 400
    assert "Malformed" in response.text
    assert await _stored_for(db, sid) == []


async def test_an_unknown_call_is_stored_for_review_and_moves_no_money(
    db: Database, twilio_web: TwilioWeb
) -> None:
    sid = _sid()
    entries_before = await _entries(db)
    response = await twilio_web.post(STATUS, _status(sid, "completed", 4, CallDuration="300"))
    assert response.status_code == 200
    stored = await _stored_for(db, sid)
    assert [(s.result, s.call_id, s.payload["CallDuration"]) for s in stored] == [
        ("unknown_call", None, "300")
    ]
    assert await _entries(db) == entries_before
    assert twilio_web.ended.calls == []


@pytest.fixture
async def placed(db: Database, twilio_app: TwilioWeb) -> Call:
    """A call placed for a funded rep's contact, the carrier silent (the test plays
    Twilio's callbacks). Set up before the stall monitor starts watching: placing a
    call is not the webhook's request path."""
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    contact = await add_contact(db, rep.actor)
    twilio_app.telephony.provider = SilentCarrier()
    return await calls.place_call(
        db, rep.actor, contact.id, twilio_app.telephony, purpose="a test", now=NOON_NY
    )


async def _complete(twilio_web: TwilioWeb, call: Call, seconds: int) -> int:
    path = f"{STATUS}?call={call.id}"
    params = _status(call.twilio_sid or "", "completed", 5, CallDuration=str(seconds))
    response = await twilio_web.post(path, params)
    return response.status_code


async def test_a_settled_call_is_handed_over_for_post_call_work_once(
    db: Database, placed: Call, twilio_web: TwilioWeb
) -> None:
    call = placed
    assert await _complete(twilio_web, call, 42) == 200
    assert await _complete(twilio_web, call, 42) == 200  # Twilio retries: settled once
    assert twilio_web.ended.calls == [call.id]
    async with db.session() as session:
        fresh = await session.get(Call, call.id)
        balance = await ledger.get_balance(session, call.workspace_id)
    assert fresh is not None and fresh.settled_at is not None and fresh.cost_mc == 42_000
    assert (balance.balance_mc, balance.held_mc) == (58_000, 0)


async def test_a_failing_hand_over_never_fails_the_webhook(
    db: Database, placed: Call, twilio_web: TwilioWeb
) -> None:
    """The call is settled and Twilio told so (200): the post-call sweep queues what
    the hand-over lost."""
    twilio_web.ended.fail = True
    call = placed
    assert await _complete(twilio_web, call, 7) == 200
    assert twilio_web.ended.calls == [call.id]
    async with db.session() as session:
        fresh = await session.get(Call, call.id)
    assert fresh is not None and fresh.settled_at is not None and fresh.cost_mc == 7_000
