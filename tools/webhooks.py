"""manage_webhooks: a manager's outbound webhooks — add or remove a receiver, list
them, read the delivery log. Adding and removing need the user's confirmation; the
signing secret is shown once, when a receiver is added. A URL that is not https or
points at a private, loopback or link-local address is refused (integrations.urls)."""

from __future__ import annotations

import uuid
from typing import Any

from langchain.tools import ToolRuntime

from accounts.models import Role
from core.errors import KloseError
from core.markdown import md_escape
from core.settings import get_settings
from integrations import webhooks
from integrations.models import EVENT_TYPES
from integrations.urls import WebhookUrlError, check
from tools.actions import Proposal, write_tool
from tools.context import AgentContext

MANAGERS_ONLY = (
    "Only a manager of this workspace can see or change its webhooks: nothing was changed."
)
ACTIONS = ("list", "add", "remove", "log")


def _code(url: str) -> str:
    """A checked URL (no backticks: integrations.urls) shown as code, not markdown."""
    return f"`{url}`"


def _allow_loopback() -> bool:
    return get_settings().webhook_test_allow_loopback


async def _execute(ctx: AgentContext, payload: dict[str, Any]) -> str:
    if ctx.actor.role not in (Role.MANAGER, Role.ADMIN):
        return MANAGERS_ONLY
    try:
        async with ctx.db.session() as session:
            if payload["action"] == "add":
                endpoint, secret = await webhooks.add_endpoint(
                    session,
                    ctx.actor.workspace_id,
                    payload["url"],
                    event_types=payload["events"],
                    created_by=ctx.actor.user_id,
                    allow_loopback=_allow_loopback(),
                )
                await session.commit()
                return (
                    f"Webhook receiver {str(endpoint.id)[:8]} added: {_code(endpoint.url)} "
                    f"gets {', '.join(endpoint.event_types)}.\n\nSigning secret (shown only "
                    f"now — keep it safe): `{secret}`\n\nEach request carries "
                    "`Klosesales-Signature: ts=…;h1=…` (HMAC-SHA256 of “ts.body”); see "
                    "docs/webhooks.md for the few lines that verify it."
                )
            removed = await webhooks.remove_endpoint(
                session, ctx.actor.workspace_id, uuid.UUID(payload["endpoint_id"])
            )
            await session.commit()
    except KloseError as exc:
        return f"Not done: {exc}"
    return "Receiver removed: nothing more is sent to it." if removed else "Already removed."


async def _listing(ctx: AgentContext) -> str:
    async with ctx.db.session() as session:
        found = await webhooks.list_endpoints(session, ctx.actor.workspace_id)
    if not found:
        return (
            "No webhook receivers yet. Add one with e.g. “send call events to "
            "https://hooks.example.com/klosesales”."
        )
    lines = [f"- {str(e.id)[:8]} {_code(e.url)} — {', '.join(e.event_types)}" for e in found]
    return "Webhook receivers:\n" + "\n".join(lines)


async def _log(ctx: AgentContext) -> str:
    async with ctx.db.session() as session:
        rows = await webhooks.delivery_log(session, ctx.actor.workspace_id, limit=15)
    if not rows:
        return "No webhook deliveries yet."
    lines = [
        "| event | type | receiver | status | tries | last answer |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        answer = r.last_error or (f"HTTP {r.last_status_code}" if r.last_status_code else "—")
        status = r.status + (
            f" (next try {r.next_attempt_at:%H:%M} UTC)" if r.next_attempt_at else ""
        )
        lines.append(
            f"| {r.event_id[:12]} | {r.event_type} | {_code(r.url)} | {status} | "
            f"{r.attempts} | {md_escape(answer)} |"
        )
    return "Webhook deliveries (newest first):\n\n" + "\n".join(lines)


# Configuration of the workspace's integrations: never charged.
@write_tool(_execute, billable=False)
async def manage_webhooks(
    runtime: ToolRuntime[AgentContext],
    action: str = "list",
    url: str | None = None,
    events: list[str] | None = None,
    receiver: str | None = None,
) -> Proposal | str:
    """Managers only: the workspace's outbound webhooks (signed HTTPS POSTs of
    call.completed, call.insights_ready, campaign.finished, contact.opted_out to the
    team's own systems). `action`: "list" the receivers, "add" one at `url` (https
    only; `events`: which event types, default all), "remove" one (`receiver`: its id
    or URL), or "log" (recent deliveries, their status and retries)."""
    ctx = runtime.context
    if ctx.actor.role not in (Role.MANAGER, Role.ADMIN):
        return MANAGERS_ONLY
    verb = (action or "list").strip().lower()
    if verb not in ACTIONS:
        return f"Unknown webhook action {action!r}: use one of {', '.join(ACTIONS)}."
    if verb == "list":
        return await _listing(ctx)
    if verb == "log":
        return await _log(ctx)
    if verb == "add":
        try:
            types = webhooks.event_types_of(events)
            target = await check(url or "", allow_loopback=_allow_loopback())
        except (WebhookUrlError, webhooks.WebhookError) as exc:
            return f"Not added: {exc}"
        return Proposal(
            question=f"Send {', '.join(types)} events, signed, to {_code(target.url)}?",
            payload={"action": "add", "url": target.url, "events": list(types)},
            declined="Not added.",
        )
    try:
        async with ctx.db.session() as session:
            endpoint = await webhooks.find_endpoint(
                session, ctx.actor.workspace_id, receiver or url or ""
            )
    except KloseError as exc:
        return f"Not removed: {exc}"
    return Proposal(
        question=f"Stop sending events to {_code(endpoint.url)} (receiver {str(endpoint.id)[:8]})?",
        payload={"action": "remove", "endpoint_id": str(endpoint.id)},
        declined="Nothing changed.",
    )


__all__ = ["EVENT_TYPES", "manage_webhooks"]
