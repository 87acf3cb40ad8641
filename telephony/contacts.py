"""Contacts: the people a rep may call. One contact per number per workspace.

Every function takes the session (the caller commits) and the acting user; reps
manage their own contacts, managers the workspace's (telephony/access.py). Consent
lives in telephony/consent.py, CSV import in telephony/importing.py.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit
from accounts.models import Role, User
from accounts.phones import mask
from accounts.service import Actor
from core.errors import NotFound, PermissionDenied
from telephony.access import TelephonyInputError, can_see, get_contact, visible_contacts
from telephony.compliance import CONSENT_MAX_AGE
from telephony.models import Call, ConsentRecord, Contact
from telephony.numbers import DEFAULT_REGION, InvalidPhone, PhoneInfo, format_phone, parse_phone

MAX_NAME_CHARS = 200
MAX_COMPANY_CHARS = 200
MAX_NOTES_CHARS = 5000
MAX_LIST = 500

__all__ = [
    "ContactChanges",
    "ContactError",
    "ContactListing",
    "DuplicateContact",
    "add_contact",
    "check_changes",
    "delete_contact",
    "edit_contact",
    "export_rows",
    "find_contact_by_phone",
    "find_contacts",
    "get_contact",
    "list_contacts",
    "search_contacts",
]


class ContactError(TelephonyInputError):
    pass


class DuplicateContact(ContactError):
    pass


def clean_name(raw: str | None) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise ContactError("A contact needs a name.")
    if len(name) > MAX_NAME_CHARS:
        raise ContactError(f"A name has at most {MAX_NAME_CHARS} characters.")
    return name


def clean_company(raw: str | None) -> str | None:
    company = " ".join((raw or "").split())
    if len(company) > MAX_COMPANY_CHARS:
        raise ContactError(f"A company name has at most {MAX_COMPANY_CHARS} characters.")
    return company or None


def clean_notes(raw: str | None) -> str:
    notes = (raw or "").strip()
    if len(notes) > MAX_NOTES_CHARS:
        raise ContactError(f"Notes have at most {MAX_NOTES_CHARS} characters.")
    return notes


async def resolve_owner(
    session: AsyncSession, actor: Actor, owner_id: uuid.UUID | None
) -> tuple[uuid.UUID, uuid.UUID]:
    """(owner id, workspace id) of a new contact: the actor, or a member a manager names."""
    if owner_id is None or owner_id == actor.user_id:
        return actor.user_id, actor.workspace_id
    if actor.role is Role.REP:
        raise PermissionDenied("A rep can only add contacts of their own.")
    user = await session.get(User, owner_id)
    if (
        user is None
        or user.status != "active"
        or (actor.role is not Role.ADMIN and user.workspace_id != actor.workspace_id)
    ):
        raise NotFound("No such member in this workspace.")
    return user.id, user.workspace_id


async def existing_contact(
    session: AsyncSession, workspace_id: uuid.UUID, phone_e164: str
) -> Contact | None:
    return await session.scalar(
        select(Contact).where(
            Contact.workspace_id == workspace_id,
            Contact.phone_e164 == phone_e164,
            Contact.deleted_at.is_(None),
        )
    )


async def existing_contacts(
    session: AsyncSession, workspace_id: uuid.UUID, numbers: list[str]
) -> dict[str, Contact]:
    """number -> the workspace's contact with it, for the numbers that have one."""
    if not numbers:
        return {}
    result = await session.scalars(
        select(Contact).where(
            Contact.workspace_id == workspace_id,
            Contact.phone_e164.in_(numbers),
            Contact.deleted_at.is_(None),
        )
    )
    return {c.phone_e164: c for c in result.all()}


def duplicate_message(actor: Actor, found: Contact) -> str:
    number = format_phone(found.phone_e164)
    if can_see(actor, found):
        return f"{number} is already a contact: {found.name}."
    return f"{number} is already a contact of another rep in this workspace."


async def insert_contact(
    session: AsyncSession,
    actor: Actor,
    *,
    owner_id: uuid.UUID,
    workspace_id: uuid.UUID,
    name: str,
    phone: PhoneInfo,
    company: str | None,
    notes: str,
) -> Contact:
    """Insert a checked contact in a savepoint; DuplicateContact if the number is taken."""
    found = await existing_contact(session, workspace_id, phone.e164)
    if found is not None:
        raise DuplicateContact(duplicate_message(actor, found))
    contact = Contact(
        workspace_id=workspace_id,
        owner_id=owner_id,
        name=name,
        company=company,
        phone_e164=phone.e164,
        country=phone.country,
        time_zones=list(phone.time_zones),
        notes=notes,
        created_by=actor.user_id,
    )
    try:
        async with session.begin_nested():
            session.add(contact)
            await session.flush()
    except IntegrityError:  # added concurrently
        raise DuplicateContact(f"{phone.display} is already a contact in this workspace.") from None
    return contact


async def add_contact(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    phone: str,
    company: str | None = None,
    notes: str | None = None,
    owner_id: uuid.UUID | None = None,
    default_region: str = DEFAULT_REGION,
) -> Contact:
    """Add a contact owned by the actor (or, for a manager, by a member they name).

    Refused with a clear message and nothing stored: no name, an invalid or undialable
    number (ContactError), a number already in the workspace (DuplicateContact).
    """
    clean = clean_name(name)
    try:
        info = parse_phone(phone, default_region=default_region)
    except InvalidPhone as exc:
        raise ContactError(str(exc)) from None
    owner, workspace_id = await resolve_owner(session, actor, owner_id)
    return await insert_contact(
        session,
        actor,
        owner_id=owner,
        workspace_id=workspace_id,
        name=clean,
        phone=info,
        company=clean_company(company),
        notes=clean_notes(notes),
    )


async def list_contacts(
    session: AsyncSession,
    actor: Actor,
    *,
    owner_id: uuid.UUID | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Contact]:
    """The contacts the actor may see, by name; optionally one owner's only."""
    query = select(Contact).where(visible_contacts(actor))
    if owner_id is not None:
        query = query.where(Contact.owner_id == owner_id)
    result = await session.scalars(
        query.order_by(Contact.name, Contact.id)
        .limit(max(1, min(limit, MAX_LIST)))
        .offset(max(0, offset))
    )
    return list(result.all())


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


async def find_contacts(
    session: AsyncSession, actor: Actor, query: str, *, limit: int = 20
) -> list[Contact]:
    """Visible contacts whose name or company contains `query`, or whose number contains
    its digits (at least 4 of them): 'dana', 'Acme', '555 0123'."""
    text = " ".join((query or "").split())
    if not text:
        return []
    conditions = [Contact.name.ilike(_like(text)), Contact.company.ilike(_like(text))]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 4:
        conditions.append(Contact.phone_e164.like(_like(digits)))
    result = await session.scalars(
        select(Contact)
        .where(visible_contacts(actor), or_(*conditions))
        .order_by(Contact.name, Contact.id)
        .limit(max(1, min(limit, MAX_LIST)))
    )
    return list(result.all())


async def find_contact_by_phone(
    session: AsyncSession, actor: Actor, phone: str, *, default_region: str = DEFAULT_REGION
) -> Contact | None:
    """The visible contact with this number, if any (the number is normalised first)."""
    try:
        e164 = parse_phone(phone, default_region=default_region).e164
    except InvalidPhone as exc:
        raise ContactError(str(exc)) from None
    return await session.scalar(
        select(Contact)
        .where(visible_contacts(actor), Contact.phone_e164 == e164)
        .order_by(Contact.created_at)
        .limit(1)
    )


# --- finding, editing and deleting (issue 18) -----------------------------------------

CONSENT_STATES = ("granted", "none", "revoked")
CALLED_STATES = ("never", "called")

CONTACT_EDITED = "contact_edited"  # audit actions
CONTACT_DELETED = "contact_deleted"


@dataclass(frozen=True)
class ContactListing:
    """A contact with what a rep filters on: its consent state and its last call.

    `consent`: "granted" (an active consent for its number), "revoked" (consent was
    given and withdrawn, none active), "none" (never recorded, or lapsed)."""

    contact: Contact
    consent: str
    last_call_at: datetime | None
    last_call_status: str | None
    calls: int


def _active_consent(now: datetime) -> ColumnElement[bool]:
    """Consent records in force for the row's contact and its current number."""
    lapses = [
        and_(ConsentRecord.consent_type == kind.value, ConsentRecord.obtained_at < now - age)
        for kind, age in CONSENT_MAX_AGE.items()
    ]
    return and_(
        ConsentRecord.contact_id == Contact.id,
        ConsentRecord.phone_e164 == Contact.phone_e164,
        ConsentRecord.revoked_at.is_(None),
        *[not_(lapsed) for lapsed in lapses],
    )


def _check_choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    text = (value or "").strip().lower()
    if not text or text in ("any", "all"):
        return None
    if text not in allowed:
        raise ContactError(f"Unknown {what} {value!r}: use one of {', '.join(allowed)}.")
    return text


async def search_contacts(
    session: AsyncSession,
    actor: Actor,
    *,
    query: str | None = None,
    consent: str | None = None,
    called: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[ContactListing]:
    """Visible contacts (never another workspace's, never a deleted one), by name,
    filtered by name/company text, consent state (`CONSENT_STATES`) and whether they
    were ever called (`CALLED_STATES`). ContactError for an unknown filter value."""
    consent_state = _check_choice(consent, CONSENT_STATES, "consent state")
    called_state = _check_choice(called, CALLED_STATES, "call filter")
    when = now or datetime.now(UTC)
    active = exists().where(_active_consent(when))
    any_consent = exists().where(
        ConsentRecord.contact_id == Contact.id, ConsentRecord.phone_e164 == Contact.phone_e164
    )
    revoked = exists().where(
        ConsentRecord.contact_id == Contact.id,
        ConsentRecord.phone_e164 == Contact.phone_e164,
        ConsentRecord.revoked_at.is_not(None),
    )
    calls = (
        select(
            Call.contact_id.label("contact_id"),
            func.count().label("calls"),
            func.max(Call.created_at).label("last_at"),
        )
        .group_by(Call.contact_id)
        .subquery()
    )
    state = case((active, "granted"), (revoked, "revoked"), else_="none")
    statement = (
        select(Contact, state, calls.c.last_at, calls.c.calls)
        .outerjoin(calls, calls.c.contact_id == Contact.id)
        .where(visible_contacts(actor))
    )
    text = " ".join((query or "").split())
    if text:
        statement = statement.where(
            or_(Contact.name.ilike(_like(text)), Contact.company.ilike(_like(text)))
        )
    if consent_state == "granted":
        statement = statement.where(active)
    elif consent_state == "revoked":
        statement = statement.where(not_(active), revoked)
    elif consent_state == "none":
        statement = statement.where(not_(active), not_(and_(any_consent, revoked)))
    if called_state == "never":
        statement = statement.where(calls.c.calls.is_(None))
    elif called_state == "called":
        statement = statement.where(calls.c.calls.is_not(None))
    rows = (
        await session.execute(
            statement.order_by(Contact.name, Contact.id)
            .limit(max(1, min(limit, MAX_LIST)))
            .offset(max(0, offset))
        )
    ).all()
    last_status = await _last_statuses(session, [row[0].id for row in rows if row[2] is not None])
    return [
        ContactListing(contact, str(consent_of), last_at, last_status.get(contact.id), count or 0)
        for contact, consent_of, last_at, count in rows
    ]


async def _last_statuses(
    session: AsyncSession, contact_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not contact_ids:
        return {}
    result = await session.execute(
        select(Call.contact_id, Call.status)
        .where(Call.contact_id.in_(contact_ids))
        .distinct(Call.contact_id)
        .order_by(Call.contact_id, Call.created_at.desc())
    )
    return {contact_id: status for contact_id, status in result.all()}


@dataclass(frozen=True)
class ContactChanges:
    """Checked new values for a contact (None: unchanged)."""

    name: str | None = None
    phone: PhoneInfo | None = None
    company: str | None = None
    clear_company: bool = False
    notes: str | None = None

    def describe(self, contact: Contact) -> list[tuple[str, str, str]]:
        """(field, old, new) for every value that would change."""
        changes: list[tuple[str, str, str]] = []
        if self.name is not None and self.name != contact.name:
            changes.append(("name", contact.name, self.name))
        if self.phone is not None and self.phone.e164 != contact.phone_e164:
            changes.append(("phone", contact.phone_e164, self.phone.e164))
        new_company = None if self.clear_company else self.company
        if (self.company is not None or self.clear_company) and new_company != contact.company:
            changes.append(("company", contact.company or "", new_company or ""))
        if self.notes is not None and self.notes != contact.notes:
            changes.append(("notes", contact.notes, self.notes))
        return changes


def check_changes(
    *,
    name: str | None = None,
    phone: str | None = None,
    company: str | None = None,
    notes: str | None = None,
    default_region: str = DEFAULT_REGION,
) -> ContactChanges:
    """The new values, checked as `add_contact` checks them (ContactError otherwise).
    An empty company ("") clears it; an empty name or number is refused."""
    new_phone: PhoneInfo | None = None
    if phone is not None:
        try:
            new_phone = parse_phone(phone, default_region=default_region)
        except InvalidPhone as exc:
            raise ContactError(str(exc)) from None
    clean_co = clean_company(company) if company is not None else None
    return ContactChanges(
        name=clean_name(name) if name is not None else None,
        phone=new_phone,
        company=clean_co,
        clear_company=company is not None and clean_co is None,
        notes=clean_notes(notes) if notes is not None else None,
    )


async def edit_contact(
    session: AsyncSession,
    actor: Actor,
    contact_id: uuid.UUID,
    changes: ContactChanges,
) -> tuple[Contact, list[tuple[str, str, str]]]:
    """Apply `changes` to a contact the actor may see (NotFound otherwise, and for a
    deleted one); the contact and what changed. A new number already in the workspace
    is refused (DuplicateContact). Audited with who and what. The caller commits.

    Consent is evidence for a number: a contact's consent does not follow it to a new
    number (the gate matches the number), so a new number needs consent again."""
    contact = await get_contact(session, actor, contact_id, for_update=True)
    changed = changes.describe(contact)
    if not changed:
        return contact, []
    if changes.phone is not None and changes.phone.e164 != contact.phone_e164:
        found = await existing_contact(session, contact.workspace_id, changes.phone.e164)
        if found is not None and found.id != contact.id:
            raise DuplicateContact(duplicate_message(actor, found))
        contact.phone_e164 = changes.phone.e164
        contact.country = changes.phone.country
        contact.time_zones = list(changes.phone.time_zones)
    if changes.name is not None:
        contact.name = changes.name
    if changes.company is not None or changes.clear_company:
        contact.company = None if changes.clear_company else changes.company
    if changes.notes is not None:
        contact.notes = changes.notes
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise DuplicateContact("That number is already a contact in this workspace.") from None
    await audit.record(
        session,
        CONTACT_EDITED,
        actor_id=actor.user_id,
        actor_label=actor.email,
        workspace_id=contact.workspace_id,
        target=str(contact.id),
        detail={"fields": [field for field, _, _ in changed]},
    )
    return contact, changed


async def delete_contact(
    session: AsyncSession,
    actor: Actor,
    contact_id: uuid.UUID,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> Contact:
    """Delete a contact the actor may see (NotFound otherwise): it is marked deleted,
    never removed, so its consent records, compliance decisions and calls stay on
    record as the law needs; nobody sees, edits or calls it again (telephony/access.py),
    and its number may be added again as a new contact. Audited. The caller commits."""
    contact = await get_contact(session, actor, contact_id, for_update=True)
    contact.deleted_at = now or datetime.now(UTC)
    contact.deleted_by = actor.user_id
    await session.flush()
    await audit.record(
        session,
        CONTACT_DELETED,
        actor_id=actor.user_id,
        actor_label=actor.email,
        workspace_id=contact.workspace_id,
        target=str(contact.id),
        detail={"reason": (reason or "").strip()[:1000], "phone": mask(contact.phone_e164)},
    )
    return contact


EXPORT_HEADER = ("name", "phone", "company", "notes", "consent", "last_call_at", "calls")


async def export_rows(
    session: AsyncSession, actor: Actor, *, limit: int = 100_000
) -> list[tuple[str | int | None, ...]]:
    """Every visible contact as an export row (EXPORT_HEADER order), by name. The
    caller writes them with core.csv_safe.write_csv (formula-safe)."""
    rows: list[tuple[str | int | None, ...]] = []
    while len(rows) < limit:
        batch = await search_contacts(session, actor, limit=MAX_LIST, offset=len(rows))
        rows += [
            (
                item.contact.name,
                item.contact.phone_e164,
                item.contact.company,
                item.contact.notes or None,
                item.consent,
                item.last_call_at.isoformat() if item.last_call_at else None,
                item.calls,
            )
            for item in batch
        ]
        if len(batch) < MAX_LIST:
            break
    return rows[:limit]
