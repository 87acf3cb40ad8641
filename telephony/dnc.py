"""Do-not-call lists: one per workspace, and one platform-wide (admins only).

`add_to_dnc` is what the voice agent calls when a callee says "stop calling me" or
presses the opt-out key: the number goes on the workspace's list and every active
consent for it is revoked, in the caller's transaction. Commit at once: an opt-out is
honoured immediately. Adding a number that is already listed changes nothing and
returns the existing entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit
from accounts.models import Role
from accounts.phones import mask
from accounts.service import Actor
from core.errors import PermissionDenied
from telephony.access import TelephonyInputError
from telephony.consent import revoke_for_number
from telephony.models import ConsentRecord, DncEntry, DncSource
from telephony.numbers import DEFAULT_REGION, MAX_PHONE_CHARS, format_phone

MAX_REASON_CHARS = 1000
MAX_LIST = 1000

DNC_ADDED = "dnc_added"  # audit actions
DNC_REMOVED = "dnc_removed"
MANAGERS_ONLY = (
    "Only a manager can take a number off the do-not-call list: ask your manager. "
    "The number stays on the list and will not be called."
)


class DncError(TelephonyInputError):
    pass


def normalise_dnc_number(raw: str, *, default_region: str | None = DEFAULT_REGION) -> str:
    """E.164 of a number to block. Laxer than a contact's number: anything that could
    be a real number may be blocked (premium-rate, no known time zone...)."""
    text = (raw or "").strip()
    if not text:
        raise DncError("A phone number is required.")
    if len(text) > MAX_PHONE_CHARS:
        raise DncError(f"{text[:20]}… is too long to be a phone number.")
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException:
        raise DncError(
            f"{text!r} is not a phone number: use the international format, e.g. +1 415 555 2671."
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise DncError(f"{text!r} is not a possible phone number: check its digits.")
    number.extension = None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _workspace_for(actor: Actor, workspace_id: uuid.UUID | None) -> uuid.UUID:
    if workspace_id is None or workspace_id == actor.workspace_id:
        return actor.workspace_id
    if actor.role is not Role.ADMIN:
        raise PermissionDenied("You can only change your own workspace's do-not-call list.")
    return workspace_id


def _dnc_source(source: DncSource | str) -> DncSource:
    """The source as a DncSource; DncError naming the known ones if it is not one."""
    try:
        return DncSource(source)
    except ValueError:
        known = ", ".join(s.value for s in DncSource)
        raise DncError(f"Unknown do-not-call source {source!r}: use one of {known}.") from None


def _dnc_reason(reason: str) -> str:
    """The reason, stripped; DncError when longer than MAX_REASON_CHARS."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_CHARS:
        raise DncError(f"The reason has at most {MAX_REASON_CHARS} characters.")
    return reason


def _target_list(actor: Actor, platform: bool, workspace_id: uuid.UUID | None) -> uuid.UUID | None:
    """The workspace whose list is changed, or None for the platform list (admins only).

    Raises PermissionDenied when the actor may not change that list."""
    if platform:
        if actor.role is not Role.ADMIN:
            raise PermissionDenied("Only a platform admin can change the platform-wide list.")
        return None
    return _workspace_for(actor, workspace_id)


async def _insert_entry(
    session: AsyncSession,
    actor: Actor,
    target_ws: uuid.UUID | None,
    e164: str,
    *,
    reason: str,
    kind: DncSource,
    reference: str | None,
    when: datetime,
) -> uuid.UUID | None:
    """Insert the entry unless the number is already on that list (ON CONFLICT DO
    NOTHING against the list's unique index). Returns the new id, or None if listed."""
    values = {
        "workspace_id": target_ws,
        "phone_e164": e164,
        "reason": reason,
        "source": kind.value,
        "reference": reference.strip()[:200] or None if reference else None,
        "added_at": when,
        "added_by": actor.user_id,
    }
    statement = insert(DncEntry).values(**values)
    if target_ws is None:
        statement = statement.on_conflict_do_nothing(
            index_elements=["phone_e164"], index_where=DncEntry.workspace_id.is_(None)
        )
    else:
        statement = statement.on_conflict_do_nothing(
            index_elements=["workspace_id", "phone_e164"],
            index_where=DncEntry.workspace_id.is_not(None),
        )
    new_id: uuid.UUID | None = await session.scalar(statement.returning(DncEntry.id))
    return new_id


async def _audit_added(
    session: AsyncSession,
    actor: Actor,
    target_ws: uuid.UUID | None,
    e164: str,
    *,
    kind: DncSource,
    reason: str,
    reference: str | None,
    new_id: uuid.UUID | None,
    revoked: Sequence[ConsentRecord],
) -> None:
    """Audit a DNC_ADDED when the entry is new or consents were revoked; else nothing."""
    if new_id is None and not revoked:
        return
    await audit.record(
        session,
        DNC_ADDED,
        actor_id=actor.user_id,
        actor_label=actor.email,
        workspace_id=target_ws,
        target=mask(e164),
        detail={
            "platform": target_ws is None,
            "source": kind.value,
            "reason": reason,
            "reference": reference,
            "already_listed": new_id is None,
            "consents_revoked": [str(r.id) for r in revoked],
        },
    )


async def _load_entry(session: AsyncSession, target_ws: uuid.UUID | None, e164: str) -> DncEntry:
    """The list's entry for the number, re-read from the database (populate_existing)."""
    entry = await session.scalar(
        select(DncEntry)
        .where(
            DncEntry.phone_e164 == e164,
            DncEntry.workspace_id.is_(None)
            if target_ws is None
            else DncEntry.workspace_id == target_ws,
        )
        .execution_options(populate_existing=True)
    )
    assert entry is not None  # inserted above, or already there
    return entry


async def add_to_dnc(
    session: AsyncSession,
    actor: Actor,
    phone: str,
    *,
    reason: str,
    source: DncSource | str = DncSource.MANUAL,
    platform: bool = False,
    workspace_id: uuid.UUID | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> DncEntry:
    """Put a number on the actor's workspace list (or, for an admin, the platform list).

    The voice agent, on an opt-out: `add_to_dnc(session, rep, callee,
    reason="said 'stop calling me'", source=DncSource.OPT_OUT_CALL, reference=call_sid)`
    with the rep who placed the call as the actor, then commit.

    A workspace entry also revokes every active consent for the number in that
    workspace. Audited. The caller commits.
    """
    e164 = normalise_dnc_number(phone)
    kind = _dnc_source(source)
    reason = _dnc_reason(reason)
    when = now or datetime.now(UTC)
    target_ws = _target_list(actor, platform, workspace_id)
    new_id = await _insert_entry(
        session, actor, target_ws, e164, reason=reason, kind=kind, reference=reference, when=when
    )
    revoked: Sequence[ConsentRecord] = []
    if target_ws is not None:
        revoked = await revoke_for_number(
            session,
            workspace_id=target_ws,
            phone_e164=e164,
            how=f"do-not-call ({kind.label})" + (f": {reason}" if reason else ""),
            at=when,
            recorded_by=actor.user_id,
        )
    await _audit_added(
        session,
        actor,
        target_ws,
        e164,
        kind=kind,
        reason=reason,
        reference=reference,
        new_id=new_id,
        revoked=revoked,
    )
    if new_id is not None and target_ws is not None:
        from telephony.outbound_events import opted_out  # it builds on the call service

        await opted_out(
            session, target_ws, e164, source=kind.value, reference=reference, entry_id=new_id
        )
    return await _load_entry(session, target_ws, e164)


async def dnc_hits(
    session: AsyncSession, workspace_id: uuid.UUID, phone_e164: str
) -> list[DncEntry]:
    """The workspace's and the platform's entries for a number (platform first)."""
    result = await session.scalars(
        select(DncEntry)
        .where(
            DncEntry.phone_e164 == phone_e164,
            or_(DncEntry.workspace_id.is_(None), DncEntry.workspace_id == workspace_id),
        )
        .order_by(DncEntry.workspace_id.is_not(None), DncEntry.added_at)
    )
    return list(result.all())


async def dnc_numbers(
    session: AsyncSession, workspace_id: uuid.UUID, numbers: list[str]
) -> dict[str, list[DncEntry]]:
    """For many numbers at once: number -> its workspace and platform entries."""
    if not numbers:
        return {}
    result = await session.scalars(
        select(DncEntry).where(
            DncEntry.phone_e164.in_(numbers),
            or_(DncEntry.workspace_id.is_(None), DncEntry.workspace_id == workspace_id),
        )
    )
    hits: dict[str, list[DncEntry]] = {}
    for entry in result.all():
        hits.setdefault(entry.phone_e164, []).append(entry)
    return hits


async def is_on_dnc(session: AsyncSession, workspace_id: uuid.UUID, phone: str) -> bool:
    return bool(await dnc_hits(session, workspace_id, normalise_dnc_number(phone)))


async def list_dnc(
    session: AsyncSession,
    actor: Actor,
    *,
    platform: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[DncEntry]:
    """The actor's workspace list, newest first; the platform list for admins only."""
    if platform and actor.role is not Role.ADMIN:
        raise PermissionDenied("Only a platform admin can see the platform-wide list.")
    where = (
        DncEntry.workspace_id.is_(None) if platform else DncEntry.workspace_id == actor.workspace_id
    )
    result = await session.scalars(
        select(DncEntry)
        .where(where)
        .order_by(DncEntry.added_at.desc(), DncEntry.id.desc())
        .limit(max(1, min(limit, MAX_LIST)))
        .offset(max(0, offset))
    )
    return list(result.all())


async def remove_from_dnc(
    session: AsyncSession,
    actor: Actor,
    phone: str,
    *,
    reason: str,
    default_region: str | None = DEFAULT_REGION,
    now: datetime | None = None,
) -> DncEntry:
    """Take a number off the actor's workspace list: managers (and admins) only, with a
    reason (PermissionDenied for a rep, DncError without a reason or when the number
    is not listed). The entry is deleted and the audit log keeps who removed it, when,
    why, and what the entry said. The platform list is never changed here; consent
    revoked when the number was added stays revoked. The caller commits."""
    if actor.role not in (Role.MANAGER, Role.ADMIN):
        raise PermissionDenied(MANAGERS_ONLY)
    why = " ".join((reason or "").split())
    if not why:
        raise DncError("Say why the number may be called again: a reason is required.")
    if len(why) > MAX_REASON_CHARS:
        raise DncError(f"The reason has at most {MAX_REASON_CHARS} characters.")
    e164 = normalise_dnc_number(phone, default_region=default_region)
    entry = await session.scalar(
        select(DncEntry)
        .where(DncEntry.workspace_id == actor.workspace_id, DncEntry.phone_e164 == e164)
        .with_for_update()
    )
    if entry is None:
        raise DncError(f"{format_phone(e164)} is not on this workspace's do-not-call list.")
    await session.execute(delete(DncEntry).where(DncEntry.id == entry.id))
    await audit.record(
        session,
        DNC_REMOVED,
        actor_id=actor.user_id,
        actor_label=actor.email,
        workspace_id=actor.workspace_id,
        target=mask(e164),
        detail={
            "reason": why,
            "removed_at": (now or datetime.now(UTC)).isoformat(),
            "entry": {
                "source": entry.source,
                "reason": entry.reason,
                "reference": entry.reference,
                "added_at": entry.added_at.isoformat(),
                "added_by": str(entry.added_by) if entry.added_by else None,
            },
        },
    )
    return entry
