"""Helpers for telephony tests: numbers in chosen area codes, funded workspaces,
contacts with consent, fixed times."""

from __future__ import annotations

import asyncio
import random
import secrets
import uuid
from datetime import UTC, datetime

import phonenumbers

from accounts.service import Actor
from billing import ledger
from core.db import Database
from telephony import consent as consents
from telephony import contacts
from telephony.models import Call, ConsentType, Contact
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.simulator.carrier import SimulatedCarrier
from telephony.twilio import CallRequest, PlacedCall
from tests.conftest import TWILIO_TEST_TOKEN

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
                session,
                actor,
                contact.id,
                consent_type=consent,
                source="https://acme.example/demo-request",
                wording=WORDING,
                method="web form",
                obtained_at=consent_at,
            )
        await session.commit()
        return contact


def number_callable_now(now: datetime | None = None) -> str:
    """A valid number whose every time zone is inside 09:00–19:00 right now, for tests
    that go through code using the real clock (the chat tools)."""
    from zoneinfo import ZoneInfo

    from telephony.numbers import phone_info

    when = now or datetime.now(UTC)
    candidates = [
        *(number_in(area) for area in ("212", "312", "303", "415", "907", "808", "671")),
        f"+44207946{random.randint(0, 999):03d}0"[:13],
        f"+6129{random.randint(1000000, 9999999)}",
    ]
    for candidate in candidates:
        zones = phone_info(candidate).time_zones
        if zones and all(9 <= when.astimezone(ZoneInfo(z)).hour < 19 for z in zones):
            return candidate
    raise AssertionError(f"no test number is inside calling hours at {when:%H:%M} UTC")


class Recorder:
    """A TelephonyProvider that accepts every call and dials nobody."""

    live = False
    label = "recorder"

    def __init__(self) -> None:
        self.requests: list[CallRequest] = []
        # What fetch_call answers for a sid (the carrier's own record); else 'queued'.
        self.records: dict[str, dict[str, object]] = {}

    async def create_call(self, req: CallRequest) -> PlacedCall:
        self.requests.append(req)
        return PlacedCall(sid="CA" + secrets.token_hex(16), status="queued")

    async def fetch_call(self, sid: str) -> dict[str, object]:
        return self.records.get(sid, {"sid": sid, "status": "queued"})

    async def hangup(self, sid: str) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def recording_telephony(recorder: Recorder, max_call_seconds: int = 600) -> Telephony:
    return Telephony(
        provider=recorder,
        auth_token="unused-here",
        from_e164=SIMULATED_FROM,
        public_base_url="http://127.0.0.1:9",
        max_call_seconds=max_call_seconds,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )


def simulated_telephony(public_base_url: str, *, seed: int) -> Telephony:
    """A `Telephony` over an unpaced, seeded `SimulatedCarrier` whose callbacks go to
    `public_base_url` (a live server); the caller closes it with `aclose()`."""
    return Telephony(
        provider=SimulatedCarrier(auth_token=TWILIO_TEST_TOKEN, pace_s=0, seed=seed),
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=public_base_url,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )


def carrier_of(telephony: Telephony) -> SimulatedCarrier:
    """The simulated carrier behind `telephony` (fails if it is another provider)."""
    assert isinstance(telephony.provider, SimulatedCarrier)
    return telephony.provider


async def settled_call(db: Database, call_id: uuid.UUID, timeout_s: float = 20.0) -> Call:
    """The call once its hold is settled (callbacks are applied by the server); fails
    after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        async with db.session() as session:
            call = await session.get(Call, call_id, populate_existing=True)
            assert call is not None
            if call.settled_at is not None:
                return call
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"call {call_id} not settled: status {call.status}")
        await asyncio.sleep(0.1)
