"""Calls for the multi-process tests: placed for real (gate, hold) on a carrier that
dials nobody, so that the test plays Twilio; and what a call's settlement left."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from accounts.models import Role
from accounts.service import Actor
from billing import ledger
from billing.models import LedgerEntry
from core.db import Database
from telephony import calls
from telephony.models import Call, CallCallback
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.twilio import PlacedCall
from tests.accounts.helpers import make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.telephony.helpers import NOON_NY, add_contact, fund


class Silent:
    """A carrier that takes the call and dials nobody: the test plays Twilio."""

    live = False
    label = "silent"

    def __init__(self) -> None:
        self.sids: set[str] = set()  # the calls this process's dial asked it for

    async def create_call(self, req: object) -> PlacedCall:
        sid = "CA" + uuid.uuid4().hex
        self.sids.add(sid)
        return PlacedCall(sid=sid, status="queued")

    async def fetch_call(self, sid: str) -> dict[str, object]:
        return {"status": "in-progress"}

    async def hangup(self, sid: str) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def twilio_for(public: str) -> Telephony:
    return Telephony(
        provider=Silent(),
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=public,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )


async def placed_call(
    db: Database, public: str, credits: int = 100, *, by: Actor | None = None
) -> tuple[Call, Telephony]:
    """A call placed by `by` (else a new rep with `credits` credits) to a new contact."""
    if by is None:
        by = (await make_member(db, Role.REP)).actor
        await fund(db, by.workspace_id, credits)
    rep = by
    contact = await add_contact(db, rep)
    phone = twilio_for(public)
    call = await calls.place_call(
        db, rep, contact.id, phone, purpose="the spring offer", now=NOON_NY
    )
    # Dialled here, on the silent carrier, with the gate judged at NOON_NY — not by
    # the worker's dispatcher (its own carrier, the wall clock), whose carrier would
    # then hold a record of the call that the sweep asks about.
    assert isinstance(phone.provider, Silent)
    assert call.twilio_sid in phone.provider.sids, "another process dialled the call"
    return call, phone


async def settlement(db: Database, call: Call) -> tuple[Call, int, int, list[int], list[str]]:
    """The call now, the workspace's balance and held credits, its call debits, and
    the results its status callbacks were stored with."""
    async with db.session() as session:
        fresh = await session.get(Call, call.id, populate_existing=True)
        balance = await ledger.get_balance(session, call.workspace_id)
        debits = list(
            (
                await session.scalars(
                    select(LedgerEntry.amount_mc).where(
                        LedgerEntry.idempotency_key.like(f"call:{call.id}%")
                    )
                )
            ).all()
        )
        results = list(
            (
                await session.scalars(
                    select(CallCallback.result)
                    .where(CallCallback.call_sid == call.twilio_sid, CallCallback.kind == "status")
                    .order_by(CallCallback.id)
                )
            ).all()
        )
    assert fresh is not None
    return fresh, balance.balance_mc, balance.held_mc, debits, results
