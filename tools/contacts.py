"""add_contact and record_consent: the people a rep may call, and the evidence that
they agreed to be called."""

from __future__ import annotations

from datetime import UTC, datetime

from langchain.tools import ToolRuntime
from langchain_core.tools import tool

from core.errors import KloseError
from core.markdown import md_escape
from telephony import consent as consents
from telephony import contacts as contacts_service
from telephony.compliance import CONSENT_MAX_AGE
from telephony.models import ConsentType
from tools.contact_refs import label, resolve_contact
from tools.context import AgentContext

DEFAULT_METHOD = "attested by the rep in chat"


@tool
async def add_contact(
    runtime: ToolRuntime[AgentContext],
    name: str,
    phone: str,
    company: str | None = None,
    notes: str | None = None,
) -> str:
    """Add a contact (name and phone number; company and notes optional) owned by the
    user. Calling them also needs consent on record (record_consent)."""
    ctx = runtime.context
    try:
        async with ctx.db.session() as session:
            contact = await contacts_service.add_contact(
                session, ctx.actor, name=name, phone=phone, company=company, notes=notes
            )
            await session.commit()
    except KloseError as exc:
        return f"Not added: {exc}"
    zones = ", ".join(contact.time_zones[:3]) or "unknown time zone"
    return (
        f"Added {label(contact)} — local time zone: {zones}. "
        "Before calling, record their consent (type, where and how it was given)."
    )


@tool
async def record_consent(
    runtime: ToolRuntime[AgentContext],
    contact: str,
    consent_type: str,
    source: str,
    wording: str | None = None,
    method: str | None = None,
    obtained_at: str | None = None,
) -> str:
    """Record that a contact agreed to be called, attested by the user. `contact`: name,
    number or id. `consent_type`: "express written", "express" or "existing
    relationship". `source`: where it was given (a web form's URL, an event).
    `wording`: the exact text they agreed to. `method`: how (web form, signed paper…).
    `obtained_at`: when (ISO date/time; default now)."""
    ctx = runtime.context
    now = datetime.now(UTC)
    if not (wording or "").strip():
        # The exact wording is the evidence: ask for it rather than invent it.
        wording = await ctx.ask_text(
            "What exact wording did they agree to? (paste the consent text from the form or script)"
        )
        if not (wording or "").strip():
            return (
                "Consent not recorded: the exact wording they agreed to is needed as "
                "evidence. Ask again with the wording."
            )
    try:
        kind = consents.parse_consent_type(consent_type)
        when = consents.parse_consent_time(obtained_at) if obtained_at else now
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, contact)
            record = await consents.record_consent(
                session,
                ctx.actor,
                found.id,
                consent_type=kind,
                source=source,
                wording=wording or "",
                method=method or DEFAULT_METHOD,
                obtained_at=when,
                now=now,
            )
            await session.commit()
    except KloseError as exc:
        return f"Consent not recorded: {exc}"
    lapse = CONSENT_MAX_AGE.get(ConsentType(record.consent_type))
    until = f"; it lapses after {lapse.days} days" if lapse else "; it lasts until revoked"
    return (
        f"Recorded {kind.label} for {label(found)} ({md_escape(record.method)}, "
        f"{record.obtained_at:%Y-%m-%d}), attested by you{until}."
    )
