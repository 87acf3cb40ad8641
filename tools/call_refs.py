"""Finding the call a user means: a call id (or its first 8 characters), a contact's
name or number (their latest call), or nothing (the user's latest call).

Only calls the actor may see are found; an ambiguous name or id prefix lists the
candidates and asks which one, never guesses."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.service import Actor
from core.errors import KloseError, NotFound
from core.markdown import md_escape
from telephony.access import visible_contacts
from telephony.models import Call, Contact
from telephony.numbers import InvalidPhone, format_phone, parse_phone
from tools import about

_HEX = re.compile(r"^[0-9a-f]{8}(?:-?[0-9a-f]{4}){0,3}(?:-?[0-9a-f]{12})?$")


class AmbiguousReference(KloseError):
    """More than one call or contact fits: the message lists them."""


async def _latest(session: AsyncSession, actor: Actor, *conditions: object) -> Call | None:
    found = await session.scalars(
        select(Call)
        .join(Contact, Contact.id == Call.contact_id)
        .where(visible_contacts(actor), *conditions)  # type: ignore[arg-type]
        .order_by(Call.created_at.desc())
        .limit(1)
    )
    return found.first()


async def resolve_call(session: AsyncSession, actor: Actor, ref: str | None) -> Call:
    """The call `ref` names, as described above. NotFound / AmbiguousReference. The
    call found is noted as what the running tool is about (tools.about)."""
    call = await _resolve_call(session, actor, ref)
    await about.note_call(session, call)
    return call


async def _resolve_call(session: AsyncSession, actor: Actor, ref: str | None) -> Call:
    text = (ref or "").strip().strip("#").lower()
    if not text or text in ("last", "latest", "my last call", "last call", "the last call"):
        call = await _latest(session, actor)
        if call is None:
            raise NotFound("You have no calls yet.")
        return call
    if _HEX.match(text):
        compact = text.replace("-", "")
        if len(compact) == 32:
            call = await _latest(session, actor, Call.id == uuid.UUID(compact))
            if call is None:
                raise NotFound(f"No call {text[:8]} that you can see.")
            return call
        rows = (
            await session.scalars(
                select(Call)
                .join(Contact, Contact.id == Call.contact_id)
                .where(
                    visible_contacts(actor),
                    cast(Call.id, String).like(f"{text[:8]}%"),
                )
                .limit(5)
            )
        ).all()
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise AmbiguousReference(f"Several calls start with {text[:8]}; give more of the id.")
        raise NotFound(f"No call {text[:8]} that you can see.")
    try:
        phone = parse_phone(text, default_region=actor.region).e164
    except InvalidPhone:
        phone = None
    if phone is not None:
        call = await _latest(session, actor, Contact.phone_e164 == phone)
        if call is None:
            raise NotFound(f"No calls to {format_phone(phone)} that you can see.")
        return call
    like = f"%{text.replace('%', '').replace('_', '')}%"
    contacts = (
        await session.scalars(
            select(Contact)
            .where(visible_contacts(actor), Contact.name.ilike(like))
            .order_by(Contact.name)
            .limit(6)
        )
    ).all()
    if not contacts:
        raise NotFound(f"No contact matching '{md_escape(ref)}' that you can see.")
    if len(contacts) > 1:
        names = "; ".join(
            f"{md_escape(c.name)}{f' ({md_escape(c.company)})' if c.company else ''}, "
            f"{format_phone(c.phone_e164)}"
            for c in contacts
        )
        raise AmbiguousReference(f"Which one do you mean: {names}?")
    call = await _latest(session, actor, Call.contact_id == contacts[0].id)
    if call is None:
        raise NotFound(f"{md_escape(contacts[0].name)} has not been called yet.")
    return call
