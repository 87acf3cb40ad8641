"""The warm hand-off to the rep, on Twilio's side of the call.

1. The voice agent offered, the prospect said yes: the relay ends its ConversationRelay
   session with `handoffData` `{"handoff": "rep", "reason": …}` (voice/relay.py).
2. Twilio requests the `<Connect action>` URL with `HandoffData` (`relay_ended`). If
   the rep who placed the call has a verified mobile (and an active account), the answer
   is `<Dial>` to it from the shared number, with `<Number url=…>`: the rep hears the
   whisper first (`whisper`: who, company, why, what was said), then the two are
   bridged. The bridged leg is part of the same call: its `CallDuration` covers it, so
   the call is billed once, 1 credit per second, from its own final status callback;
   the leg has no status callback of its own and is never billed apart.
3. Twilio requests the `<Dial action>` URL when the leg ends (`dial_ended`):
   `DialCallStatus` completed → the call ends; no-answer, busy, failed or canceled →
   the prospect hears a polite fallback with the callback time, the callback is booked
   (telephony/booked_callbacks.py), and the call ends.

A hand-off to a rep with no verified mobile is not offered by the agent (it books a
callback instead); if the mobile went away in between, step 2 answers with the
fallback. Every step is stored in `call_handoffs` (one row per call: Twilio may
request a URL twice) and noted in the transcript.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from accounts.models import User
from core.db import Database
from telephony.booked_callbacks import book
from telephony.call_settings import get_settings
from telephony.followup_models import CallHandoff, HandoffStatus
from telephony.models import Call, CallStatus, Contact, TranscriptSegment
from telephony.provider import Telephony
from telephony.voice.agent import spoken_time
from telephony.voice.brief import CallBrief
from telephony.voice.handoff import ASKED, HandoffPolicy, fallback_line

log = logging.getLogger(__name__)

WHISPER_PATH: Final = "/webhooks/twilio/handoff-whisper"
DIAL_ENDED_PATH: Final = "/webhooks/twilio/handoff-ended"
MISSED: Final = frozenset({"no-answer", "busy", "failed", "canceled"})
MAX_WHISPER_QUOTE: Final = 220
LOCAL_DAY: Final = (9, 20)  # a callback lands between 9:00 and 20:00 the callee's time


def _twiml(response: VoiceResponse) -> str:
    return str(response.to_xml())


def hangup_twiml() -> str:
    response = VoiceResponse()
    response.hangup()
    return _twiml(response)


def _say_then_hangup(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return _twiml(response)


def url_for(telephony: Telephony, path: str, call_id: uuid.UUID) -> str:
    return telephony.signed_url(path, urlencode({"call": str(call_id)}))


async def rep_mobile(session: AsyncSession, rep_id: uuid.UUID) -> str | None:
    """The rep's verified mobile, if their account is active; else None."""
    rep = await session.get(User, rep_id)
    if rep is None or rep.status != "active" or not rep.mobile_e164:
        return None
    return rep.mobile_e164 if rep.mobile_verified_at is not None else None


async def policy_for(
    session: AsyncSession, workspace_id: uuid.UUID, rep_id: uuid.UUID
) -> HandoffPolicy:
    """Whether the voice agent may offer the hand-off on this rep's call."""
    reachable = await rep_mobile(session, rep_id) is not None
    on_goal = (await get_settings(session, workspace_id)).handoff_on_goal
    return HandoffPolicy(reachable=reachable, on_goal=on_goal)


def parse_handoff(form: dict[str, str]) -> dict[str, Any] | None:
    """The relay's hand-off request in `HandoffData`, or None (no hand-off asked)."""
    raw = form.get("HandoffData") or ""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("handoff") != "rep":
        return None
    return data


def callback_time(now: datetime, delay: timedelta, tz: ZoneInfo) -> datetime:
    """`now + delay`, moved into the callee's daytime (9:00–20:00 their time)."""
    local = (now + delay).astimezone(tz)
    start, end = LOCAL_DAY
    if local.hour < start:
        local = local.replace(hour=start, minute=0, second=0, microsecond=0)
    elif local.hour >= end:
        local = (local + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC).replace(second=0, microsecond=0)


async def _note(session: AsyncSession, call: Call, speaker: str, text: str) -> None:
    """Add a line to the call's transcript, after what the relay stored."""
    seq = await session.scalar(
        select(func.coalesce(func.max(TranscriptSegment.seq), -1)).where(
            TranscriptSegment.call_id == call.id
        )
    )
    now = datetime.now(UTC)
    session.add(
        TranscriptSegment(
            call_id=call.id,
            workspace_id=call.workspace_id,
            seq=int(seq if seq is not None else -1) + 1,
            speaker=speaker,
            text=text,
            started_at=now,
            ended_at=now,
        )
    )


async def _missed(
    session: AsyncSession,
    call: Call,
    contact: Contact,
    *,
    status: HandoffStatus,
    dial_status: str | None,
    delay: timedelta,
    now: datetime,
) -> str:
    """Book the callback, store the miss, and return the fallback TwiML."""
    tz = ZoneInfo(contact.time_zones[0] if contact.time_zones else "UTC")
    due = callback_time(now, delay, tz)
    brief = CallBrief.from_json(call.brief or {})
    callback_id = await book(
        session,
        workspace_id=call.workspace_id,
        contact_id=call.contact_id,
        rep_id=call.placed_by,
        call_id=call.id,
        source="handoff",
        purpose=brief.purpose,
        due_at=due,
    )
    await session.execute(
        update(CallHandoff)
        .where(CallHandoff.call_id == call.id)
        .values(status=status.value, dial_status=dial_status, callback_id=callback_id, ended_at=now)
    )
    await session.execute(
        update(Call).where(Call.id == call.id).values(outcome="callback_booked", callback_at=due)
    )
    line = fallback_line(brief, f"on {spoken_time(due, tz)}")
    await _note(session, call, "agent", line)
    why = (
        "the rep has no verified mobile"
        if status is HandoffStatus.UNREACHABLE
        else (f"the rep's phone: {dial_status}")
    )
    await _note(session, call, "system", f"Hand-off not connected ({why}); callback booked.")
    return _say_then_hangup(line)


async def _call_and_contact(
    session: AsyncSession, call_id: uuid.UUID | None
) -> tuple[Call, Contact] | None:
    if call_id is None:
        return None
    call = await session.get(Call, call_id, with_for_update=True, populate_existing=True)
    if call is None:
        return None
    contact = await session.get(Contact, call.contact_id)
    return None if contact is None else (call, contact)


async def relay_ended(
    db: Database,
    telephony: Telephony,
    call_id: uuid.UUID | None,
    form: dict[str, str],
    *,
    ring_timeout_s: int,
    callback_delay: timedelta,
) -> str:
    """The `<Connect action>` answer: `<Dial>` the rep when the relay asked for a
    hand-off (and the call is ours and still going), else hang up."""
    data = parse_handoff(form)
    if data is None:
        return hangup_twiml()
    now = datetime.now(UTC)
    async with db.session() as session:
        found = await _call_and_contact(session, call_id)
        if found is None or CallStatus(found[0].status).terminal:
            return hangup_twiml()
        call, contact = found
        mobile = await rep_mobile(session, call.placed_by)
        stored = await session.scalar(
            insert(CallHandoff)
            .values(
                call_id=call.id,
                workspace_id=call.workspace_id,
                rep_id=call.placed_by,
                rep_e164=mobile,
                reason=str(data.get("reason") or ASKED)[:40],
                status=(HandoffStatus.DIALLING if mobile else HandoffStatus.UNREACHABLE).value,
            )
            .on_conflict_do_nothing(index_elements=["call_id"])
            .returning(CallHandoff.call_id)
        )
        if stored is None:  # Twilio asked twice: answer as the first time, change nothing
            existing = await session.get(CallHandoff, call.id)
            mobile = existing.rep_e164 if existing and existing.status == "dialling" else None
            if mobile is None:
                return hangup_twiml()
        elif mobile is None:
            twiml = await _missed(
                session,
                call,
                contact,
                status=HandoffStatus.UNREACHABLE,
                dial_status=None,
                delay=callback_delay,
                now=now,
            )
            await session.commit()
            return twiml
        else:
            await _note(session, call, "system", "Connecting the prospect to the rep.")
            await session.commit()
    response = VoiceResponse()
    dial = response.dial(
        action=url_for(telephony, DIAL_ENDED_PATH, call.id),
        method="POST",
        caller_id=telephony.from_e164,
        timeout=ring_timeout_s,
        time_limit=max(1, call.time_limit_s),
    )
    dial.number(mobile, url=url_for(telephony, WHISPER_PATH, call.id), method="POST")
    return _twiml(response)


def whisper_text(brief: CallBrief, reason: str, said: str | None) -> str:
    """What the rep hears before being connected: who, company, why, what was said."""
    who = brief.contact_name + (f" from {brief.contact_company}" if brief.contact_company else "")
    why = (
        "asked to speak with you"
        if reason == ASKED
        else f"agreed to {brief.goal.rstrip('.').removeprefix('to ')}"
    )
    parts = [
        f"Klosesales hand-off: {who}, on your call about {brief.purpose.rstrip('.')}.",
        f"They {why}.",
    ]
    if said:
        quote = said if len(said) <= MAX_WHISPER_QUOTE else said[:MAX_WHISPER_QUOTE] + "…"
        parts.append(f"What they said: {quote}")
    parts.append("Connecting you now.")
    return " ".join(parts)


async def whisper(db: Database, call_id: uuid.UUID | None) -> str:
    """The TwiML the rep's leg plays before the bridge (`<Number url>`)."""
    if call_id is None:
        return _twiml(VoiceResponse())
    async with db.session() as session:
        call = await session.get(Call, call_id)
        handoff = await session.get(CallHandoff, call_id)
        latest = (
            await session.scalars(
                select(TranscriptSegment.text)
                .where(
                    TranscriptSegment.call_id == call_id, TranscriptSegment.speaker == "prospect"
                )
                .order_by(TranscriptSegment.seq.desc())
                .limit(3)
            )
        ).all()
    # Their last words were the yes to the hand-off: quote what they said before it.
    said = " … ".join(reversed(latest[1:])) if len(latest) > 1 else None
    if call is None or handoff is None:
        return _twiml(VoiceResponse())
    response = VoiceResponse()
    response.say(whisper_text(CallBrief.from_json(call.brief or {}), handoff.reason, said))
    return _twiml(response)


async def dial_ended(
    db: Database,
    call_id: uuid.UUID | None,
    form: dict[str, str],
    *,
    callback_delay: timedelta,
) -> str:
    """The `<Dial action>` answer: the bridged call is over, or the rep missed it."""
    dial_status = (form.get("DialCallStatus") or "").strip()
    now = datetime.now(UTC)
    async with db.session() as session:
        found = await _call_and_contact(session, call_id)
        handoff = await session.get(CallHandoff, call_id) if found else None
        if found is None or handoff is None:
            return hangup_twiml()
        call, contact = found
        if handoff.status != HandoffStatus.DIALLING.value:
            return hangup_twiml()  # answered already (Twilio asked twice)
        if dial_status in MISSED:
            twiml = await _missed(
                session,
                call,
                contact,
                status=HandoffStatus.MISSED,
                dial_status=dial_status,
                delay=callback_delay,
                now=now,
            )
            await session.commit()
            return twiml
        duration = form.get("DialCallDuration") or ""
        handoff.status = HandoffStatus.CONNECTED.value
        handoff.dial_status = dial_status or "completed"
        handoff.dial_duration_s = int(duration) if duration.isdigit() else None
        handoff.ended_at = now
        await _note(session, call, "system", f"Talked with the rep ({duration or '?'} s).")
        await session.commit()
    return hangup_twiml()
