"""Who may see which contacts (DESIGN.md §2), shared by every telephony service.

Reps see and manage their own contacts, managers every contact in their workspace,
platform admins every contact (`accounts.teams.can_see_member_data`). A contact the
actor may not see is reported as not found, never as forbidden: its existence is not
disclosed.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, true
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from accounts.service import Actor
from accounts.teams import can_see_member_data
from core.errors import KloseError, NotFound
from telephony.models import Contact


class TelephonyInputError(KloseError, ValueError):
    """Bad input to a telephony service: nothing was changed."""


def visible_contacts(actor: Actor, *, include_deleted: bool = False) -> ColumnElement[bool]:
    """A WHERE clause selecting the contacts `actor` may see; deleted ones only when
    `include_deleted` (their calls stay on record and visible, telephony/calls.py)."""
    if actor.role is Role.ADMIN:
        allowed: ColumnElement[bool] = true()
    elif actor.role is Role.MANAGER:
        allowed = Contact.workspace_id == actor.workspace_id
    else:
        allowed = and_(
            Contact.workspace_id == actor.workspace_id, Contact.owner_id == actor.user_id
        )
    return allowed if include_deleted else and_(allowed, Contact.deleted_at.is_(None))


def can_see(actor: Actor, contact: Contact) -> bool:
    """Whether `actor` may see the contact's data (deleted or not)."""
    return can_see_member_data(actor, contact.owner_id, contact.workspace_id)


async def get_contact(
    session: AsyncSession, actor: Actor, contact_id: uuid.UUID, *, for_update: bool = False
) -> Contact:
    """The contact, if `actor` may see it; NotFound otherwise."""
    contact = await session.get(
        Contact, contact_id, with_for_update=for_update, populate_existing=True
    )
    if contact is None or contact.deleted_at is not None or not can_see(actor, contact):
        raise NotFound("No such contact.")  # a deleted contact is never edited or called
    return contact
