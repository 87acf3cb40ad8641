"""list_packages: the credit packages on sale."""

from __future__ import annotations

from langchain.tools import ToolRuntime

from billing import purchases
from billing.money import credits_label, format_money
from tools.actions import read_tool
from tools.context import AgentContext


@read_tool(billable=False)
async def list_packages(runtime: ToolRuntime[AgentContext]) -> str:
    """List the credit packages that can be bought, with price and credits. Use when the
    user asks what packages, plans or prices there are."""
    async with runtime.context.db.session() as session:
        packages = await purchases.list_packages(session)
    if not packages:
        return "No credit packages are on sale right now."
    lines = []
    for p in packages:
        fee = (
            f" + {format_money(p.service_fee_cents, p.currency)} service fee"
            if p.service_fee_cents
            else ""
        )
        lines.append(
            f"- {p.name}: {credits_label(p.credits_mc)} for "
            f"{format_money(p.price_cents, p.currency)}{fee}"
        )
    # Paragraphs apart: a line right after a Markdown list is read as part of its
    # last item.
    return "\n\n".join(
        [
            "Credit packages (prices before service fee and tax):",
            "\n".join(lines),
            "Calls cost 1 credit per second; an answer that does assistant work (a "
            "summary, transcript, search, analytics, or an action such as adding a contact "
            "or placing a call) costs 0.5 credit. Questions about credits and packages are "
            "free. Ask me for an estimate with tax for your billing country.",
        ]
    )
