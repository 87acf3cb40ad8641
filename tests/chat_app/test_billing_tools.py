"""The assistant's purchase tools through the offline agent: all free (DESIGN.md §1)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from billing import ledger
from billing.models import PaddleTransaction
from billing.paddle.simulated import SimulatedPaddle
from billing.payments import Payments
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import TurnStatus, answer_message
from tests.billing.paddle_helpers import new_member

AGENT = build_agent(OfflineChatModel())


@pytest.fixture
def payments(db) -> Payments:
    return Payments(
        provider=SimulatedPaddle(db),
        webhook_secret="test-secret",
        signature_tolerance_s=300,
        paddle_environment="sandbox",
        client_token=None,
    )


async def _funded_member(db, role: Role = Role.REP):
    actor = await new_member(db, role)
    async with db.session() as s:
        await ledger.grant(
            s,
            actor.workspace_id,
            amount_mc=10_000,
            idempotency_key=f"g:{actor.workspace_id}",
            source="test",
        )
        await s.commit()
    return actor


async def _ask(db, actor, payments, text: str, **kwargs):
    return await answer_message(
        db,
        AGENT,
        actor,
        text=text,
        message_id=str(uuid.uuid4()),
        payments=payments,
        base_url="http://klose.test",
        **kwargs,
    )


async def _checkouts(db, actor) -> int:
    async with db.session() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(PaddleTransaction)
                .where(PaddleTransaction.workspace_id == actor.workspace_id)
            )
            or 0
        )


async def test_list_packages(db, payments):
    actor = await _funded_member(db)
    result = await _ask(db, actor, payments, "what packages are there?")
    assert [c.name for c in result.tool_calls] == ["list_packages"]
    assert "Starter: 500 credits for $10.00 + $0.50 service fee" in result.body
    # The prices note is a paragraph of its own, not glued to the list's last item.
    assert "service fee\n\nCalls cost 1 credit per second" in result.body, result.body
    assert result.cost_mc == 0  # packages are free to ask about


async def test_estimate_asks_for_the_address_once_then_remembers_it(db, payments):
    actor = await _funded_member(db)
    first = await _ask(db, actor, payments, "estimate the starter pack")
    assert "billing country" in first.body
    second = await _ask(db, actor, payments, "estimate the starter pack for US 10001")
    assert second.tool_calls[0].args == {
        "package": "starter",
        "country": "US",
        "postal_code": "10001",
    }
    assert "Estimated total: $10.92 USD" in second.body
    assert "may vary slightly" in second.body
    third = await _ask(db, actor, payments, "estimate the pro pack")
    assert "Tax (US 10001)" in third.body


async def test_buy_asks_for_confirmation_and_declining_creates_nothing(db, payments):
    actor = await _funded_member(db)
    asked: list[str] = []

    async def say_no(question: str) -> bool:
        asked.append(question)
        return False

    result = await _ask(db, actor, payments, "buy the starter pack for GB", confirm=say_no)
    assert len(asked) == 1
    assert "Estimated total: $12.60" in asked[0]
    assert "Not bought" in result.body
    assert await _checkouts(db, actor) == 0


async def test_buy_confirmed_gives_a_checkout_link_and_no_credits_yet(db, payments):
    actor = await _funded_member(db)
    result = await _ask(db, actor, payments, "buy 500 credits for GB", auto_confirm=True)
    assert result.status is TurnStatus.ANSWERED
    assert "http://klose.test/billing/checkout/txn_" in result.body
    assert await _checkouts(db, actor) == 1
    # Nothing was charged (buying is free) and credits come only from the webhook.
    assert (result.cost_mc, result.balance_mc) == (0, 10_000)


async def test_purchase_history_when_nothing_was_bought(db, payments):
    actor = await _funded_member(db)
    result = await _ask(db, actor, payments, "what did I buy?")
    assert [c.name for c in result.tool_calls] == ["purchase_history"]
    assert "No purchases yet" in result.body


async def test_credits_cannot_be_transferred(db, payments):
    actor = await _funded_member(db)
    result = await _ask(db, actor, payments, "can I transfer credits to another workspace?")
    assert result.tool_calls == []
    assert "can't be transferred, sold or cashed out" in result.body
