"""Contacts: the people a rep may call. One contact per number per workspace.

Every function takes the session (the caller commits) and the acting user; reps
manage their own contacts, managers the workspace's (telephony/access.py). Consent
lives in telephony/consent.py, CSV import in telephony/importing.py.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role, User
from accounts.service import Actor
from core.errors import NotFound, PermissionDenied
from telephony.access import TelephonyInputError, can_see, get_contact, visible_contacts
from telephony.models import Contact
from telephony.numbers import DEFAULT_REGION, InvalidPhone, PhoneInfo, format_phone, parse_phone

MAX_NAME_CHARS = 200
MAX_COMPANY_CHARS = 200
MAX_NOTES_CHARS = 5000
MAX_LIST = 500

__all__ = [
    "ContactError",
    "DuplicateContact",
    "add_contact",
    "find_contact_by_phone",
    "find_contacts",
    "get_contact",
    "list_contacts",
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
            Contact.workspace_id == workspace_id, Contact.phone_e164 == phone_e164
        )
    )


async def existing_contacts(
    session: AsyncSession, workspace_id: uuid.UUID, numbers: list[str]
) -> dict[str, Contact]:
    """number -> the workspace's contact with it, for the numbers that have one."""
    if not numbers:
        return {}
    result = await session.scalars(
        select(Contact).where(Contact.workspace_id == workspace_id, Contact.phone_e164.in_(numbers))
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
