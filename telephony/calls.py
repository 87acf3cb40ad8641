"""Placing, ending and looking up calls (DESIGN.md §6 steps 2–3).

`place_call` is how a rep's single call starts: it queues the dial for the shared
number's dispatcher (telephony/dispatch.py), which dials every outbound call — a rep's
and a campaign's — through `prepare_call` and `send_call`:

1. the compliance gate runs and its decision is stored (allowed or not);
2. a credit hold is placed for as many seconds as the workspace can afford, capped by
   `MAX_CALL_SECONDS` and at least a minimum call — its seconds become Twilio's
   `TimeLimit`, so a call can never cost more than what was held;
3. the attempt is counted against the 24-hour cap (under a per-number lock);
4. the call row, hold and attempt are committed *before* Twilio is asked, so a
   callback racing the create call finds them (its URL names our call id);
5. Twilio `calls.create` runs from the shared number (settings only), with status
   callbacks for every event, async answering-machine detection and recording.

If Twilio refuses, the hold is released, the attempt uncounted, and the call marked
failed with Twilio's reason. Settlement happens in `telephony.callbacks`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User, Workspace
from accounts.service import Actor
from billing import ledger
from billing.money import CALL_SECOND_PRICE_MC, credits_label
from core.db import Database
from core.errors import KloseError, NotFound
from telephony.access import can_see, get_contact, visible_contacts
from telephony.attempts import record_attempt
from telephony.compliance import ComplianceDecision, check_call
from telephony.models import (
    Call,
    CallAttempt,
    CallOutcome,
    CallStatus,
    Contact,
    TranscriptSegment,
)
from telephony.provider import Telephony
from telephony.rules import MIN_CALL_MC
from telephony.twilio import CallRequest, TelephonyError
from telephony.twiml import conversation_relay
from telephony.voice.brief import CallBrief

log = logging.getLogger(__name__)

# A hold outlives its call by this much; the reconcile job settles long before.
HOLD_GRACE = timedelta(hours=2)


class CallRefused(KloseError):
    """The gate said no (the decision, with every reason, is stored and attached)."""

    def __init__(self, decision: ComplianceDecision):
        super().__init__(decision.describe())
        self.decision = decision


class CallNotPlaced(KloseError):
    """Twilio (or the credits) refused after the gate allowed the call."""


@dataclass(frozen=True)
class CallPlan:
    """What the rep confirms: the gate's verdict and the most the call can cost."""

    decision: ComplianceDecision
    contact: Contact
    max_seconds: int

    @property
    def ceiling_mc(self) -> int:
        return self.max_seconds * CALL_SECOND_PRICE_MC

    def describe(self) -> str:
        if not self.decision.allowed:
            return self.decision.describe()
        minutes, seconds = divmod(self.max_seconds, 60)
        length = f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
        return (
            f"{self.decision.describe()}\n"
            f"Cost: 1 credit per second connected; this call is capped at {length}, so it "
            f"costs at most {credits_label(self.ceiling_mc)} (held now, the unused part "
            "released when it ends). Busy, no answer and failed calls cost nothing. "
            "An AI voice agent places the call; it says so and that the call is recorded."
        )


def affordable_seconds(available_mc: int, max_call_seconds: int) -> int:
    return max(0, min(max_call_seconds, available_mc // CALL_SECOND_PRICE_MC))


async def plan_call(
    session: AsyncSession,
    actor: Actor,
    contact_id: uuid.UUID,
    telephony: Telephony,
    *,
    now: datetime | None = None,
) -> CallPlan:
    """Run (and store) the gate and size the call: what the confirmation shows."""
    decision = await check_call(session, actor, contact_id, now=now)
    contact = await get_contact(session, actor, contact_id)
    seconds = affordable_seconds(decision.available_mc, telephony.max_call_seconds)
    return CallPlan(decision=decision, contact=contact, max_seconds=seconds)


async def _brief_for(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    *,
    purpose: str,
    talking_points: Sequence[str] | None,
    goal: str | None,
    voicemail_message: str | None,
    on_voicemail: str,
) -> CallBrief:
    workspace = await session.get(Workspace, actor.workspace_id)
    user = await session.get(User, actor.user_id)
    return CallBrief.build(
        rep_name=(user.name if user else actor.name) or actor.email,
        company_name=workspace.name if workspace else "our company",
        contact_name=contact.name,
        purpose=purpose,
        talking_points=list(talking_points or ()),
        goal=goal,
        voicemail_message=voicemail_message,
        on_voicemail=on_voicemail,
        contact_company=contact.company,
    )


async def place_call(
    db: Database,
    actor: Actor,
    contact_id: uuid.UUID,
    telephony: Telephony,
    *,
    purpose: str,
    talking_points: Sequence[str] | None = None,
    goal: str | None = None,
    voicemail_message: str | None = None,
    on_voicemail: str = "leave",
    now: datetime | None = None,
) -> Call:
    """A rep's single call: queued for the shared number's dispatcher and dialled by
    it at once when the line is free (telephony/dispatch.py: gate, hold, count, dial,
    within the calls-per-second limit). Raises CallRefused (gate), CallNotPlaced
    (credits or Twilio), NotFound (contact), BriefError (brief)."""
    from telephony import dispatch  # dispatch builds on this module

    async with db.session() as session:
        contact = await get_contact(session, actor, contact_id)
        # The brief is checked now, so a bad one is refused before anything is queued.
        await _brief_for(
            session,
            actor,
            contact,
            purpose=purpose,
            talking_points=talking_points,
            goal=goal,
            voicemail_message=voicemail_message,
            on_voicemail=on_voicemail,
        )
        request = await dispatch.enqueue(
            session,
            actor,
            contact.id,
            brief=dispatch.brief_payload(
                purpose=purpose,
                talking_points=talking_points,
                goal=goal,
                voicemail_message=voicemail_message,
                on_voicemail=on_voicemail,
            ),
            interactive=True,
            claimed=True,  # dialled from here, at the next free slot
        )
        await session.commit()
    return await dispatch.dispatch_now(db, telephony, request.id, now=now, claimed=True)


async def _gate_or_refuse(
    session: AsyncSession, actor: Actor, contact: Contact, when: datetime
) -> ComplianceDecision:
    """Run the compliance gate for the contact at `when`. The decision is stored either
    way; a denial raises CallRefused. Returns an allowed decision with its id set."""
    decision = await check_call(session, actor, contact.id, now=when)
    if not decision.allowed:
        raise CallRefused(decision)
    assert decision.id is not None
    return decision


def _hold_ceiling(available: int, telephony: Telephony, budget_mc: int | None) -> int:
    """The most a call's hold may take: whole seconds of `available` (the workspace's
    credits the gate just read, in the same transaction) the workspace can afford
    (capped by `budget_mc` when given, and by the longest call), never below a minimum
    call. Raises CallNotPlaced when `budget_mc` is below a minimum call."""
    if budget_mc is not None:
        available = min(available, budget_mc)
        if budget_mc < MIN_CALL_MC:
            raise CallNotPlaced(
                f"The campaign's budget has {credits_label(max(budget_mc, 0))} left, less "
                f"than a minimum call ({credits_label(MIN_CALL_MC)})."
            )
    max_mc = affordable_seconds(available, telephony.max_call_seconds) * CALL_SECOND_PRICE_MC
    return max(max_mc, MIN_CALL_MC)  # below the minimum the hold itself refuses


async def _hold_for_call(
    session: AsyncSession,
    contact: Contact,
    telephony: Telephony,
    call_id: uuid.UUID,
    max_mc: int,
) -> ledger.HoldResult:
    """Place the call's credit hold (idempotent on the call id; it expires after the
    ring timeout, the longest call and HOLD_GRACE). Raises CallNotPlaced when the
    workspace cannot afford a minimum call or its credits are frozen."""
    try:
        return await ledger.place_hold(
            session,
            contact.workspace_id,
            max_mc=max_mc,
            min_mc=MIN_CALL_MC,
            idempotency_key=f"call:{call_id}",
            expires_at=datetime.now(UTC)
            + timedelta(seconds=telephony.ring_timeout_s + telephony.max_call_seconds)
            + HOLD_GRACE,
            reference=f"call:{call_id}",
        )
    except ledger.InsufficientCredits as exc:
        raise CallNotPlaced(
            f"Not enough credits for a minimum call ({credits_label(MIN_CALL_MC)}): {exc}"
        ) from exc
    except ledger.AccountFrozen as exc:
        raise CallNotPlaced(str(exc)) from exc


async def prepare_call(
    session: AsyncSession,
    actor: Actor,
    contact: Contact,
    telephony: Telephony,
    *,
    call_id: uuid.UUID,
    brief: dict[str, Any],
    when: datetime,
    budget_mc: int | None = None,
) -> Call:
    """Gate, hold and count one dial, and add its call row (flushed; the caller
    commits before dialling, so a callback racing the dial finds the call). The hold
    is capped by `budget_mc` when given (a campaign's remaining budget). Raises
    CallRefused (gate: the denial is flushed as evidence) or CallNotPlaced (credits)."""
    built = await _brief_for(
        session,
        actor,
        contact,
        purpose=brief["purpose"],
        talking_points=brief.get("talking_points"),
        goal=brief.get("goal"),
        voicemail_message=brief.get("voicemail_message"),
        on_voicemail=brief.get("on_voicemail", "leave"),
    )
    decision = await _gate_or_refuse(session, actor, contact, when)
    assert decision.id is not None
    max_mc = _hold_ceiling(decision.available_mc, telephony, budget_mc)
    hold = await _hold_for_call(session, contact, telephony, call_id, max_mc)
    attempt = await record_attempt(
        session,
        actor,
        phone_e164=contact.phone_e164,
        contact_id=contact.id,
        decision_id=decision.id,
        reference=f"call:{call_id}",
        workspace_id=contact.workspace_id,
        at=when,
    )
    call = Call(
        id=call_id,
        workspace_id=contact.workspace_id,
        contact_id=contact.id,
        placed_by=actor.user_id,
        phone_e164=contact.phone_e164,
        from_e164=telephony.from_e164,
        decision_id=decision.id,
        attempt_id=attempt.id,
        hold_id=hold.hold_id,
        time_limit_s=hold.amount_mc // CALL_SECOND_PRICE_MC,
        brief=built.as_json(),
        status=CallStatus.PENDING.value,
    )
    session.add(call)
    await session.flush()
    return call


async def send_call(db: Database, call: Call, telephony: Telephony) -> Call:
    """Ask the carrier to start a prepared (committed) call. If it refuses, the hold is
    released, the attempt uncounted and the call marked failed (CallNotPlaced)."""
    call_id = call.id
    request = CallRequest(
        to_e164=call.phone_e164,
        from_e164=telephony.from_e164,
        status_callback_url=telephony.status_url(call_id),
        time_limit_s=call.time_limit_s,
        twiml=conversation_relay(
            relay_url=telephony.relay_url(call_id),
            action_url=telephony.connect_action_url(call_id),
            parameters={"call_id": str(call_id)},
        ),
        amd_callback_url=telephony.amd_url(call_id),
        recording_callback_url=telephony.recording_url(call_id),
        ring_timeout_s=telephony.ring_timeout_s,
    )
    try:
        placed = await telephony.provider.create_call(request)
    except TelephonyError as exc:
        await _not_placed(db, call_id, str(exc))
        raise CallNotPlaced(str(exc)) from exc
    async with db.session() as session:
        # A callback may already have named the sid and moved the status on.
        await session.execute(
            update(Call)
            .where(Call.id == call_id, Call.twilio_sid.is_(None))
            .values(twilio_sid=placed.sid)
        )
        await session.execute(
            update(Call)
            .where(Call.id == call_id, Call.status == CallStatus.PENDING.value)
            .values(status=CallStatus.QUEUED.value)
        )
        await session.commit()
        fresh = await session.get(Call, call_id, populate_existing=True)
        assert fresh is not None
    log.info("call %s placed as %s (limit %d s)", call_id, placed.sid, call.time_limit_s)
    return fresh


async def _not_placed(db: Database, call_id: uuid.UUID, reason: str) -> None:
    """Twilio refused: free the hold, uncount the attempt, mark the call failed."""
    async with db.session() as session:
        call = await session.get(Call, call_id, with_for_update=True)
        assert call is not None
        await fail_unsent(session, call, reason)
        await session.commit()


async def fail_unsent(session: AsyncSession, call: Call, reason: str) -> None:
    """A call the carrier never took (it refused, or it was never asked): its hold
    released, its attempt uncounted, the call failed and settled at no cost, in the
    caller's transaction. `call` must be locked by the caller."""
    if call.hold_id is not None:
        await ledger.release_hold(session, call.hold_id)
    if call.attempt_id is not None:
        attempt_id, call.attempt_id = call.attempt_id, None
        await session.flush()
        await session.execute(delete(CallAttempt).where(CallAttempt.id == attempt_id))
    call.status = CallStatus.FAILED.value
    call.outcome = CallOutcome.FAILED.value
    call.error = reason[:2000]
    call.cost_mc = 0
    call.ended_at = call.settled_at = datetime.now(UTC)
    await session.flush()


# --- reading -----------------------------------------------------------------------


async def get_call(session: AsyncSession, actor: Actor, call_id: uuid.UUID) -> Call:
    call = await session.get(Call, call_id, populate_existing=True)
    if call is None:
        raise NotFound("No such call.")
    contact = await session.get(Contact, call.contact_id)
    if contact is None or not can_see(actor, contact):
        raise NotFound("No such call.")
    return call


async def list_calls(
    session: AsyncSession,
    actor: Actor,
    *,
    contact_id: uuid.UUID | None = None,
    status: str | None = None,
    outcome: str | None = None,
    placed_by: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> list[tuple[Call, Contact]]:
    """The newest `limit` calls `actor` may see (with their contacts), each filter
    applied in the query: one contact, a status, an outcome, the rep who placed them,
    and placed in [`since`, `until`)."""
    query = (
        select(Call, Contact)
        .join(Contact, Contact.id == Call.contact_id)
        .where(visible_contacts(actor, include_deleted=True))
        .order_by(Call.created_at.desc())
        .limit(max(1, min(limit, 200)))
    )
    if contact_id is not None:
        query = query.where(Call.contact_id == contact_id)
    if status is not None:
        query = query.where(Call.status == status)
    if outcome is not None:
        query = query.where(Call.outcome == outcome)
    if placed_by is not None:
        query = query.where(Call.placed_by == placed_by)
    if since is not None:
        query = query.where(Call.created_at >= since)
    if until is not None:
        query = query.where(Call.created_at < until)
    return [(call, contact) for call, contact in (await session.execute(query)).all()]


async def live_call_of(session: AsyncSession, actor: Actor) -> Call | None:
    """The actor's own most recent call that has not ended, if any."""
    found = await session.scalars(
        select(Call)
        .where(
            Call.placed_by == actor.user_id,
            Call.status.not_in([s.value for s in CallStatus if s.terminal]),
        )
        .order_by(Call.created_at.desc())
        .limit(1)
    )
    return found.first()


async def transcript(session: AsyncSession, call: Call) -> list[TranscriptSegment]:
    result = await session.scalars(
        select(TranscriptSegment)
        .where(TranscriptSegment.call_id == call.id)
        .order_by(TranscriptSegment.seq)
    )
    return list(result.all())


# --- ending ------------------------------------------------------------------------


async def end_call(db: Database, actor: Actor, call_id: uuid.UUID, telephony: Telephony) -> Call:
    """Hang up a call in progress (or ringing). Settlement follows from Twilio's final
    callback; a call Twilio already ended (error 20404) counts as ended."""
    async with db.session() as session:
        call = await get_call(session, actor, call_id)
    if CallStatus(call.status).terminal:
        return call
    if call.twilio_sid is None:
        raise CallNotPlaced("This call has not reached the carrier yet; try again in a moment.")
    try:
        await telephony.provider.hangup(call.twilio_sid)
    except TelephonyError as exc:
        if exc.code != 20404 and exc.status != 404:
            raise
    async with db.session() as session:
        await session.execute(
            update(Call)
            .where(Call.id == call_id, Call.end_reason.is_(None))
            .values(end_reason=f"ended by {actor.email}")
        )
        await session.commit()
        return await get_call(session, actor, call_id)


async def end_workspace_calls(
    session: AsyncSession, workspace_id: uuid.UUID, telephony: Telephony, reason: str
) -> int:
    """Hang up every unfinished call of a workspace (suspension). Returns how many."""
    sids = (
        await session.scalars(
            select(Call.twilio_sid).where(
                Call.workspace_id == workspace_id,
                Call.status.not_in([s.value for s in CallStatus if s.terminal]),
                Call.twilio_sid.is_not(None),
            )
        )
    ).all()
    ended = 0
    for sid in sids:
        try:
            if await telephony.provider.hangup(str(sid)):
                ended += 1
        except TelephonyError as exc:
            if exc.code == 20404 or exc.status == 404:
                continue
            log.warning("could not hang up %s on suspension: %s", sid, exc)
    if sids:
        await session.execute(
            update(Call)
            .where(Call.twilio_sid.in_(list(sids)), Call.end_reason.is_(None))
            .values(end_reason=reason[:500])
        )
    return ended


def suspension_hook(telephony: Telephony) -> Callable[[AsyncSession, uuid.UUID], Awaitable[None]]:
    """`accounts.suspension` hook: a suspended workspace's calls are hung up."""

    async def end_calls_in_progress(session: AsyncSession, workspace_id: uuid.UUID) -> None:
        ended = await end_workspace_calls(session, workspace_id, telephony, "workspace suspended")
        if ended:
            log.info("suspension of %s ended %d calls", workspace_id, ended)

    return end_calls_in_progress
