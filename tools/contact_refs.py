"""Finding the contact a user means: a name (or part of it, or a company), a phone
number, or a contact id. Several matches → the user is asked which one. A name that
matches nobody is read as typed with a typo: the visible contact whose name (or first
name) is closest to it, if it is close enough ('Jordon Lee' → Jordan Lee)."""

from __future__ import annotations

import difflib
import re
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.service import Actor
from core.errors import NotFound
from core.markdown import Md, md_escape
from telephony.access import get_contact, visible_contacts
from telephony.contacts import find_contact_by_phone, find_contacts
from telephony.models import Contact
from telephony.numbers import format_phone
from tools import about
from tools.call_refs import AmbiguousReference

_PHONE_LIKE = re.compile(r"^[\s+().\-\d]{7,}$")
TYPO_CUTOFF = 0.8  # how alike (difflib ratio) a typed name and a contact's must be
TYPO_SCAN = 5000  # at most this many visible contacts are compared


def label(contact: Contact) -> Md:
    """Name (company), number: Markdown-safe (the name and company are escaped)."""
    company = f" ({md_escape(contact.company)})" if contact.company else ""
    return Md(f"{md_escape(contact.name)}{company}, {format_phone(contact.phone_e164)}")


async def resolve_contact(session: AsyncSession, actor: Actor, ref: str) -> Contact:
    """The contact `ref` names (see the module); noted as what the running tool is about
    (tools.about). NotFound / AmbiguousReference."""
    contact = await _resolve_contact(session, actor, ref)
    about.note_contact(contact)
    return contact


async def _resolve_contact(session: AsyncSession, actor: Actor, ref: str) -> Contact:
    text = " ".join((ref or "").split())
    if not text:
        raise NotFound("Which contact? Give a name or a phone number.")
    try:
        return await get_contact(session, actor, uuid.UUID(text))
    except ValueError:
        pass
    if _PHONE_LIKE.match(text):
        found = await find_contact_by_phone(session, actor, text, default_region=actor.region)
        if found is None:
            raise NotFound(f"No contact with the number {md_escape(text)} that you can see.")
        return found
    matches = await find_contacts(session, actor, text, limit=6)
    if not matches and not any(ch.isdigit() for ch in text):
        matches = await closest_contacts(session, actor, text)
    exact = [c for c in matches if c.name.lower() == text.lower()]
    if len(exact) == 1:
        return exact[0]
    if not matches:
        raise NotFound(
            f"No contact matching '{md_escape(text)}'. Add them first (name and number)."
        )
    if len(matches) > 1:
        options = "; ".join(label(c) for c in matches)
        raise AmbiguousReference(
            f"Several contacts match '{md_escape(text)}': {options}. Which one?"
        )
    return matches[0]


def _alike(typed: str, name: str) -> float:
    """How alike a typed name is to a contact's name, or to its first name alone."""
    whole = difflib.SequenceMatcher(None, typed, name).ratio()
    if " " in typed or " " not in name:
        return whole
    return max(whole, difflib.SequenceMatcher(None, typed, name.split()[0]).ratio())


async def closest_contacts(session: AsyncSession, actor: Actor, typed: str) -> list[Contact]:
    """The visible contacts whose name is closest to `typed` (case aside), when at least
    `TYPO_CUTOFF` alike; [] when none is. Several equally close: all of them (asked)."""
    wanted = " ".join(typed.lower().split())
    if len(wanted) < 3:
        return []
    rows = await session.scalars(
        select(Contact).where(visible_contacts(actor)).order_by(Contact.name).limit(TYPO_SCAN)
    )
    scored = [(_alike(wanted, c.name.lower()), c) for c in rows.all()]
    best = max((score for score, _ in scored), default=0.0)
    if best < TYPO_CUTOFF:
        return []
    return [c for score, c in scored if score == best][:6]
