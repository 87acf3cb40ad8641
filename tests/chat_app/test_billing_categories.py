"""What a message costs, per category (DESIGN.md §1): 0.5 credit, exactly once, only for
an answer that did assistant work — a summary, a transcript, insights, a search,
analytics, a call's status or list, an action carried out (a contact added, consent
recorded, a call placed). Everything else is free: greetings and help, the balance,
packages, estimates, buying, purchase history, the account, anything refused, not
understood or failed, a question back, a proposal still waiting, a declined one.

Through `answer_message` with the offline model and the real ledger; the footer says
what was charged ("no charge" too) and the new balance. A workspace at 0 credits can
still ask its balance, see the packages, get an estimate and start a purchase in chat,
and is told, free, how to buy when it asks for billable work. One case runs through
`klosesales ask` in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from billing import ledger
from billing.models import LedgerEntry
from billing.paddle.simulated import SimulatedPaddle
from billing.payments import Payments
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import TurnResult, TurnStatus, answer_message
from core.db import Database
from tests.accounts.helpers import Member, make_member
from tests.chat_app.helpers import Asked
from tests.insights.helpers import seed_call
from tests.telephony.helpers import (
    WORDING,
    Recorder,
    add_contact,
    fund,
    number_callable_now,
    recording_telephony,
)
from tools import actions
from tools.context import AgentContext
from tools.models import PendingAction

AGENT = build_agent(OfflineChatModel())
FUNDED_MC = 100_000
PRICE_MC = 500


@dataclass
class Case:
    text: str
    tools: list[str]  # the tools the answer used, in order
    cost_mc: int
    says: str  # a piece of the answer
    confirm: bool | None = None  # the answer to a confirmation (None: nobody answers)
    extra: dict[str, Any] = field(default_factory=dict)


CHARGED = {
    "summary": Case(
        "summarize my call with Ava Stone", ["summarize_call"], PRICE_MC, "AI-generated summary"
    ),
    "transcript": Case(
        "show the transcript of my call with Ava Stone",
        ["get_transcript"],
        PRICE_MC,
        "sounds expensive",
    ),
    "insights": Case(
        "what objections came up on my last call", ["call_insights"], PRICE_MC, "price"
    ),
    "analytics": Case(
        "how many calls per day last 30 days", ["analytics"], PRICE_MC, "Calls by day"
    ),
    "call list": Case("list my calls", ["list_calls"], PRICE_MC, "Ava Stone"),
    "call status": Case(
        "what's the status of my last call", ["call_status"], PRICE_MC, "Ava Stone"
    ),
    "contact added": Case(
        "add a contact Bo Lindqvist +1 212 555 0188 at Nordlys",
        ["add_contact"],
        PRICE_MC,
        "Added Bo Lindqvist",
        confirm=True,
    ),
    "consent recorded": Case(
        f"record express written consent for Cy Hale from the web form, wording: “{WORDING}”",
        ["record_consent"],
        PRICE_MC,
        "express written consent for Cy Hale",
        confirm=True,
    ),
    "call placed": Case(
        "call Ava Stone about the spring pricing",
        ["place_call"],
        PRICE_MC,
        "Calling Ava Stone",
        confirm=True,
    ),
}

FREE = {
    "greeting": Case("hello", [], 0, "Hello!"),
    "help": Case("what can you do?", [], 0, "what I can do"),
    "balance": Case("how many credits do I have?", ["check_credits"], 0, "Balance: 100 credits"),
    "packages": Case("what packages are there?", ["list_packages"], 0, "Starter: 500 credits"),
    "estimate": Case(
        "estimate the starter pack for US 10001",
        ["estimate_purchase"],
        0,
        "Estimated total: $10.92 USD",
    ),
    "buying": Case(
        "buy the starter pack for US 10001",
        ["buy_credits"],
        0,
        "/billing/checkout/txn_",
        confirm=True,
    ),
    "purchase history": Case("what did I buy?", ["purchase_history"], 0, "No purchases yet"),
    "account": Case("my account", ["my_account"], 0, "Role: rep"),
    "not understood": Case("what's the weather in Paris?", [], 0, "didn't understand"),
    "not possible": Case("send a text message to Ava Stone", [], 0, "can't send emails"),
    "not allowed": Case("call everyone without consent", [], 0, "isn't allowed"),
    "no such contact": Case(
        "summarize my call with Zed Nobody", ["summarize_call"], 0, "No contact matching"
    ),
    "found nothing": Case("show my failed calls", ["list_calls"], 0, "No calls found"),
    "call refused by the gate": Case(
        "call Cy Hale about the spring pricing", ["place_call"], 0, "Not placed"
    ),
    "question back (ambiguous)": Case(
        "summarize my call with Ava", ["summarize_call"], 0, "Which one do you mean"
    ),
    "question back (starter)": Case("How do I add a contact?", [], 0, "Who should I add?"),
    "question back (no details)": Case("Add a contact", ["add_contact"], 0, "Who should I add?"),
    "question back (no one named)": Case("Call a contact", ["place_call"], 0, "Who should I call"),
    "proposal waiting": Case(
        "add a contact Bo Lindqvist +1 212 555 0188 at Nordlys",
        ["add_contact"],
        0,
        "Nothing done yet",
        confirm=None,
    ),
    "declined": Case(
        "call Ava Stone about the spring pricing",
        ["place_call"],
        0,
        "Not placed; nothing was charged",
        confirm=False,
    ),
    "credits can't move": Case(
        "can I transfer credits to another workspace?", [], 0, "can't be transferred"
    ),
}


@dataclass
class World:
    member: Member
    recorder: Recorder
    payments: Payments


async def _world(db: Database, credits_mc: int = FUNDED_MC) -> World:
    member = await make_member(db, Role.REP)
    if credits_mc:
        await fund(db, member.actor.workspace_id, credits_mc / 1000)
    ava = await add_contact(db, member.actor, name="Ava Stone", phone=number_callable_now())
    # Two Avas: "Ava" alone is ambiguous. Cy Hale has no consent on record.
    await add_contact(db, member.actor, name="Ava Brook", phone=number_callable_now())
    await add_contact(db, member.actor, name="Cy Hale", phone=number_callable_now(), consent=None)
    await seed_call(
        db,
        ava,
        member.actor.user_id,
        at=datetime.now(UTC) - timedelta(days=2),
        duration_s=75,
        outcome="interested",
        turns=[
            ("agent", "Hi Ava, this is an AI assistant calling for Acme. It's recorded."),
            ("prospect", "Honestly it sounds expensive, but tell me more."),
        ],
        insight={
            "outcome": "interested",
            "summary": "Ava liked it but found it pricey.",
            "objections": ["price"],
            "next_steps": ["send pricing"],
        },
    )
    payments = Payments(
        provider=SimulatedPaddle(db),
        webhook_secret="test-secret",
        signature_tolerance_s=300,
        paddle_environment="sandbox",
        client_token=None,
    )
    return World(member, Recorder(), payments)


async def _send(db: Database, world: World, text: str, confirm: bool | None) -> TurnResult:
    return await answer_message(
        db,
        AGENT,
        world.member.actor,
        text=text,
        message_id=f"bill-{uuid.uuid4()}",
        confirm=None if confirm is None else Asked(confirm),
        telephony=recording_telephony(world.recorder),
        payments=world.payments,
        base_url="http://klose.test",
    )


async def _query_debits(db: Database, workspace_id: uuid.UUID) -> list[LedgerEntry]:
    async with db.session() as session:
        return list(
            (
                await session.scalars(
                    select(LedgerEntry).where(
                        LedgerEntry.workspace_id == workspace_id, LedgerEntry.kind == "query"
                    )
                )
            ).all()
        )


async def _balance(db: Database, workspace_id: uuid.UUID) -> ledger.Balance:
    async with db.session() as session:
        return await ledger.get_balance(session, workspace_id)


def _credits(mc: int) -> str:
    return f"{mc / 1000:g}"


async def _check(db: Database, world: World, case: Case, result: TurnResult) -> None:
    ws = world.member.actor.workspace_id
    assert result.status is TurnStatus.ANSWERED, result.body
    assert [c.name for c in result.tool_calls] == case.tools, result.body
    assert case.says in result.body, result.body
    assert result.cost_mc == case.cost_mc, result.body
    debits = await _query_debits(db, ws)
    balance = await _balance(db, ws)
    if case.cost_mc:
        # Exactly one debit, keyed by the message: charged once.
        assert [(d.amount_mc, d.idempotency_key) for d in debits] == [
            (-PRICE_MC, f"query:{result.message_id}")
        ]
        assert result.footer.startswith("— charged 0.5 credits · balance ")
    else:
        assert debits == []
        assert result.footer.startswith("— no charge · balance ")
    # The call's own hold (a placed call) is the only thing still held.
    call_hold = balance.held_mc if world.recorder.requests else 0
    assert (balance.balance_mc, balance.held_mc) == (FUNDED_MC - case.cost_mc, call_hold)
    assert result.balance_mc == balance.balance_mc
    assert f"balance {_credits(balance.balance_mc)} credits" in result.footer
    async with db.session() as session:
        assert (await ledger.audit(session, ws)).consistent


@pytest.mark.parametrize("case", CHARGED.values(), ids=CHARGED.keys())
async def test_assistant_work_is_charged_half_a_credit_once(db, case: Case) -> None:
    world = await _world(db)
    result = await _send(db, world, case.text, case.confirm)
    await _check(db, world, case, result)
    # The same message id again: answered from the record, never charged twice.
    again = await answer_message(
        db, AGENT, world.member.actor, text=case.text, message_id=result.message_id
    )
    assert again.status is TurnStatus.DUPLICATE
    assert len(await _query_debits(db, world.member.actor.workspace_id)) == 1


@pytest.mark.parametrize("case", FREE.values(), ids=FREE.keys())
async def test_everything_else_is_free(db, case: Case) -> None:
    world = await _world(db)
    result = await _send(db, world, case.text, case.confirm)
    await _check(db, world, case, result)
    assert world.recorder.requests == []  # nothing was dialled


async def test_two_billable_tools_in_one_answer_cost_half_a_credit(db) -> None:
    """Charged per answer, not per tool: a model calling two billable tools."""
    world = await _world(db)
    ws = world.member.actor.workspace_id

    class TwoTools:
        async def astream(self, messages: Any, **kwargs: Any) -> Any:
            from tools.analytics import analytics
            from tools.calls import list_calls

            context: AgentContext = kwargs["context"]
            for built in (list_calls, analytics):
                await built.coroutine(runtime=_Runtime(context), **_ARGS[built.name])
            yield {"model": {"messages": [_ai("Both done.")]}}

    result = await answer_message(
        db, TwoTools(), world.member.actor, text="calls and stats", message_id=str(uuid.uuid4())
    )
    assert result.cost_mc == PRICE_MC
    assert len(await _query_debits(db, ws)) == 1
    assert (await _balance(db, ws)).balance_mc == FUNDED_MC - PRICE_MC


_ARGS: dict[str, dict[str, Any]] = {
    "list_calls": {},
    "analytics": {"metrics": ["calls"], "period": "last 30 days"},
}


@dataclass
class _Runtime:
    context: AgentContext


def _ai(text: str) -> Any:
    from langchain_core.messages import AIMessage

    return AIMessage(content=text)


# --- a workspace with no credits ------------------------------------------------------


async def test_at_zero_credits_the_balance_packages_estimate_and_buying_are_free(db) -> None:
    world = await _world(db, credits_mc=0)
    ws = world.member.actor.workspace_id
    balance = await _send(db, world, "what's my balance?", None)
    assert balance.status is TurnStatus.ANSWERED and "Balance: 0 credits" in balance.body
    packages = await _send(db, world, "what packages are there?", None)
    assert "Starter: 500 credits" in packages.body
    estimate = await _send(db, world, "estimate the starter pack for US 10001", None)
    assert "Estimated total: $10.92 USD" in estimate.body
    bought = await _send(db, world, "buy the starter pack for US 10001", True)
    assert [c.name for c in bought.tool_calls] == ["buy_credits"]
    assert "http://klose.test/billing/checkout/txn_" in bought.body
    for result in (balance, packages, estimate, bought):
        assert result.cost_mc == 0 and result.footer == "— no charge · balance 0 credits"
    assert await _query_debits(db, ws) == []


async def test_at_zero_credits_billable_work_is_refused_free_with_how_to_buy(db) -> None:
    world = await _world(db, credits_mc=0)
    ws = world.member.actor.workspace_id
    for text in (
        "summarize my call with Ava Stone",
        "list my calls",
        "call Ava Stone about the spring pricing",
        "add a contact Bo Lindqvist +1 212 555 0188 at Nordlys",
    ):
        asked = Asked(True)
        result = await answer_message(
            db,
            AGENT,
            world.member.actor,
            text=text,
            message_id=str(uuid.uuid4()),
            confirm=asked,
            telephony=recording_telephony(world.recorder),
        )
        assert result.status is TurnStatus.ANSWERED and result.cost_mc == 0, text
        assert "out of credits" in result.body and "buy the starter pack" in result.body, text
        assert "Ava liked it" not in result.body and asked.questions == [], text
    assert world.recorder.requests == [] and await _query_debits(db, ws) == []
    async with db.session() as session:
        pending = await session.scalar(
            select(func.count()).select_from(PendingAction).where(PendingAction.workspace_id == ws)
        )
    assert pending == 0  # nothing was even proposed


# --- a confirmation answered later (a button after a reload) -------------------------


async def test_an_action_confirmed_after_the_turn_is_charged_once_and_a_decline_is_free(
    db,
) -> None:
    world = await _world(db)
    ws = world.member.actor.workspace_id
    waiting = await _send(db, world, "add a contact Bo Lindqvist +1 212 555 0188 at Nordlys", None)
    declined = await _send(db, world, "add a contact Di Ames +1 212 555 0199 at Nordlys", None)
    assert waiting.cost_mc == declined.cost_mc == 0
    ctx = AgentContext(actor=world.member.actor, db=db)
    (first, second) = await actions.open_actions(ctx, None)
    assert "Bo Lindqvist" in first.question and "Di Ames" in second.question
    no = await actions.decide(ctx, second.id, yes=False)
    assert no.startswith("Not added") and await _query_debits(db, ws) == []
    yes = await actions.decide(ctx, first.id, yes=True)
    again = await actions.decide(ctx, first.id, yes=True)
    assert yes.startswith("Added Bo Lindqvist") and again == actions.ALREADY_ANSWERED
    debits = await _query_debits(db, ws)
    assert [(d.amount_mc, d.idempotency_key) for d in debits] == [
        (-PRICE_MC, f"query:action:{first.id}")
    ]
    balance = await _balance(db, ws)
    assert (balance.balance_mc, balance.held_mc) == (FUNDED_MC - PRICE_MC, 0)


async def test_an_action_confirmed_later_without_credits_is_not_run(db) -> None:
    world = await _world(db, credits_mc=PRICE_MC)
    ws = world.member.actor.workspace_id
    await _send(db, world, "add a contact Bo Lindqvist +1 212 555 0188 at Nordlys", None)
    # Meanwhile the credits went on something else.
    async with db.session() as session:
        await ledger.debit(
            session, ws, amount_mc=PRICE_MC, idempotency_key=f"t:{uuid.uuid4()}", kind="debit"
        )
        await session.commit()
    ctx = AgentContext(actor=world.member.actor, db=db)
    (action,) = await actions.open_actions(ctx, None)
    answer = await actions.decide(ctx, action.id, yes=True)
    assert "out of credits" in answer
    assert [a.id for a in await actions.open_actions(ctx, None)] == [action.id]  # still open
    assert await _query_debits(db, ws) == []


# --- through `klosesales ask` ---------------------------------------------------------


def _ask_cli(database: Any, email: str, text: str) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": database.url.render_as_string(hide_password=False)}
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "chat_app.cli", "ask", "--user", email, "--json", text],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


async def test_klosesales_ask_charges_a_transcript_and_not_a_balance(database, db) -> None:
    world = await _world(db)
    email, ws = world.member.actor.email, world.member.actor.workspace_id
    balance = _ask_cli(database, email, "how many credits do I have?")
    assert balance["cost_mc"] == 0 and balance["balance_mc"] == FUNDED_MC
    assert [c["name"] for c in balance["tool_calls"]] == ["check_credits"]
    transcript = _ask_cli(database, email, "show the transcript of my call with Ava Stone")
    assert [c["name"] for c in transcript["tool_calls"]] == ["get_transcript"]
    assert "sounds expensive" in transcript["answer"]
    assert (transcript["cost_mc"], transcript["balance_mc"]) == (PRICE_MC, FUNDED_MC - PRICE_MC)
    refused = _ask_cli(database, email, "delete the do-not-call list")
    assert refused["tool_calls"] == [] and refused["cost_mc"] == 0
    assert len(await _query_debits(db, ws)) == 1
