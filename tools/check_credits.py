"""check_credits: the workspace's balance, what is on hold, and the last entries."""

from __future__ import annotations

from langchain.tools import ToolRuntime

from billing import ledger
from billing.money import format_credits
from core.timezones import format_local
from tools.actions import read_tool
from tools.context import AgentContext

KIND_LABELS = {
    "grant": "credits added",
    "query": "assistant answer",
    "call": "call",
    "debit": "debit",
    "refund": "refund",
    "chargeback": "chargeback",
    "chargeback_reverse": "chargeback reversed",
    "expiry": "expired credits",
    "adjustment": "adjustment",
}


@read_tool(billable=False)
async def check_credits(runtime: ToolRuntime[AgentContext]) -> str:
    """Show the workspace's credit balance, credits on hold, available credits and the
    most recent ledger entries. Use for any question about credits, balance or spend.
    Free: never charged."""
    ctx = runtime.context
    async with ctx.db.session() as session:
        balance = await ledger.get_balance(session, ctx.actor.workspace_id)
        entries = await ledger.recent_entries(session, ctx.actor.workspace_id, limit=5)
    # The price held for this answer is left out while no billable work was done: a
    # balance question is free (tools.metering), so that hold will be released.
    meter = ctx.meter
    own = meter.held_mc if meter is not None and meter.hold_id and not meter.work else 0
    lines = [f"Balance: {format_credits(balance.balance_mc)} credits"]
    if balance.held_mc - own > 0:
        lines.append(f"On hold for calls in progress: {format_credits(balance.held_mc - own)}")
    lines.append(f"Available: {format_credits(balance.available_mc + own)} credits")
    if balance.frozen:
        lines.append("The workspace's credits are frozen: contact support.")
    if entries:
        lines.append("Recent entries:")
        for e in entries:
            when = format_local(e.created_at, ctx.actor.time_zone, year=True)
            sign = "+" if e.amount_mc > 0 else "−"
            label = e.description or KIND_LABELS.get(e.kind, e.kind)
            lines.append(f"- {when} · {sign}{format_credits(abs(e.amount_mc))} · {label}")
    return "\n".join(lines)
