"""callback_settings (what a booked callback becomes, and the warm hand-off on the
goal), and the one-click "call now" of a callback reminder.

"Call now" never dials by itself: it runs the compliance gate, shows its verdict and
the cost ceiling, and proposes a `place_call` — the same confirmation (Yes / No) and
the same gate again at the yes as any call the rep asks for (tools.calls)."""

from __future__ import annotations

import uuid
from typing import Any

from langchain.tools import ToolRuntime

from core.errors import KloseError
from core.markdown import md_escape
from telephony import calls as calls_service
from telephony.booked_callbacks import callback_purpose, get_callback
from telephony.call_settings import (
    CallSettings,
    CallSettingsError,
    get_settings,
    parse_mode,
    set_settings,
)
from telephony.followup_models import CallbackMode
from tools import actions
from tools.actions import Proposal, write_tool
from tools.calls import place_call
from tools.contact_refs import label
from tools.context import AgentContext

_YES = {"yes", "on", "true", "enable", "enabled", "1"}
_NO = {"no", "off", "false", "disable", "disabled", "0"}


async def call_back_now(ctx: AgentContext, callback_id: uuid.UUID) -> str:
    """The "Call now" button of a callback reminder: propose the call (gate checked)."""
    telephony = ctx.require_telephony()
    try:
        async with ctx.db.session() as session:
            found = await get_callback(session, ctx.actor, callback_id)
            if found is None:
                return (
                    "That callback is not one of yours (or no longer exists): nothing was dialled."
                )
            callback, contact = found
            plan = await calls_service.plan_call(session, ctx.actor, contact.id, telephony)
            await session.commit()  # the gate's decision is audited
    except KloseError as exc:
        return f"Not placed: {exc}"
    if not plan.decision.allowed:
        return f"Not placed.\n{plan.describe()}"
    purpose = callback_purpose(callback.purpose)
    proposal = Proposal(
        question=f"{plan.describe()}\n\nCall {label(contact)} back now about: "
        f"{md_escape(purpose)}?",
        payload={
            "contact_id": str(contact.id),
            "purpose": purpose,
            "talking_points": None,
            "goal": None,
            "voicemail_message": None,
            "on_voicemail": "leave",
        },
        declined="Not placed; nothing was charged.",
    )
    return await actions.submit(ctx, place_call.name, proposal)  # its effect, its gate


def _flag(value: str | bool | None) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    word = value.strip().lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise CallSettingsError("Say yes or no for offering the hand-off when the goal is reached.")


async def _apply(ctx: AgentContext, payload: dict[str, Any]) -> str:
    async with ctx.db.session() as session:
        chosen = await set_settings(
            session,
            ctx.actor,
            callback_mode=CallbackMode(payload["callback_mode"]),
            handoff_on_goal=bool(payload["handoff_on_goal"]),
        )
        await session.commit()
    return f"Saved.\n{chosen.describe()}"


# Changing a setting is account housekeeping: never charged.
@write_tool(_apply, billable=False)
async def callback_settings(
    runtime: ToolRuntime[AgentContext],
    callback_mode: str | None = None,
    handoff_on_goal: str | None = None,
) -> Proposal | str:
    """Show or change what happens to callbacks prospects book on calls, for the whole
    workspace: `callback_mode` "call" (the AI agent calls them back at the booked time;
    the compliance gate is checked again then) or "remind" (a reminder in the rep's chat
    with a Call now button). `handoff_on_goal` "yes"/"no": whether the voice agent also
    offers to connect the prospect to the rep's verified mobile when the call's goal is
    reached (it always offers when they ask for a person). No arguments: show the
    current settings."""
    ctx = runtime.context
    try:
        mode = parse_mode(callback_mode)
        on_goal = _flag(handoff_on_goal)
    except CallSettingsError as exc:
        return str(exc)
    async with ctx.db.session() as session:
        current = await get_settings(session, ctx.actor.workspace_id)
    if mode is None and on_goal is None:
        return f"{current.describe()}\nSay e.g. “call callbacks back automatically” to change it."
    chosen = CallSettings(
        mode or current.callback_mode,
        current.handoff_on_goal if on_goal is None else on_goal,
    )
    if chosen == current:
        return f"That is already the setting.\n{current.describe()}"
    return Proposal(
        question=f"Change this workspace's call settings to:\n{chosen.describe()}",
        payload={
            "callback_mode": chosen.callback_mode.value,
            "handoff_on_goal": chosen.handoff_on_goal,
        },
        declined="Nothing changed.",
    )
