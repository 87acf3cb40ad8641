"""Helpers for purchase tests: a member to buy, a checkout, signed webhook posts."""

from __future__ import annotations

import time
from typing import Any

import httpx

from accounts.models import Role
from accounts.service import Actor
from billing import ledger, purchases
from billing.models import PaddleTransaction
from billing.paddle import events
from billing.paddle.signature import sign
from billing.paddle.simulated import SimulatedPaddle
from core.db import Database
from tests.conftest import PADDLE_TEST_SECRET
from tests.web import InProcess


async def new_member(db: Database, role: Role = Role.MANAGER) -> Actor:
    from tests.accounts.helpers import make_member

    return (await make_member(db, role)).actor


async def checkout(
    db: Database,
    actor: Actor,
    package: str = "starter",
    *,
    country: str = "US",
    postal_code: str | None = "10001",
) -> PaddleTransaction:
    async with db.session() as session:
        result = await purchases.start_checkout(
            session,
            SimulatedPaddle(db),
            actor,
            package,
            base_url="http://testserver",
            country=country,
            postal_code=postal_code,
        )
        await session.commit()
        return result.transaction


def transaction_event(
    txn: PaddleTransaction, event_type: str, status: str, **overrides: Any
) -> dict[str, Any]:
    data = events.transaction_data(
        txn_id=txn.id,
        status=status,
        currency=txn.currency,
        custom_data=dict(txn.custom_data),
        estimate=txn.estimate,
    )
    data.update(overrides)
    return events.envelope(event_type, data)


def post(
    base: str,
    event: dict[str, Any] | bytes,
    *,
    secret: str = PADDLE_TEST_SECRET,
    ts: int | None = None,
    signature: str | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    body = event if isinstance(event, bytes) else events.dumps(event)
    header = signature if signature is not None else sign(body, [secret], ts=ts or int(time.time()))
    headers = {"Content-Type": "application/json", "Paddle-Signature": header}
    if client is not None:
        return client.post(f"{base}/webhooks/paddle", content=body, headers=headers)
    return httpx.post(f"{base}/webhooks/paddle", content=body, headers=headers, timeout=30)


async def apost(
    web: InProcess,
    event: dict[str, Any] | bytes,
    *,
    secret: str = PADDLE_TEST_SECRET,
    ts: int | None = None,
    signature: str | None = None,
) -> httpx.Response:
    """`post`, to the routers served in process (tests/web.py)."""
    body = event if isinstance(event, bytes) else events.dumps(event)
    header = signature if signature is not None else sign(body, [secret], ts=ts or int(time.time()))
    headers = {"Content-Type": "application/json", "Paddle-Signature": header}
    async with web.client() as http:
        return await http.post("/webhooks/paddle", content=body, headers=headers)


async def balance_mc(db: Database, actor: Actor) -> int:
    async with db.session() as session:
        return (await ledger.get_balance(session, actor.workspace_id)).balance_mc


async def stored_events(db: Database, txn_id: str) -> list[tuple[str, str, str | None]]:
    from sqlalchemy import select

    from billing.models import PaddleEvent

    async with db.session() as session:
        rows = await session.execute(
            select(PaddleEvent.event_type, PaddleEvent.status, PaddleEvent.note)
            .where(PaddleEvent.transaction_id == txn_id)
            .order_by(PaddleEvent.id)
        )
        return [(t, s, n) for t, s, n in rows]
