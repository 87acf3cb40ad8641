"""Consent records (PROVIDERS.md, "TCPA and AI calls"): the time, the source, the exact
wording, the number, the method, who attested it, and any revocation.

A record is evidence: the database lets it gain a revocation (once) and nothing else.
Revocation by any reasonable means is honoured: `revoke_consent` ends every active
consent for the contact's number; an opt-out added to the do-not-call list does the
same (telephony/dnc.py).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit
from accounts.service import Actor
from telephony.access import TelephonyInputError, get_contact
from telephony.models import ConsentRecord, ConsentType

MAX_SOURCE_CHARS = 500
MAX_WORDING_CHARS = 10_000
MAX_METHOD_CHARS = 100
MAX_HOW_CHARS = 500
# A consent time a little ahead of our clock is clock skew; further ahead, a mistake.
CLOCK_SKEW = timedelta(minutes=5)

CONSENT_REVOKED = "consent_revoked"  # audit action

# Spellings accepted for each type (case, spaces and hyphens do not matter).
_TYPE_ALIASES: dict[str, ConsentType] = {
    "existing_relationship": ConsentType.EXISTING_RELATIONSHIP,
    "existing_business_relationship": ConsentType.EXISTING_RELATIONSHIP,
    "ebr": ConsentType.EXISTING_RELATIONSHIP,
    "relationship": ConsentType.EXISTING_RELATIONSHIP,
    "express": ConsentType.EXPRESS,
    "prior_express": ConsentType.EXPRESS,
    "prior_express_consent": ConsentType.EXPRESS,
    "express_consent": ConsentType.EXPRESS,
    "pec": ConsentType.EXPRESS,
    "express_written": ConsentType.EXPRESS_WRITTEN,
    "prior_express_written": ConsentType.EXPRESS_WRITTEN,
    "prior_express_written_consent": ConsentType.EXPRESS_WRITTEN,
    "express_written_consent": ConsentType.EXPRESS_WRITTEN,
    "written": ConsentType.EXPRESS_WRITTEN,
    "pewc": ConsentType.EXPRESS_WRITTEN,
}


class ConsentError(TelephonyInputError):
    pass


def parse_consent_type(raw: str | ConsentType) -> ConsentType:
    """'Express written', 'PEWC', 'express_written' -> ConsentType.EXPRESS_WRITTEN."""
    if isinstance(raw, ConsentType):
        return raw
    key = re.sub(r"[\s\-]+", "_", (raw or "").strip().lower())
    if key in _TYPE_ALIASES:
        return _TYPE_ALIASES[key]
    known = ", ".join(t.value for t in ConsentType)
    if not key:
        raise ConsentError(f"A consent needs a type: one of {known}.")
    raise ConsentError(f"Unknown consent type {raw!r}: use one of {known}.")


def parse_consent_time(raw: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC."""
    text = (raw or "").strip()
    if not text:
        raise ConsentError("A consent needs the time it was given.")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConsentError(
            f"{text!r} is not a date or time: use ISO 8601, e.g. 2026-03-01 or "
            "2026-03-01T14:30:00-05:00."
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _required(value: str | None, what: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ConsentError(f"A consent needs its {what}.")
    if len(text) > limit:
        raise ConsentError(f"The consent's {what} has at most {limit} characters.")
    return text


def check_obtained_at(obtained_at: datetime, now: datetime) -> datetime:
    if obtained_at.tzinfo is None:
        raise ConsentError("The consent time needs a time zone (or UTC offset).")
    if obtained_at > now + CLOCK_SKEW:
        raise ConsentError("The consent time is in the future.")
    return obtained_at


def new_consent(
    actor: Actor,
    *,
    workspace_id: uuid.UUID,
    contact_id: uuid.UUID,
    phone_e164: str,
    consent_type: str | ConsentType,
    source: str,
    wording: str,
    method: str,
    obtained_at: datetime,
    now: datetime,
) -> ConsentRecord:
    """A checked, unsaved consent record (ConsentError names the first problem)."""
    return ConsentRecord(
        workspace_id=workspace_id,
        contact_id=contact_id,
        phone_e164=phone_e164,
        consent_type=parse_consent_type(consent_type).value,
        source=_required(source, "source", MAX_SOURCE_CHARS),
        wording=_required(wording, "exact wording", MAX_WORDING_CHARS),
        method=_required(method, "method", MAX_METHOD_CHARS),
        obtained_at=check_obtained_at(obtained_at, now),
        attested_by=actor.user_id,
    )


async def record_consent(
    session: AsyncSession,
    actor: Actor,
    contact_id: uuid.UUID,
    *,
    consent_type: str | ConsentType,
    source: str,
    wording: str,
    method: str,
    obtained_at: datetime,
    now: datetime | None = None,
) -> ConsentRecord:
    """Record consent for the contact's number, attested by the actor.

    `source`: where it was given (a form's URL, an event); `wording`: the exact text
    the person agreed to; `method`: how (web form, signed paper, recorded call...).
    """
    contact = await get_contact(session, actor, contact_id)
    record = new_consent(
        actor,
        workspace_id=contact.workspace_id,
        contact_id=contact.id,
        phone_e164=contact.phone_e164,
        consent_type=consent_type,
        source=source,
        wording=wording,
        method=method,
        obtained_at=obtained_at,
        now=now or datetime.now(UTC),
    )
    session.add(record)
    await session.flush()
    return record


async def consents_for(
    session: AsyncSession, actor: Actor, contact_id: uuid.UUID
) -> list[ConsentRecord]:
    """Every consent record of the contact, newest first (revoked ones too)."""
    contact = await get_contact(session, actor, contact_id)
    result = await session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.contact_id == contact.id)
        .order_by(ConsentRecord.obtained_at.desc(), ConsentRecord.created_at.desc())
    )
    return list(result.all())


async def revoke_for_number(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    phone_e164: str,
    how: str,
    at: datetime,
    recorded_by: uuid.UUID | None,
) -> list[ConsentRecord]:
    """Revoke every active consent for a number in a workspace; the revoked records."""
    how = _required(how, "revocation method", MAX_HOW_CHARS)
    active = await session.scalars(
        select(ConsentRecord)
        .where(
            ConsentRecord.workspace_id == workspace_id,
            ConsentRecord.phone_e164 == phone_e164,
            ConsentRecord.revoked_at.is_(None),
        )
        .with_for_update()
    )
    revoked = list(active.all())
    for record in revoked:
        record.revoked_at = at
        record.revoked_how = how
        record.revoked_recorded_by = recorded_by
    await session.flush()
    return revoked


async def revoke_consent(
    session: AsyncSession,
    actor: Actor,
    contact_id: uuid.UUID,
    *,
    how: str,
    at: datetime | None = None,
) -> list[ConsentRecord]:
    """The contact withdrew consent (`how`: 'asked by email', 'replied STOP'...): every
    active consent for their number ends at `at` (now by default). Audited."""
    contact = await get_contact(session, actor, contact_id)
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise ConsentError("The revocation time needs a time zone (or UTC offset).")
    revoked = await revoke_for_number(
        session,
        workspace_id=contact.workspace_id,
        phone_e164=contact.phone_e164,
        how=how,
        at=when,
        recorded_by=actor.user_id,
    )
    if revoked:
        await audit.record(
            session,
            CONSENT_REVOKED,
            actor_id=actor.user_id,
            actor_label=actor.email,
            workspace_id=contact.workspace_id,
            target=str(contact.id),
            detail={"how": how, "records": [str(r.id) for r in revoked]},
        )
    return revoked
