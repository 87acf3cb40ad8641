"""add_contact and record_consent: the people a rep may call, and the evidence that
they agreed to be called.

Both write, so both only propose (tools.actions): the contact or the consent is stored
once the user confirms what is shown. Consent wording is evidence, so it is only ever
text the user typed or pasted in this conversation, never the model's own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain.tools import ToolRuntime

from core.errors import KloseError
from core.markdown import md_escape
from telephony import consent as consents
from telephony import contacts as contacts_service
from telephony.compliance import CONSENT_MAX_AGE
from telephony.models import ConsentType
from telephony.numbers import InvalidPhone, parse_phone
from tools.actions import Proposal, write_tool
from tools.contact_refs import label, resolve_contact
from tools.context import AgentContext, squash
from tools.metering import done

DEFAULT_METHOD = "attested by the rep in chat"
ASK_WORDING = (
    "What exact wording did they agree to? (paste the consent text from the form or script)"
)
ASK_CONTACT = (
    "Who should I add? Send their name and phone number, and their company if you like — "
    "for example: “add a contact Jane Doe +1 415 555 0123 at Acme”. Nothing was saved."
)
NO_WORDING = (
    "Consent not recorded yet: the exact wording they agreed to is needed as evidence, "
    "typed or pasted by you. What exact wording did they agree to? Paste it from the form "
    "or script as your next message."
)
# (The next message is read as that answer unless it is a new request:
# chat_app.llm.followups.)


async def _add(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        async with ctx.db.session() as session:
            contact = await contacts_service.add_contact(
                session,
                ctx.actor,
                name=payload["name"],
                phone=payload["phone"],
                company=payload.get("company"),
                notes=payload.get("notes"),
            )
            await session.commit()
    except KloseError as exc:
        return f"Not added: {exc}"
    zones = ", ".join(contact.time_zones[:3]) or "unknown time zone"
    return done(
        f"Added {label(contact)} — local time zone: {zones}. "
        "Before calling, record their consent (type, where and how it was given)."
    )


@write_tool(_add, billable=True)
async def add_contact(
    runtime: ToolRuntime[AgentContext],
    name: str,
    phone: str,
    company: str | None = None,
    notes: str | None = None,
) -> Proposal | str:
    """Add a contact (name and phone number; company and notes optional) owned by the
    user, once the user confirms. Calling them also needs consent on record
    (record_consent)."""
    ctx = runtime.context
    if not name.strip():
        return ASK_CONTACT  # a question back, never a made-up contact (free)
    try:
        clean = contacts_service.clean_name(name)
        company = contacts_service.clean_company(company)
        notes = contacts_service.clean_notes(notes) or None
        try:
            info = parse_phone(phone, default_region=ctx.actor.region)
        except InvalidPhone as exc:
            return f"Not added: {exc}"
        async with ctx.db.session() as session:
            found = await contacts_service.existing_contact(
                session, ctx.actor.workspace_id, info.e164
            )
            if found is not None:
                return f"Not added: {contacts_service.duplicate_message(ctx.actor, found)}"
    except KloseError as exc:
        return f"Not added: {exc}"
    shown = f"{md_escape(clean)}{f' ({md_escape(company)})' if company else ''}, {info.display}"
    return Proposal(
        question=f"Add the contact {shown}?" + (f"\n\nNotes: {md_escape(notes)}" if notes else ""),
        payload={"name": clean, "phone": info.e164, "company": company, "notes": notes},
        declined="Not added: you declined, so nothing was stored.",
    )


async def _record(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        kind = consents.parse_consent_type(payload["consent_type"])
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, payload["contact_id"])
            record = await consents.record_consent(
                session,
                ctx.actor,
                found.id,
                consent_type=kind,
                source=payload["source"],
                wording=payload["wording"],
                method=payload["method"],
                obtained_at=datetime.fromisoformat(payload["obtained_at"]),
            )
            await session.commit()
    except KloseError as exc:
        return f"Consent not recorded: {exc}"
    lapse = CONSENT_MAX_AGE.get(ConsentType(record.consent_type))
    until = f"; it lapses after {lapse.days} days" if lapse else "; it lasts until revoked"
    return done(
        f"Recorded {kind.label} for {label(found)} ({md_escape(record.method)}, "
        f"{record.obtained_at:%Y-%m-%d}), attested by you{until}."
    )


async def users_wording(ctx: AgentContext, proposed: str | None) -> str | None:
    """The consent wording, as the user typed or pasted it: `proposed` when it appears
    verbatim in the user's own messages of this conversation, else what the user
    answers when asked; None when they give none. The model's text is never used
    unless the user wrote it."""
    text = squash((proposed or "").strip().strip("\"'“”‘’"))
    if text and ctx.user_wrote(text):
        return text
    answer = squash(await ctx.ask_text(ASK_WORDING) or "")
    return answer or None


@write_tool(_record, billable=True)
async def record_consent(
    runtime: ToolRuntime[AgentContext],
    contact: str,
    consent_type: str,
    source: str,
    wording: str | None = None,
    method: str | None = None,
    obtained_at: str | None = None,
) -> Proposal | str:
    """Record that a contact agreed to be called, attested by the user, once the user
    confirms. `contact`: name, number or id. `consent_type`: "express written",
    "express" or "existing relationship". `source`: where it was given (a web form's
    URL, an event). `wording`: the exact text they agreed to, exactly as the user
    typed or pasted it (otherwise the user is asked for it). `method`: how (web form,
    signed paper…). `obtained_at`: when (ISO date/time; default now)."""
    ctx = runtime.context
    try:
        kind = consents.parse_consent_type(consent_type)
        when = consents.parse_consent_time(obtained_at) if obtained_at else datetime.now(UTC)
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, contact)

        def check(words: str) -> None:
            """Built (and checked) exactly as it will be stored, without storing it."""
            consents.new_consent(
                ctx.actor,
                workspace_id=found.workspace_id,
                contact_id=found.id,
                phone_e164=found.phone_e164,
                consent_type=kind,
                source=source,
                wording=words,
                method=method or DEFAULT_METHOD,
                obtained_at=when,
                now=datetime.now(UTC),
            )

        check("-")  # everything but the wording, before asking the user for it
        users = await users_wording(ctx, wording)
        if users is None:
            return NO_WORDING
        check(users)
    except KloseError as exc:
        return f"Consent not recorded: {exc}"
    return Proposal(
        question=(
            f"Record {kind.label} for {label(found)}, attested by you?\n\n"
            f"- Source: {md_escape(source)}\n- Method: {md_escape(method or DEFAULT_METHOD)}\n"
            f"- Given: {when:%Y-%m-%d %H:%M %Z}\n- Wording they agreed to: “{md_escape(users)}”"
        ),
        payload={
            "contact_id": str(found.id),
            "consent_type": kind.value,
            "source": source,
            "wording": users,
            "method": method or DEFAULT_METHOD,
            "obtained_at": when.isoformat(),
        },
        declined="Consent not recorded: you declined.",
    )
