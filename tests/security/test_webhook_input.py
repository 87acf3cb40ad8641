"""Attack: malformed webhook and import input (issue 15, item 13).

Superscript digits pass `str.isdigit` (`CallDuration=²` gave a 500), and a NUL
character in a signed Twilio parameter, a Paddle body or a CSV cell reached
PostgreSQL, which refuses NUL in text and jsonb (a 500, or a whole import failed).
Malformed webhooks get 400 and store nothing; a bad CSV row is rejected on its own;
a settled call's stored duration is never more than what was billed."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from sqlalchemy import func, select

from accounts.models import Role
from billing.models import PaddleEvent
from telephony import calls
from telephony.callbacks import apply_status, parse_status, reconcile
from telephony.importing import import_contacts_csv, import_dnc_csv
from telephony.models import Call, CallCallback, Contact
from tests.accounts.helpers import make_member
from tests.billing.paddle_helpers import checkout, new_member, post, transaction_event
from tests.telephony.helpers import (
    NOON_NY,
    Recorder,
    add_contact,
    fund,
    number_in,
    recording_telephony,
)
from tests.telephony.web import twilio_app, twilio_web, warm_twilio_app

__all__ = ["twilio_app", "twilio_web", "warm_twilio_app"]  # fixtures: Twilio's webhooks in process


def _sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


async def _stored_for(db, sid: str) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(CallCallback).where(CallCallback.call_sid == sid)
            )
            or 0
        )


def _completed(sid: str, **fields: str) -> dict[str, str]:
    return {"CallSid": sid, "CallStatus": "completed", "SequenceNumber": "4", **fields}


# --- Twilio ------------------------------------------------------------------------


async def test_superscript_call_duration_is_400_not_500(db, twilio_web):
    sid = _sid()
    params = _completed(sid, CallDuration="²")
    response = await twilio_web.post("/webhooks/twilio/status", params)
    assert response.status_code == 400, response.text
    assert "CallDuration" in response.text
    assert await _stored_for(db, sid) == 0


async def test_non_ascii_digits_in_a_sequence_number_are_refused(db, twilio_web):
    """'٣' is a digit to Python's `int` (3): Twilio never sends it, so it is malformed."""
    sid = _sid()
    params = {"CallSid": sid, "CallStatus": "ringing", "SequenceNumber": "٣"}
    response = await twilio_web.post("/webhooks/twilio/status", params)
    assert response.status_code == 400, response.text
    assert await _stored_for(db, sid) == 0


async def test_a_nul_in_a_signed_twilio_parameter_is_400(db, twilio_web):
    sid = _sid()
    params = _completed(sid, CallDuration="12", CallerName="Dana\x00Lee")
    response = await twilio_web.post("/webhooks/twilio/status", params)
    assert response.status_code == 400, response.text
    assert "NUL" in response.text
    assert await _stored_for(db, sid) == 0


async def test_a_nul_in_an_amd_callback_is_400(db, twilio_web):
    sid = _sid()
    params = {"CallSid": sid, "AnsweredBy": "human", "MachineDetectionDuration": "4\x00"}
    response = await twilio_web.post("/webhooks/twilio/amd", params)
    assert response.status_code == 400, response.text
    assert await _stored_for(db, sid) == 0


async def test_superscript_recording_duration_is_400(db, twilio_web):
    sid = _sid()
    params = {
        "CallSid": sid,
        "RecordingSid": _sid("RE"),
        "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/recording",
        "RecordingDuration": "³",
    }
    response = await twilio_web.post("/webhooks/twilio/recording", params)
    assert response.status_code == 400, response.text
    assert await _stored_for(db, sid) == 0


async def _placed(db, credits: float, recorder: Recorder | None = None):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, credits)
    contact = await add_contact(db, rep.actor)
    recorder = recorder or Recorder()
    call = await calls.place_call(
        db,
        rep.actor,
        contact.id,
        recording_telephony(recorder, 600),
        purpose="a test call",
        now=NOON_NY,
    )
    return call


async def test_a_stored_call_duration_is_clamped_to_what_was_billed(db):
    call = await _placed(db, credits=90)  # a 90-second hold: TimeLimit 90
    claimed = _completed(call.twilio_sid or "", CallDuration="999999999")
    applied = await apply_status(db, str(call.id), parse_status(claimed))
    assert (applied.result, applied.cost_mc) == ("settled", 90_000)
    async with db.session() as session:
        fresh = await session.get(Call, call.id)
    assert fresh is not None
    assert (fresh.duration_s, fresh.cost_mc) == (90, 90_000)


async def test_a_carrier_record_with_a_superscript_duration_does_not_stop_reconciliation(db):
    recorder = Recorder()
    bad = await _placed(db, credits=100, recorder=recorder)
    good = await _placed(db, credits=100, recorder=recorder)
    recorder.records[bad.twilio_sid or ""] = {"status": "completed", "duration": "²"}
    recorder.records[good.twilio_sid or ""] = {"status": "completed", "duration": "42"}
    later = max(bad.created_at, good.created_at) + timedelta(hours=1)
    done = await reconcile(db, recorder, ring_timeout_s=30, grace_s=120, now=later)
    by_call = {d.call_id: d.cost_mc for d in done}
    assert by_call.get(good.id) == 42_000
    assert by_call.get(bad.id) == 0  # an unreadable duration bills nothing


# --- Paddle ------------------------------------------------------------------------


async def _paddle_events(db) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(PaddleEvent)) or 0)


async def test_a_nul_in_a_signed_paddle_body_is_400_and_nothing_stored(db, live_server):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    event["data"]["custom_data"]["note"] = "paid\x00"
    before = await _paddle_events(db)
    response = post(live_server, json.dumps(event).encode())  # NUL written as \u0000
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["message"]
    assert await _paddle_events(db) == before


async def test_a_superscript_paddle_amount_is_400(db, live_server):
    from billing.paddle import events

    actor = await new_member(db)
    txn = await checkout(db, actor)
    adjustment = events.adjustment_data(
        txn_id=txn.id,
        action="refund",
        status="approved",
        currency=txn.currency,
        total_cents=100,
        full=False,
    )
    adjustment["totals"]["total"] = "¹⁰⁰"
    before = await _paddle_events(db)
    response = post(live_server, events.envelope("adjustment.updated", adjustment))
    assert response.status_code == 400, response.text
    assert await _paddle_events(db) == before


async def test_a_deeply_nested_paddle_body_is_400_not_500(db, live_server):
    body = b'{"event_id":"evt_x","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert post(live_server, body).status_code == 400


# --- CSV imports -------------------------------------------------------------------


async def test_a_nul_in_a_csv_cell_rejects_that_row_only(db):
    member = await make_member(db, Role.MANAGER)
    good, bad = number_in("305"), number_in("206")
    data = f"name,phone,notes\nDana Lee,{good},renewal\nSam\x00Diaz,{bad},x\x00y\n"
    async with db.session() as session:
        report = await import_contacts_csv(session, member.actor, data, now=NOON_NY)
        await session.commit()
    assert [row.name for row in report.imported] == ["Dana Lee"]
    assert [(row.line, row.codes) for row in report.rejected] == [(3, {"nul_character"})]
    assert "\x00" not in report.describe()
    assert "the name contains a NUL character" in report.describe()
    async with db.session() as session:
        names = set(
            await session.scalars(
                select(Contact.name).where(Contact.workspace_id == member.actor.workspace_id)
            )
        )
    assert names == {"Dana Lee"}


async def test_a_nul_in_a_do_not_call_csv_rejects_that_row_only(db):
    member = await make_member(db, Role.MANAGER)
    first, second = number_in("305"), number_in("206")
    data = f"phone,reason\n{first},asked\n{second},by\x00email\n"
    async with db.session() as session:
        report = await import_dnc_csv(session, member.actor, data, now=NOON_NY)
        await session.commit()
    assert [row.phone_e164 for row in report.imported] == [first]
    assert [row.codes for row in report.rejected] == [{"nul_character"}]
