"""Helpers for telephony tests: numbers in chosen area codes, funded workspaces,
contacts with consent, fixed times."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import phonenumbers

from accounts.service import Actor
from billing import ledger
from core.db import Database
from telephony import consent as consents
from telephony import contacts
from telephony.models import ConsentType, Contact

# Wednesday 18 November 2026, 17:00 UTC: 12:00 in New York, 09:00 in Los Angeles
# (standard time everywhere: DST ended on 1 November).
NOON_NY = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
CONSENT_AT = datetime(2026, 6, 1, 15, 30, tzinfo=UTC)
WORDING = (
    "By submitting this form I agree that Acme may call me at the number above, "
    "including with an AI voice, about its products. Consent is not a condition of purchase."
)


def number_in(area: str) -> str:
    """A valid, random number in a North American area code."""
    while True:
        candidate = f"+1{area}{random.randint(2000000, 9999999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


async def fund(db: Database, workspace_id: uuid.UUID, credits: float) -> None:
    async with db.session() as session:
        await ledger.grant(
            session,
            workspace_id,
            amount_mc=int(credits * 1000),
            idempotency_key=f"test:grant:{uuid.uuid4().hex}",
            source="test",
        )
        await session.commit()


async def add_contact(
    db: Database,
    actor: Actor,
    *,
    area: str = "415",
    phone: str | None = None,
    name: str = "Dana Lee",
    consent: ConsentType | None = ConsentType.EXPRESS_WRITTEN,
    consent_at: datetime = CONSENT_AT,
) -> Contact:
    async with db.session() as session:
        contact = await contacts.add_contact(
            session, actor, name=name, phone=phone or number_in(area), company="Acme"
        )
        if consent is not None:
            await consents.record_consent(
                session, actor, contact.id, consent_type=consent,
                source="https://acme.example/demo-request", wording=WORDING,
                method="web form", obtained_at=consent_at,
            )  # fmt: skip
        await session.commit()
        return contact
