"""`POST /webhooks/paddle` over real HTTP against `klosesales serve` and real PostgreSQL.

Signatures are real HMACs with the server's secret (tests/conftest.py); events are
built the way Paddle sends them (billing/paddle/events.py)."""

from __future__ import annotations

import asyncio
import json
import time

from sqlalchemy import func, select

from billing.models import PaddleAdjustment, PaddleEvent, PaddleTransaction
from billing.paddle import events
from billing.paddle.signature import sign
from tests.accounts.helpers import make_member, sign_in
from tests.billing.paddle_helpers import (
    apost,
    balance_mc,
    checkout,
    new_member,
    stored_events,
    transaction_event,
)
from tests.conftest import PADDLE_TEST_SECRET

STARTER_MC = 500_000


async def _event_count(db, event_id: str) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(PaddleEvent)
                .where(PaddleEvent.event_id == event_id)
            )
            or 0
        )


async def _txn(db, txn_id: str) -> PaddleTransaction:
    async with db.session() as session:
        txn = await session.get(PaddleTransaction, txn_id)
        assert txn is not None
        return txn


async def test_completed_transaction_grants_the_package_once(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    assert (await apost(web, transaction_event(txn, "transaction.paid", "paid"))).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    response = await apost(web, transaction_event(txn, "transaction.completed", "completed"))
    assert response.status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    stored = await _txn(db, txn.id)
    assert stored.status == "completed"
    assert stored.grant_entry_id is not None
    assert stored.totals is not None and stored.totals["grand_total"] == str(
        stored.estimate["total"]
    )
    assert [s for _, s, _ in await stored_events(db, txn.id)] == ["processed", "processed"]


async def test_completed_before_created_still_grants_and_status_does_not_regress(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    created = transaction_event(txn, "transaction.created", "ready")
    completed = transaction_event(txn, "transaction.completed", "completed")
    # The created event happened first but is delivered last.
    created["occurred_at"] = "2020-01-01T00:00:00.000000Z"
    assert (await apost(web, completed)).status_code == 200
    assert (await apost(web, created)).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    assert (await _txn(db, txn.id)).status == "completed"


async def test_the_same_event_delivered_twice_is_stored_once(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    first, second = await apost(web, event), await apost(web, event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert "duplicate" in second.json()["message"]
    assert await _event_count(db, event["event_id"]) == 1
    assert await balance_mc(db, actor) == STARTER_MC


async def test_ten_concurrent_deliveries_grant_once(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    same = transaction_event(txn, "transaction.completed", "completed")
    # Ten copies of one event, plus paid/completed events with other ids, all at once.
    bodies = [events.dumps(same)] * 10 + [
        events.dumps(transaction_event(txn, "transaction.paid", "paid")) for _ in range(5)
    ]
    async with web.client() as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/webhooks/paddle",
                    content=body,
                    headers={"Paddle-Signature": sign(body, [PADDLE_TEST_SECRET])},
                )
                for body in bodies
            )
        )
    assert [r.status_code for r in responses] == [200] * 15
    assert await balance_mc(db, actor) == STARTER_MC
    assert await _event_count(db, same["event_id"]) == 1
    async with db.session() as session:
        grants = await session.scalar(
            select(func.count())
            .select_from(PaddleTransaction)
            .where(PaddleTransaction.id == txn.id, PaddleTransaction.grant_entry_id.is_not(None))
        )
    assert grants == 1


# --- Bad input: each gets a clear error or is stored for review, and no credit moves --


async def test_bad_signature_is_403_and_nothing_is_stored(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    response = await apost(web, event, secret="not-the-secret")
    assert response.status_code == 403
    assert "signature" in response.json()["message"]
    assert await _event_count(db, event["event_id"]) == 0
    assert await balance_mc(db, actor) == 0


async def test_missing_signature_is_403_and_nothing_is_stored(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    response = await apost(web, event, signature="")  # an empty header is no header
    assert response.status_code == 403
    assert "missing" in response.json()["message"]
    assert await _event_count(db, event["event_id"]) == 0
    assert await balance_mc(db, actor) == 0


async def test_stale_timestamp_is_403(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    response = await apost(web, event, ts=int(time.time()) - 3600)
    assert response.status_code == 403
    assert await _event_count(db, event["event_id"]) == 0
    assert await balance_mc(db, actor) == 0


async def test_signature_over_a_different_body_is_403(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    signed_for = events.dumps(transaction_event(txn, "transaction.completed", "completed"))
    response = await apost(web, event, signature=sign(signed_for, [PADDLE_TEST_SECRET]))
    assert response.status_code == 403
    assert await balance_mc(db, actor) == 0


async def test_malformed_body_is_400_and_nothing_is_stored(web, db):
    before = await _all_events(db)
    for body in (b"{not json", b"[1, 2]", json.dumps({"event_type": "x"}).encode()):
        response = await apost(web, body)
        assert response.status_code == 400, body
        assert (
            "JSON" in response.json()["message"]
            or "not a Paddle event" in response.json()["message"]
        )
    assert await _all_events(db) == before


async def _all_events(db) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(PaddleEvent)) or 0)


async def test_unknown_transaction_is_stored_for_review_without_credits(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed", id="txn_" + "z" * 26)
    response = await apost(web, event)
    assert response.status_code == 200
    assert await stored_events(db, "txn_" + "z" * 26) == [
        (
            "transaction.completed",
            "review",
            f"unknown transaction {'txn_' + 'z' * 26}: not created by us",
        )
    ]
    assert await balance_mc(db, actor) == 0


async def test_forged_custom_data_grants_nothing_and_is_flagged(web, db):
    victim = await new_member(db)
    attacker = await new_member(db)
    txn = await checkout(db, victim)
    forged = dict(txn.custom_data, workspace_id=str(attacker.workspace_id))
    response = await apost(
        web,
        transaction_event(txn, "transaction.completed", "completed", custom_data=forged),
    )
    assert response.status_code == 200
    [(_, status, note)] = await stored_events(db, txn.id)
    assert status == "flagged"
    assert note is not None and "custom_data.workspace_id" in note
    assert (await balance_mc(db, victim), await balance_mc(db, attacker)) == (0, 0)


async def test_a_price_we_do_not_sell_grants_nothing(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    event["data"]["items"].append({"price_id": "pri_cheap", "price": {"id": "pri_cheap"}})
    assert (await apost(web, event)).status_code == 200
    [(_, status, note)] = await stored_events(db, txn.id)
    assert (status, "pri_cheap" in (note or "")) == ("flagged", True)
    assert await balance_mc(db, actor) == 0


async def test_a_currency_mismatch_grants_nothing(web, db):
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed", currency_code="EUR")
    assert (await apost(web, event)).status_code == 200
    [(_, status, note)] = await stored_events(db, txn.id)
    assert status == "flagged"
    assert "currency EUR" in (note or "")
    assert await balance_mc(db, actor) == 0


async def test_unknown_event_types_are_stored_and_acknowledged(web, db):
    event = events.envelope("subscription.trialing", {"id": "sub_123"})
    response = await apost(web, event)
    assert response.status_code == 200
    async with db.session() as session:
        stored = await session.scalar(
            select(PaddleEvent).where(PaddleEvent.event_id == event["event_id"])
        )
    assert stored is not None
    assert (stored.status, stored.payload) == ("ignored", event)


# --- adjustments -------------------------------------------------------------------


def _adjustment(
    txn, action: str, status: str, *, adj_id: str | None = None, total: int | None = None
):
    return events.envelope(
        f"adjustment.{'created' if status != 'approved' else 'updated'}",
        events.adjustment_data(
            txn_id=txn.id,
            action=action,
            status=status,
            currency=txn.currency,
            total_cents=total if total is not None else int(txn.estimate["total"]),
            full=total is None,
            adj_id=adj_id,
        ),
    )


async def _paid(web, db, actor):
    txn = await checkout(db, actor)
    assert (
        await apost(web, transaction_event(txn, "transaction.completed", "completed"))
    ).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    return await _txn(db, txn.id)


async def test_refund_moves_credits_only_once_approved(web, db):
    actor = await new_member(db)
    txn = await _paid(web, db, actor)
    pending = _adjustment(txn, "refund", "pending_approval")
    assert (await apost(web, pending)).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    approved = _adjustment(txn, "refund", "approved", adj_id=pending["data"]["id"])
    assert (await apost(web, approved)).status_code == 200
    assert await balance_mc(db, actor) == 0
    # A later copy of the approval moves nothing more.
    again = _adjustment(txn, "refund", "approved", adj_id=pending["data"]["id"])
    assert (await apost(web, again)).status_code == 200
    assert await balance_mc(db, actor) == 0


async def test_rejected_refund_moves_nothing(web, db):
    actor = await new_member(db)
    txn = await _paid(web, db, actor)
    assert (await apost(web, _adjustment(txn, "refund", "rejected"))).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC


async def test_refund_after_spending_records_the_shortfall(web, db):
    from billing import ledger

    actor = await new_member(db)
    txn = await _paid(web, db, actor)
    async with db.session() as session:
        await ledger.debit(
            session,
            actor.workspace_id,
            amount_mc=400_000,
            idempotency_key=f"spend:{txn.id}",
            kind="call",
        )
        await session.commit()
    event = _adjustment(txn, "refund", "approved")
    assert (await apost(web, event)).status_code == 200
    assert await balance_mc(db, actor) == 0
    async with db.session() as session:
        adj = await session.get(PaddleAdjustment, event["data"]["id"])
    assert adj is not None
    assert (adj.credits_mc, adj.taken_mc, adj.shortfall_mc) == (STARTER_MC, 100_000, 400_000)


async def test_partial_refund_takes_back_the_same_share(web, db):
    actor = await new_member(db)
    txn = await _paid(web, db, actor)
    half = int(txn.estimate["total"]) // 2
    assert (await apost(web, _adjustment(txn, "refund", "approved", total=half))).status_code == 200
    expected_taken = STARTER_MC * half // int(txn.estimate["total"])
    assert await balance_mc(db, actor) == STARTER_MC - expected_taken


async def test_chargeback_freezes_below_zero_and_reverse_restores(web, db):
    from billing import ledger

    actor = await new_member(db)
    txn = await _paid(web, db, actor)
    async with db.session() as session:
        await ledger.debit(
            session,
            actor.workspace_id,
            amount_mc=300_000,
            idempotency_key=f"spend:{txn.id}",
            kind="call",
        )
        await session.commit()
    assert (await apost(web, _adjustment(txn, "chargeback", "approved"))).status_code == 200
    async with db.session() as session:
        balance = await ledger.get_balance(session, actor.workspace_id)
    assert (balance.balance_mc, balance.frozen) == (-300_000, True)

    assert (await apost(web, _adjustment(txn, "chargeback_reverse", "approved"))).status_code == 200
    async with db.session() as session:
        balance = await ledger.get_balance(session, actor.workspace_id)
        audit = await ledger.audit(session, actor.workspace_id)
    assert (balance.balance_mc, balance.frozen, balance.debt_mc) == (200_000, False, 0)
    assert audit.consistent, audit


async def test_adjustment_for_an_unknown_transaction_is_kept_for_review(web, db):
    actor = await new_member(db)
    txn = await _paid(web, db, actor)
    event = _adjustment(txn, "refund", "approved")
    event["data"]["transaction_id"] = "txn_" + "y" * 26
    assert (await apost(web, event)).status_code == 200
    assert [s for _, s, _ in await stored_events(db, "txn_" + "y" * 26)] == ["review"]
    assert await balance_mc(db, actor) == STARTER_MC


# --- the simulated checkout and receipts over HTTP ---------------------------------


async def test_simulated_pay_posts_signed_webhooks_and_grants(web, db):
    member = await make_member(db)
    actor = member.actor
    txn = await checkout(db, actor)
    async with web.client() as client:
        await sign_in(client, db, member)
        page = await client.get(f"/billing/checkout/{txn.id}")
        assert page.status_code == 200
        assert "Simulated checkout" in page.text
        assert "Pay $10.92" in page.text
        paid = await client.post(f"/billing/checkout/{txn.id}/pay")
        assert paid.status_code == 200
        assert "Payment complete" in paid.text
        receipt = await client.get(f"/billing/receipt/{txn.id}")
    assert await balance_mc(db, actor) == STARTER_MC
    assert [(t, s) for t, s, _ in await stored_events(db, txn.id)] == [
        ("transaction.paid", "processed"),
        ("transaction.completed", "processed"),
    ]
    assert receipt.status_code == 200
    assert "$10.92" in receipt.text
    assert txn.id in receipt.text


async def test_simulated_decline_grants_nothing_and_has_no_receipt(web, db):
    member = await make_member(db)
    actor = member.actor
    txn = await checkout(db, actor)
    async with web.client() as client:
        await sign_in(client, db, member)
        declined = await client.post(f"/billing/checkout/{txn.id}/decline")
        receipt = await client.get(f"/billing/receipt/{txn.id}")
    assert declined.status_code == 200
    assert "Payment declined" in declined.text
    assert await balance_mc(db, actor) == 0
    assert [(t, s) for t, s, _ in await stored_events(db, txn.id)] == [
        ("transaction.payment_failed", "processed")
    ]
    assert receipt.status_code == 404


async def test_unknown_checkout_links_are_404(web, db):
    async with web.client() as client:
        await sign_in(client, db, await make_member(db))
        for path in (
            "/billing/checkout/txn_" + "q" * 26,
            "/billing/checkout/not-a-txn",
            "/billing/receipt/txn_" + "q" * 26,
        ):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.post("/billing/checkout/txn_" + "q" * 26 + "/pay")).status_code == 404


async def test_events_left_pending_are_applied_by_the_sweep(db):
    """If applying fails after storing (a crash, a deadlock), the worker retries."""
    from datetime import UTC, datetime, timedelta

    from billing import webhooks

    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    async with db.session() as session:
        session.add(
            PaddleEvent(
                event_id=event["event_id"],
                event_type=event["event_type"],
                payload=event,
                transaction_id=txn.id,
                received_at=datetime.now(UTC) - timedelta(minutes=5),
            )
        )
        await session.commit()
    # (The live server's worker may sweep it first: either way it is applied once.)
    await webhooks.process_pending_events(db)
    assert [s for _, s, _ in await stored_events(db, txn.id)] == ["processed"]
    assert await balance_mc(db, actor) == STARTER_MC
    await webhooks.process_pending_events(db)
    assert await balance_mc(db, actor) == STARTER_MC
