"""place_call, call_status, end_call and list_calls.

Placing a call always runs the compliance gate first and shows its verdict and the
cost ceiling; the call is placed only after the user confirms (a button in chat,
`--yes` in the CLI) — the model alone can never start one, nor end one (tools.actions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from langchain.tools import ToolRuntime

from accounts.models import Role
from billing.money import CALL_SECOND_PRICE_MC, credits_label
from core.errors import KloseError
from core.markdown import md_escape
from core.timezones import zone_abbr
from insights.analytics import parse_period
from insights.models import CallInsight
from telephony import calls as calls_service
from telephony.models import CallOutcome, CallStatus, Contact
from tools import about
from tools.actions import Proposal, read_tool, write_tool
from tools.call_card import call_card, calls_table
from tools.call_refs import resolve_call
from tools.contact_refs import label, resolve_contact
from tools.context import AgentContext, Artifact
from tools.metering import done
from tools.rep_refs import rep_named

STATUS_WORDS = {
    "failed": "failed",
    "busy": "busy",
    "no answer": "no-answer",
    "unanswered": "no-answer",
    "completed": "completed",
    "ended": "completed",
    "in progress": "in-progress",
    "ringing": "ringing",
}
# Words for outcomes (`CallOutcome`) people use ("went to voicemail", "interested").
OUTCOME_WORDS = {
    "vm": "voicemail",
    "voice_mail": "voicemail",
    "unanswered": "no_answer",
    "callback": "callback_booked",
    "call_back": "callback_booked",
    "callbacks": "callback_booked",
    "booked": "callback_booked",
    "opt_out": "opted_out",
    "uninterested": "not_interested",
}


# Words that name no one: "call a contact" asks who, rather than searching for them.
PLACEHOLDERS = frozenset(
    {
        "",
        "a contact",
        "contact",
        "someone",
        "somebody",
        "anyone",
        "anybody",
        "a lead",
        "a prospect",
        "a customer",
        "a client",
        "a person",
        "one of my contacts",
    }
)
ASK_WHO = (
    "Who should I call, and what about? For example: “call Jane Doe about the spring "
    "pricing”. They must be one of your contacts with their consent on record. Nothing "
    "was dialled."
)


async def _place(ctx: AgentContext, payload: dict[str, Any]) -> str:
    telephony = ctx.require_telephony()
    try:
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, payload["contact_id"])
        # The gate runs again here: the answer may come long after the proposal.
        call = await calls_service.place_call(
            ctx.db,
            ctx.actor,
            found.id,
            telephony,
            purpose=payload["purpose"],
            talking_points=payload.get("talking_points"),
            goal=payload.get("goal"),
            voicemail_message=payload.get("voicemail_message"),
            on_voicemail=payload.get("on_voicemail", "leave"),
        )
    except KloseError as exc:
        return f"Not placed: {exc}"
    about.note_call_of(call.id, found)  # 'call them again', 'that call' refer to it
    if ctx.watch_call is not None:
        await ctx.watch_call(call.id)
    ceiling = credits_label(call.time_limit_s * CALL_SECOND_PRICE_MC)
    where = "" if telephony.live else " (simulated carrier)"
    return done(
        f"Calling {md_escape(found.name)}{where}… call {str(call.id)[:8]}; up to {ceiling} held, "
        "the unused part released when it ends. Ask me for its status or summary."
    )


@write_tool(_place, billable=True)
async def place_call(
    runtime: ToolRuntime[AgentContext],
    contact: str,
    purpose: str,
    talking_points: list[str] | None = None,
    goal: str | None = None,
    voicemail_message: str | None = None,
    on_voicemail: str = "leave",
) -> Proposal | str:
    """Place an outbound AI voice call to a contact (name, number or id) for `purpose`,
    with optional talking points, a goal (e.g. "book a demo"), a voicemail message and
    what to do on a machine ("leave" or "hang_up"). Checks consent, do-not-call lists,
    calling hours, attempts and credits first, shows the result and the cost ceiling,
    and dials only once the user confirms."""
    ctx = runtime.context
    telephony = ctx.require_telephony()
    if " ".join(contact.lower().split()) in PLACEHOLDERS:
        return ASK_WHO  # a question back (free)
    try:
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, contact)
            plan = await calls_service.plan_call(session, ctx.actor, found.id, telephony)
            await session.commit()  # the gate's decision is audited
    except KloseError as exc:
        return f"Not placed: {exc}"
    if not plan.decision.allowed:
        return f"Not placed.\n{plan.describe()}"
    return Proposal(
        question=f"{plan.describe()}\n\nCall {label(found)} now about: {md_escape(purpose)}?",
        payload={
            "contact_id": str(found.id),
            "purpose": purpose,
            "talking_points": talking_points,
            "goal": goal,
            "voicemail_message": voicemail_message,
            "on_voicemail": on_voicemail,
        },
        declined="Not placed; nothing was charged.",
    )


@read_tool(billable=True)
async def call_status(runtime: ToolRuntime[AgentContext], call: str | None = None) -> str:
    """One call as a card: contact, when (in the user's time zone), status, duration,
    cost, outcome, AI summary, objections, next step, callback, the recording (a player
    in the chat) and a link to the transcript. Use it for "show my last call", "how did
    the call with Dana go", "show call 7c2e91ab" or "is it still ringing". `call`: a
    call id (or its first 8 characters), a contact's name or number (their latest
    call), or empty for the latest call."""
    ctx = runtime.context
    try:
        async with ctx.db.session() as session:
            found = await resolve_call(session, ctx.actor, call)
            contact = await session.get(Contact, found.contact_id)
            insight = await session.get(CallInsight, found.id)
            turns = await calls_service.transcript(session, found)
    except KloseError as exc:
        return str(exc)
    assert contact is not None
    card = call_card(
        found, contact, insight, turns, user_zone=ctx.actor.time_zone, base_url=ctx.base_url
    )
    if card.recording is not None:
        name = f"Recording of call {str(found.id)[:8]}"
        ctx.artifacts.append(Artifact("audio", name, card.recording, "audio/wav"))
    return done(card.text)


async def _hang_up(ctx: AgentContext, payload: dict[str, Any]) -> str:
    telephony = ctx.require_telephony()
    call_id = uuid.UUID(payload["call_id"])
    try:
        await calls_service.end_call(ctx.db, ctx.actor, call_id, telephony)
    except KloseError as exc:
        return f"Could not end the call: {exc}"
    return (
        f"Hanging up call {str(call_id)[:8]}. It is billed for the seconds it was "
        "connected; the rest of the hold is released."
    )


# Hanging up stops spending: never charged.
@write_tool(_hang_up, billable=False)
async def end_call(runtime: ToolRuntime[AgentContext], call: str | None = None) -> Proposal | str:
    """Hang up a call in progress (default: the user's own call in progress), once the
    user confirms."""
    ctx = runtime.context
    ctx.require_telephony()
    try:
        async with ctx.db.session() as session:
            found = (
                await calls_service.live_call_of(session, ctx.actor)
                if not call
                else await resolve_call(session, ctx.actor, call)
            )
            contact = await session.get(Contact, found.contact_id) if found else None
    except KloseError as exc:
        return f"Could not end the call: {exc}"
    if found is None:
        return "You have no call in progress."
    if CallStatus(found.status).terminal:
        return f"Call {str(found.id)[:8]} has already ended ({CallStatus(found.status).label})."
    who = f" with {md_escape(contact.name)}" if contact is not None else ""
    return Proposal(
        question=f"Hang up call {str(found.id)[:8]}{who} now?",
        payload={"call_id": str(found.id)},
        declined="The call goes on: you chose not to hang up.",
    )


class CallFilterError(KloseError, ValueError):
    """A call list asked for with a filter that names nothing known; nothing was read."""


def _status(status: str | None) -> str | None:
    if not status:
        return None
    wanted = STATUS_WORDS.get(status.strip().lower(), status.strip().lower())
    if wanted not in {s.value for s in CallStatus}:
        known = ", ".join(sorted(STATUS_WORDS))
        raise CallFilterError(f"Unknown call status {status!r}: use one of {known}.")
    return wanted


def _outcome(outcome: str | None) -> str | None:
    if not outcome:
        return None
    wanted = "_".join(outcome.strip().lower().replace("-", " ").split())
    wanted = OUTCOME_WORDS.get(wanted, wanted)
    if wanted not in {o.value for o in CallOutcome}:
        known = ", ".join(o.value.replace("_", " ") for o in CallOutcome)
        raise CallFilterError(f"Unknown call outcome {outcome!r}: use one of {known}.")
    return wanted


async def _placer(ctx: AgentContext, rep: str | None) -> uuid.UUID | None:
    """The rep whose calls are asked for (None: everyone the user may see). A rep sees
    their own calls only, so a rep naming a teammate is told so."""
    placed_by = await rep_named(ctx, rep)
    if placed_by is not None and placed_by != ctx.actor.user_id and ctx.actor.role is Role.REP:
        raise CallFilterError("Reps see their own calls only; ask without naming a rep.")
    return placed_by


def _filters_said(*, status: str | None, outcome: str | None, rep: str | None) -> str:
    """The filters in words, for the answer's first line (" with the outcome voicemail")."""
    said = ""
    if status:
        said += f" {status.replace('-', ' ')}"
    if outcome:
        said += f" with the outcome {outcome.replace('_', ' ')}"
    if rep:
        said += f" placed by {md_escape(rep.strip())}"
    return said


@read_tool(billable=True)
async def list_calls(
    runtime: ToolRuntime[AgentContext],
    contact: str | None = None,
    status: str | None = None,
    period: str | None = None,
    limit: int = 10,
    outcome: str | None = None,
    rep: str | None = None,
) -> str:
    """List recent calls the user may see, newest first, as a table whose ids open each
    call: optionally with one contact (name, number or id), in one status (completed,
    busy, no answer, failed, in progress), with one outcome (interested, not interested,
    callback booked, voicemail, no answer, opted out — "calls that went to voicemail",
    "who said they were interested"), placed by one rep (a team member's name or email:
    "Riley's calls" when Riley is on the team; managers) or placed in a period ("today",
    "yesterday", "this week", "last week", "this month", "last 7 days",
    "YYYY-MM-DD..YYYY-MM-DD"), in the user's own time zone."""
    ctx = runtime.context
    zone = ctx.actor.time_zone
    try:
        wanted = _status(status)
        result = _outcome(outcome)
        span = parse_period(period, datetime.now(UTC), zone) if period else None
        placed_by = await _placer(ctx, rep)
        async with ctx.db.session() as session:
            contact_id = None
            if contact:
                contact_id = (await resolve_contact(session, ctx.actor, contact)).id
            rows = await calls_service.list_calls(
                session,
                ctx.actor,
                contact_id=contact_id,
                status=wanted,
                outcome=result,
                placed_by=placed_by,
                since=span.start if span else None,
                until=span.end if span else None,
                limit=max(1, min(limit, 50)),
            )
    except KloseError as exc:
        return str(exc)
    where = _filters_said(status=wanted, outcome=result, rep=rep if placed_by else None)
    where += f" {span.said}" if span else ""
    if not rows:
        return f"No calls found{where}."
    table = calls_table(rows, user_zone=zone, base_url=ctx.base_url)
    now = datetime.now(UTC)
    return done(
        f"{len(rows)} call{'s' if len(rows) != 1 else ''}{where}, newest first "
        f"(times in {zone_abbr(now, zone)}, {zone}):\n\n{table}\n\n"
        "Click an id to open the call, or ask for “call 1a2b3c4d” by its id for its card."
    )
