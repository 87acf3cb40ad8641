"""change_mobile: move the account to a new mobile number, verified by a code.

It writes the account, so it only proposes (tools.actions): the code is sent once the
user confirms the number, and the number changes only when the code checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain.tools import ToolRuntime

from accounts import audit
from accounts.models import User
from accounts.otp import OtpError
from accounts.phones import InvalidMobile, mask, normalise_mobile
from core.errors import KloseError
from tools.actions import Proposal, write_tool
from tools.context import AgentContext


async def _change(ctx: AgentContext, payload: dict[str, Any]) -> str:
    number = str(payload["mobile"])
    otp = ctx.require_otp()
    try:
        await otp.send(number)
    except OtpError as exc:
        return f"I could not send a code to {mask(number)}: {exc}"
    code = await ctx.ask_text(
        f"I texted a 6-digit code to {mask(number)}. Type it here to confirm the new number."
    )
    if not code:
        return "The mobile number was not changed: no code was entered."
    # Here, not at import: the sign-up flows bring an e-mail validator and the terms'
    # Markdown renderer, which no other answer needs.
    from accounts import flows

    try:
        async with ctx.db.session() as session:
            await flows.check_code(
                session,
                otp,
                number,
                code,
                ip=None,
                actor_id=ctx.actor.user_id,
                workspace_id=ctx.actor.workspace_id,
                purpose="change_mobile",
            )
            user = await session.get(User, ctx.actor.user_id, with_for_update=True)
            if user is None:
                return "Your account was not found."
            old = user.mobile_e164
            user.mobile_e164 = number
            user.mobile_verified_at = datetime.now(UTC)
            await audit.record(
                session,
                audit.MOBILE_CHANGED,
                actor_id=user.id,
                actor_label=user.email,
                workspace_id=user.workspace_id,
                detail={"from": mask(old) if old else None, "to": mask(number)},
            )
            await session.commit()
    except KloseError as exc:
        return f"The mobile number was not changed: {exc}"
    return f"Done: your mobile is now {mask(number)}. Sign-in codes will go there."


@write_tool(_change, billable=False)
async def change_mobile(new_mobile: str, runtime: ToolRuntime[AgentContext]) -> Proposal | str:
    """Change the user's mobile number. Once the user confirms the number, sends a code
    to it and asks the user for it; the number changes only when the code checks.
    `new_mobile` is the number the user gave, in any common format."""
    runtime.context.require_otp()
    try:
        number = normalise_mobile(new_mobile, default_region=runtime.context.actor.region)
    except InvalidMobile as exc:
        return str(exc)
    return Proposal(
        question=f"Change your sign-in mobile to {number}? A code will be texted to it.",
        payload={"mobile": number},
        declined="The mobile number was not changed: you declined.",
    )
