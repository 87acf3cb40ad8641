"""my_account: who the user is, as the app knows them."""

from __future__ import annotations

from langchain.tools import ToolRuntime
from sqlalchemy import select

from accounts import terms
from accounts.models import TermsAcceptance, TermsVersion, User, Workspace
from accounts.phones import mask
from core.markdown import md_escape
from core.timezones import describe_zone
from tools.actions import read_tool
from tools.context import AgentContext


@read_tool(billable=False)
async def my_account(runtime: ToolRuntime[AgentContext]) -> str:
    """Show the user's account: name, email, mobile (masked), role, workspace and the
    terms version they accepted. Use for "my account", "who am I", "my profile"."""
    ctx = runtime.context
    async with ctx.db.session() as session:
        user = await session.get(User, ctx.actor.user_id)
        if user is None:
            return "Your account was not found."
        workspace = await session.get(Workspace, user.workspace_id)
        accepted = await session.scalar(
            select(TermsVersion.version)
            .join(TermsAcceptance, TermsAcceptance.terms_version_id == TermsVersion.id)
            .where(TermsAcceptance.user_id == user.id)
            .order_by(TermsVersion.effective_at.desc())
            .limit(1)
        )
        upcoming = await terms.upcoming(session)
    lines = [
        f"Name: {md_escape(user.name)}",
        f"Email: {md_escape(user.email)}",
        f"Mobile: {mask(user.mobile_e164) if user.mobile_e164 else 'none'}"
        + (" (verified)" if user.mobile_verified_at else " (not verified)"),
        f"Time zone: {describe_zone(ctx.actor.time_zone)} (change it in chat, “set my time "
        f"zone to Eastern”, or at {ctx.base_url.rstrip('/')}/account/settings)",
        f"Role: {user.role}",
        f"Workspace: {md_escape(workspace.name) if workspace else '?'}",
        f"Terms accepted: version {accepted}" if accepted else "Terms accepted: none yet",
    ]
    if upcoming is not None:
        lines.append(
            f"New terms (version {upcoming.version}) take effect on "
            f"{upcoming.effective_at:%Y-%m-%d}: read them at /account/terms."
        )
    return "\n".join(lines)
