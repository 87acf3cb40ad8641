"""revoke_consent: a contact withdrew their consent to be called.

It writes, so it only proposes (tools.actions). Once confirmed every active consent
for the contact's number ends now, and the revocation is audited with who, when and
how it was withdrawn (telephony/consent.py): the records themselves are evidence and
stay, marked revoked. The contact can't be called until new consent is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain.tools import ToolRuntime
from sqlalchemy import select

from core.errors import KloseError
from core.markdown import md_escape
from telephony import consent as consents
from telephony.models import ConsentRecord, ConsentType
from tools.actions import Proposal, write_tool
from tools.contact_refs import label, resolve_contact
from tools.context import AgentContext
from tools.metering import done

DEFAULT_HOW = "withdrawn, as reported by the rep in chat"


async def _revoke(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, payload["contact_id"])
            revoked = await consents.revoke_consent(
                session, ctx.actor, found.id, how=payload["how"], at=datetime.now(UTC)
            )
            await session.commit()
    except KloseError as exc:
        return f"Consent not revoked: {exc}"
    if not revoked:
        return f"{label(found)} has no active consent: nothing to revoke."
    return done(
        f"Revoked {len(revoked)} consent record{'s' * (len(revoked) != 1)} of {label(found)}: "
        "they won't be called until new consent is recorded. The records are kept, "
        "marked revoked, and the change is in the audit log."
    )


@write_tool(_revoke, billable=True)
async def revoke_consent(
    runtime: ToolRuntime[AgentContext], contact: str, reason: str | None = None
) -> Proposal | str:
    """Record that a contact withdrew consent to be called, once the user confirms:
    every active consent for their number ends now. `contact`: name, number or id.
    `reason`: how they withdrew it (e.g. "asked by email")."""
    ctx = runtime.context
    how = " ".join((reason or "").split()) or DEFAULT_HOW
    if len(how) > consents.MAX_HOW_CHARS:
        return f"Consent not revoked: the reason has at most {consents.MAX_HOW_CHARS} characters."
    try:
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, contact)
            active = list(
                (
                    await session.scalars(
                        select(ConsentRecord).where(
                            ConsentRecord.workspace_id == found.workspace_id,
                            ConsentRecord.phone_e164 == found.phone_e164,
                            ConsentRecord.revoked_at.is_(None),
                        )
                    )
                ).all()
            )
    except KloseError as exc:
        return f"Consent not revoked: {exc}"
    if not active:
        return f"{label(found)} has no active consent on record: nothing to revoke."
    kinds = ", ".join(sorted({ConsentType(r.consent_type).label for r in active}))
    return Proposal(
        question=(
            f"Revoke the consent of {label(found)} ({kinds})? Reason: {md_escape(how)}. "
            "They won't be called until new consent is recorded."
        ),
        payload={"contact_id": str(found.id), "how": how},
        declined="Consent not revoked: you declined, so nothing changed.",
    )
