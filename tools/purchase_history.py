"""purchase_history: what the workspace bought, with receipts and refunds."""

from __future__ import annotations

from langchain.tools import ToolRuntime

from billing import purchases
from billing.money import credits_label, format_money
from tools.actions import read_tool
from tools.context import AgentContext

NO_TRANSFER = (
    "Credits belong to the workspace that bought them: they cannot be transferred, "
    "sold or exchanged for cash, and unused credits are not refundable except through a "
    "refund of the purchase itself."
)


@read_tool(billable=False)
async def purchase_history(runtime: ToolRuntime[AgentContext]) -> str:
    """List the workspace's credit purchases with amounts paid, credits, refunds and
    receipt links. Use for "what did I buy", receipts or invoices."""
    ctx = runtime.context
    async with ctx.db.session() as session:
        records = await purchases.purchase_history(session, ctx.actor)
    if not records:
        return "No purchases yet. Ask me for the packages to buy credits."
    lines = ["Purchases (newest first):"]
    for r in records:
        txn = r.transaction
        total = txn.totals.get("grand_total") or txn.totals.get("total") if txn.totals else None
        paid = int(total) if total is not None else int(txn.estimate.get("total", 0))
        line = (
            f"- {r.when:%Y-%m-%d} · {r.package.name} · {credits_label(txn.credits_mc)} · "
            f"{format_money(paid, txn.currency)} · receipt: "
            f"{ctx.base_url.rstrip('/')}{purchases.RECEIPT_PATH.format(id=txn.id)}"
        )
        for adj in r.adjustments:
            label = adj.action.replace("_", " ")
            moved = (
                f", {credits_label(adj.taken_mc)} taken back"
                if adj.taken_mc
                else (f", {credits_label(adj.credits_mc)} restored" if adj.credits_mc else "")
            )
            line += f"\n  {label} ({adj.status}){moved}"
            if adj.shortfall_mc:
                line += f", {credits_label(adj.shortfall_mc)} had already been spent"
        lines.append(line)
    return "\n".join(lines)
