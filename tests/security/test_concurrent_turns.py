"""Messages sent at once in one conversation (issue 15, item 11).

Turns of one thread never overlap, whichever process (here: separate connection pools
on the same PostgreSQL) receives them: one is answered, the others are refused free
with a clear message. Nothing is left "running", no hold is kept, the ledger adds up
and the conversation is stored in order. A failure after the hold (storing the
answer) releases it, and a turn left running by a process that died is cleaned up by
the next message instead of blocking the thread or keeping its credits.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.messages import AIMessage
from sqlalchemy import func, select, update

from billing import ledger
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.models import AssistantMessage, AssistantTurn
from chat_app.turns import BUSY, QUERY_PRICE_MC, TurnResult, TurnStatus, answer_message
from core.db import Database
from tests.chat_app.helpers import funded_rep

OFFLINE = build_agent(OfflineChatModel())
FUNDED_MC = 10_000
AT_ONCE = 6


class Gate:
    """An agent that answers once released, counting the turns that reached it.
    `settled` is set once each of `expected` turns has reached it or come back."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.entered = 0
        self.returned = 0
        self.settled = asyncio.Event()
        self.release = asyncio.Event()

    def _check(self) -> None:
        if self.entered + self.returned >= self.expected:
            self.settled.set()

    def came_back(self, _task: object) -> None:
        self.returned += 1
        self._check()

    async def astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        self.entered += 1
        self._check()
        await self.release.wait()
        yield {"model": {"messages": [AIMessage(content="Here is your answer.")]}}


class Unstorable:
    """An agent whose answer cannot be stored (not JSON): the failure comes after the
    hold was placed and the model answered."""

    async def astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        message = AIMessage(content="Fine.", additional_kwargs={"extra": {1, 2}})
        yield {"model": {"messages": [message]}}


async def _balance(db: Database, workspace_id: uuid.UUID) -> ledger.Balance:
    async with db.session() as session:
        return await ledger.get_balance(session, workspace_id)


async def _turn_statuses(db: Database, thread_id: uuid.UUID) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AssistantTurn.status).where(AssistantTurn.thread_id == thread_id)
        )
        return sorted(rows.all())


async def test_messages_sent_at_once_in_one_thread_are_answered_one_at_a_time(db) -> None:
    actor = await funded_rep(db, FUNDED_MC)
    first = await answer_message(db, OFFLINE, actor, text="hello", message_id=str(uuid.uuid4()))
    assert first.status is TurnStatus.ANSWERED and first.thread_id is not None
    # A second pool on the same server stands for another server process.
    other = Database(url=db.url, embedded=False)
    gate = Gate(AT_ONCE)
    try:
        tasks = [
            asyncio.create_task(
                answer_message(
                    db if n % 2 else other,
                    gate,
                    actor,
                    text=f"question {n}",
                    message_id=str(uuid.uuid4()),
                    thread_id=first.thread_id,
                )
            )
            for n in range(AT_ONCE)
        ]
        for task in tasks:
            task.add_done_callback(gate.came_back)
        # Every turn has either reached the model or come back: then let them finish.
        await gate.settled.wait()
        gate.release.set()
        results: list[TurnResult | BaseException] = await asyncio.gather(
            *tasks, return_exceptions=True
        )
    finally:
        await other.dispose()

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    answered = [r for r in results if isinstance(r, TurnResult) and r.status is TurnStatus.ANSWERED]
    refused = [r for r in results if isinstance(r, TurnResult) and r.status is TurnStatus.REFUSED]
    assert gate.entered == 1 and len(answered) == 1 and len(refused) == AT_ONCE - 1
    for result in refused:
        assert result.body == BUSY and result.cost_mc == 0 and "Nothing was charged" in result.body
    # Nothing left running, no credits kept on hold; a greeting and a plain answer
    # (no tool did any work) are free (issue 17).
    assert await _turn_statuses(db, first.thread_id) == ["answered", "answered"]
    balance = await _balance(db, actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (FUNDED_MC, 0)
    async with db.session() as session:
        assert (await ledger.audit(session, actor.workspace_id)).consistent
        seqs = (
            await session.scalars(
                select(AssistantMessage.seq)
                .where(AssistantMessage.thread_id == first.thread_id)
                .order_by(AssistantMessage.seq)
            )
        ).all()
    assert list(seqs) == list(range(len(seqs)))

    # The thread is free again: the next message is answered.
    again = await answer_message(
        db,
        OFFLINE,
        actor,
        text="how many credits do I have?",
        message_id=str(uuid.uuid4()),
        thread_id=first.thread_id,
    )
    assert again.status is TurnStatus.ANSWERED


async def test_a_failure_while_storing_the_answer_releases_the_hold(db) -> None:
    actor = await funded_rep(db, FUNDED_MC)
    result = await answer_message(
        db, Unstorable(), actor, text="hello", message_id=str(uuid.uuid4())
    )
    assert result.status is TurnStatus.FAILED and "Nothing was charged" in result.body
    assert (result.balance_mc, result.held_mc) == (FUNDED_MC, 0)
    balance = await _balance(db, actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (FUNDED_MC, 0)
    assert result.thread_id is not None
    assert await _turn_statuses(db, result.thread_id) == ["failed"]
    async with db.session() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(AssistantMessage)
            .where(AssistantMessage.thread_id == result.thread_id)
        )
    assert stored == 0


async def test_a_turn_left_running_by_a_dead_process_is_failed_and_its_hold_released(db) -> None:
    actor = await funded_rep(db, FUNDED_MC)
    first = await answer_message(db, OFFLINE, actor, text="hello", message_id=str(uuid.uuid4()))
    assert first.thread_id is not None
    # What a process killed mid-answer leaves: a running turn holding half a credit.
    dead = f"dead-{uuid.uuid4()}"
    async with db.session() as session:
        hold = await ledger.place_hold(
            session,
            actor.workspace_id,
            max_mc=QUERY_PRICE_MC,
            min_mc=QUERY_PRICE_MC,
            idempotency_key=f"query-hold:{dead}",
            expires_at=datetime.now(UTC) + timedelta(minutes=10),
            reference=f"query:{dead}",
        )
        session.add(
            AssistantTurn(
                message_id=dead,
                thread_id=first.thread_id,
                user_id=actor.user_id,
                workspace_id=actor.workspace_id,
                status="running",
                user_text="lost",
                hold_id=hold.hold_id,
            )
        )
        await session.flush()
        await session.execute(
            update(AssistantTurn)
            .where(AssistantTurn.message_id == dead)
            .values(created_at=func.now() - timedelta(hours=1))
        )
        await session.commit()

    result = await answer_message(
        db,
        OFFLINE,
        actor,
        text="how many credits do I have?",
        message_id=str(uuid.uuid4()),
        thread_id=first.thread_id,
    )
    assert result.status is TurnStatus.ANSWERED
    async with db.session() as session:
        left = await session.get(AssistantTurn, dead)
        assert left is not None and left.status == "failed"
    # The dead turn's hold is released; a greeting and a balance question are free.
    balance = await _balance(db, actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (FUNDED_MC, 0)
