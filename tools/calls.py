"""place_call, call_status, end_call and list_calls.

Placing a call always runs the compliance gate first and shows its verdict and the
cost ceiling; the call is placed only after the user confirms (a button in chat,
`--yes` in the CLI) — the model alone can never start one, nor end one (tools.actions)."""

from __future__ import annotations

import uuid
from typing import Any

from langchain.tools import ToolRuntime

from billing.money import CALL_SECOND_PRICE_MC, credits_label
from core.errors import KloseError
from core.markdown import md_escape
from telephony import calls as calls_service
from telephony.models import CallStatus, Contact
from tools.actions import Proposal, read_tool, write_tool
from tools.call_refs import resolve_call
from tools.contact_refs import label, resolve_contact
from tools.context import AgentContext
from tools.metering import done

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


# Words that name no one: "call a contact" asks who, rather than searching for them.
PLACEHOLDERS = frozenset(
    {"", "a contact", "contact", "someone", "somebody", "anyone", "anybody", "a lead",
     "a prospect", "a customer", "a client", "a person", "one of my contacts"}
)  # fmt: skip
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
    """The status of a call (ringing, connected, ended…), its length, cost and outcome,
    with the last few turns once it has ended. `call`: a call id (or its first 8
    characters), a contact's name or number (their latest call), or empty for the
    latest call."""
    ctx = runtime.context
    try:
        async with ctx.db.session() as session:
            found = await resolve_call(session, ctx.actor, call)
            contact = await session.get(Contact, found.contact_id)
            turns = await calls_service.transcript(session, found)
    except KloseError as exc:
        return str(exc)
    assert contact is not None
    lines = [calls_service.describe_call(found, contact)]
    if CallStatus(found.status).terminal and turns:
        lines.append("Last turns:")
        lines += [f"- {t.speaker}: {md_escape(t.text)}" for t in turns[-4:]]
    return done("\n".join(lines))


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


@read_tool(billable=True)
async def list_calls(
    runtime: ToolRuntime[AgentContext],
    contact: str | None = None,
    status: str | None = None,
    limit: int = 10,
) -> str:
    """List recent calls the user may see, newest first: optionally with one contact
    (name, number or id) or in one status (completed, busy, no answer, failed,
    in progress)."""
    ctx = runtime.context
    wanted = None
    if status:
        wanted = STATUS_WORDS.get(status.strip().lower(), status.strip().lower())
        if wanted not in {s.value for s in CallStatus}:
            known = ", ".join(sorted(STATUS_WORDS))
            return f"Unknown call status {status!r}: use one of {known}."
    try:
        async with ctx.db.session() as session:
            contact_id = None
            if contact:
                contact_id = (await resolve_contact(session, ctx.actor, contact)).id
            rows = await calls_service.list_calls(
                session, ctx.actor, contact_id=contact_id, status=wanted, limit=limit
            )
    except KloseError as exc:
        return str(exc)
    if not rows:
        return "No calls found."
    return done("\n".join(calls_service.describe_call(c, k) for c, k in rows))
