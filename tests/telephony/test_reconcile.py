"""Reconciliation settles a call whose final callback never came, from the carrier's
own record (telephony/callbacks.py `reconcile`).

Reconciliation sweeps every overdue call of the database, so this module has a database
of its own and a server on it: on the shared test database it would also settle every
call other tests left unsettled (thousands after the benches), and the test's own call
would wait behind them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from accounts.models import Role
from core.db import Database
from telephony import calls
from telephony.jobs import reconcile_calls
from telephony.models import Call
from telephony.provider import Telephony
from telephony.simulator.carrier import Plan
from tests.accounts.helpers import make_member
from tests.campaigns.helpers import private_database
from tests.conftest import serve_app

from .helpers import NOON_NY, add_contact, carrier_of, fund, settled_call, simulated_telephony

PURPOSE = "follow up on the spring pricing webinar"


@pytest.fixture(scope="module")
def _private(pg_server_url: str) -> Iterator[Database]:
    with private_database(pg_server_url, "klosesales_reconcile") as database:
        yield database


@pytest.fixture(scope="module")
def _server(_private: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data: Path = tmp_path_factory.mktemp("reconcile-serve")
    with serve_app(_private, data) as base:
        yield base


@pytest.fixture
async def db(_private: Database) -> AsyncIterator[Database]:
    yield _private
    await _private.dispose()


@pytest.fixture
async def telephony(_server: str) -> AsyncIterator[Telephony]:
    phone = simulated_telephony(_server, seed=7)
    yield phone
    await phone.aclose()


async def test_a_lost_final_callback_is_settled_by_reconciliation(db, telephony):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    carrier_of(telephony).plan_next(contact.phone_e164, Plan(persona="interested", drop_final=True))
    call = await calls.place_call(
        db, rep.actor, contact.id, telephony, purpose=PURPOSE, now=NOON_NY
    )
    sim = await carrier_of(telephony).wait(call.twilio_sid or "")
    await asyncio.sleep(0.3)
    async with db.session() as session:
        still = await session.get(Call, call.id)
        assert still is not None and still.settled_at is None and still.status == "in-progress"
    later = call.created_at + timedelta(hours=1)
    done = await reconcile_calls(db, telephony, now=later)
    assert [d.call_id for d in done if d.call_id == call.id] == [call.id]
    settled = await settled_call(db, call.id, timeout_s=1)
    assert (settled.status, settled.duration_s) == ("completed", sim.duration_s)
    assert settled.cost_mc == (sim.duration_s or 0) * 1000
    # A second round finds nothing left to do.
    again = await reconcile_calls(db, telephony, now=later)
    assert call.id not in [d.call_id for d in again]
