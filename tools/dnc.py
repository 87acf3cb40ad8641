"""add_dnc, list_dnc and remove_dnc: the workspace's do-not-call list, in chat.

Anyone may add a number (it protects the person called: any active consent for it is
revoked at once). Taking a number off the list is a manager's decision, with a reason:
a rep is told so and nothing changes. Every change is audited with who, when and why
(telephony/dnc.py). The platform-wide list is never shown or changed here.
"""

from __future__ import annotations

import re
from typing import Any

from langchain.tools import ToolRuntime
from sqlalchemy import select

from accounts.models import Role, User
from core.errors import KloseError
from core.markdown import md_escape
from core.timezones import format_local
from telephony import dnc as dnc_service
from telephony.models import DncEntry, DncSource
from telephony.numbers import format_phone
from tools.actions import Proposal, read_tool, write_tool
from tools.contact_refs import resolve_contact
from tools.context import AgentContext
from tools.metering import done

MAX_SHOWN = 200
ASK_REASON = (
    "Why may {number} be called again? Give the reason (e.g. “they asked to be called "
    "back, by email on Dec 3”): it is kept in the audit log. Nothing was changed."
)


_DIGITS = re.compile(r"\d")


async def _number(ctx: AgentContext, phone: str) -> str:
    """The E.164 number meant: a number as typed (read in the user's own country), or
    the number of a contact the user names (DncError / NotFound otherwise)."""
    if len(_DIGITS.findall(phone or "")) >= 3 or not (phone or "").strip():
        return dnc_service.normalise_dnc_number(phone, default_region=ctx.actor.region)
    async with ctx.db.session() as session:
        return (await resolve_contact(session, ctx.actor, phone)).phone_e164


def _source(entry: DncEntry) -> str:
    try:
        return DncSource(entry.source).label
    except ValueError:
        return entry.source


async def _listed(ctx: AgentContext, e164: str) -> DncEntry | None:
    async with ctx.db.session() as session:
        return await session.scalar(
            select(DncEntry).where(
                DncEntry.workspace_id == ctx.actor.workspace_id, DncEntry.phone_e164 == e164
            )
        )


def _added(ctx: AgentContext, entry: DncEntry) -> str:
    why = f": {md_escape(entry.reason)}" if entry.reason else ""
    return f"added {format_local(entry.added_at, ctx.actor.time_zone)} ({_source(entry)}{why})"


# --- add -----------------------------------------------------------------------------------


async def _add(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        async with ctx.db.session() as session:
            before = await session.scalar(
                select(DncEntry.id).where(
                    DncEntry.workspace_id == ctx.actor.workspace_id,
                    DncEntry.phone_e164 == payload["phone"],
                )
            )
            await dnc_service.add_to_dnc(
                session,
                ctx.actor,
                payload["phone"],
                reason=payload.get("reason") or "added in chat",
                source=DncSource.MANUAL,
            )
            await session.commit()
    except KloseError as exc:
        return f"Not added: {exc}"
    number = format_phone(payload["phone"])
    if before is not None:
        return f"{number} was already on the do-not-call list: nothing changed."
    return done(
        f"Added {number} to the do-not-call list: it won't be called, and any consent "
        "on record for it was revoked."
    )


@write_tool(_add, billable=True)
async def add_dnc(
    runtime: ToolRuntime[AgentContext], phone: str, reason: str | None = None
) -> Proposal | str:
    """Put a phone number on the workspace's do-not-call list, once the user confirms:
    it is never called again and any consent for it is revoked. `phone`: the number (or
    a contact's name: their number). `reason`: why (e.g. "asked not to be called")."""
    ctx = runtime.context
    try:
        e164 = await _number(ctx, phone)
        why = " ".join((reason or "").split())
        if len(why) > dnc_service.MAX_REASON_CHARS:
            raise dnc_service.DncError(
                f"The reason has at most {dnc_service.MAX_REASON_CHARS} characters."
            )
    except KloseError as exc:
        return f"Not added: {exc}"
    found = await _listed(ctx, e164)
    if found is not None:
        return f"{format_phone(e164)} is already on the do-not-call list ({_added(ctx, found)})."
    because = f" Reason: {md_escape(why)}." if why else ""
    return Proposal(
        question=(
            f"Add {format_phone(e164)} to the do-not-call list?{because} It won't be "
            "called again, and any consent on record for it is revoked."
        ),
        payload={"phone": e164, "reason": why},
        declined="Not added: you declined, so the list is unchanged.",
    )


# --- list ----------------------------------------------------------------------------------


@read_tool(billable=True)
async def list_dnc(runtime: ToolRuntime[AgentContext]) -> str:
    """List the workspace's do-not-call numbers: when, by whom and why each was added."""
    ctx = runtime.context
    async with ctx.db.session() as session:
        entries = await dnc_service.list_dnc(session, ctx.actor, limit=MAX_SHOWN + 1)
        ids = {e.added_by for e in entries if e.added_by is not None}
        names = (
            dict((await session.execute(select(User.id, User.name).where(User.id.in_(ids)))).all())
            if ids
            else {}
        )
    if not entries:
        return "The do-not-call list is empty. Nothing was charged."
    more = len(entries) > MAX_SHOWN
    lines = ["| Number | Added | By | Source | Reason |", "| --- | --- | --- | --- | --- |"]
    for entry in entries[:MAX_SHOWN]:
        who = md_escape(names.get(entry.added_by, "")) if entry.added_by else "—"
        lines.append(
            f"| {format_phone(entry.phone_e164)} "
            f"| {format_local(entry.added_at, ctx.actor.time_zone)} | {who or '—'} "
            f"| {_source(entry)} | {md_escape(entry.reason) or '—'} |"
        )
    count = f"{MAX_SHOWN}+ (the newest shown)" if more else str(len(entries))
    return done(
        f"Do-not-call list: {count} number{'s' * (len(entries) != 1)}.\n\n" + "\n".join(lines)
    )


# --- remove --------------------------------------------------------------------------------


async def _remove(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        async with ctx.db.session() as session:
            await dnc_service.remove_from_dnc(
                session, ctx.actor, payload["phone"], reason=payload["reason"]
            )
            await session.commit()
    except KloseError as exc:
        return f"Not removed: {exc}"
    return done(
        f"Removed {format_phone(payload['phone'])} from the do-not-call list (reason kept in "
        "the audit log). Consent revoked when it was listed stays revoked: record new "
        "consent before calling."
    )


@write_tool(_remove, billable=True)
async def remove_dnc(
    runtime: ToolRuntime[AgentContext], phone: str, reason: str | None = None
) -> Proposal | str:
    """Take a phone number off the workspace's do-not-call list, once the user
    confirms. Managers only, and only with a `reason` (why it may be called again),
    which is audited. `phone`: the number (or a contact's name: their number)."""
    ctx = runtime.context
    if ctx.actor.role not in (Role.MANAGER, Role.ADMIN):
        return f"Not removed: {dnc_service.MANAGERS_ONLY}"
    try:
        e164 = await _number(ctx, phone)
    except KloseError as exc:
        return f"Not removed: {exc}"
    found = await _listed(ctx, e164)
    if found is None:
        return (
            f"{format_phone(e164)} is not on this workspace's do-not-call list: nothing to remove."
        )
    why = " ".join((reason or "").split())
    if not why:
        return ASK_REASON.format(number=format_phone(e164))
    if len(why) > dnc_service.MAX_REASON_CHARS:
        return f"Not removed: the reason has at most {dnc_service.MAX_REASON_CHARS} characters."
    return Proposal(
        question=(
            f"Remove {format_phone(e164)} from the do-not-call list? It was "
            f"{_added(ctx, found)}. Your reason: “{md_escape(why)}” (kept in the audit log). "
            "It may then be called once consent is on record."
        ),
        payload={"phone": e164, "reason": why},
        declined="Not removed: you declined, so the number stays on the list.",
    )
