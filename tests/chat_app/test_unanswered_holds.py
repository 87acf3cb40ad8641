"""A proposal waiting for the user's answer holds no credits (issue 18, item 10): the
balance of a workspace with a question pending shows nothing "on hold", whether the
question is answered later or never; the price is held and charged only on a yes."""

from __future__ import annotations

import asyncio
import uuid

from accounts.models import Role
from billing import ledger
from billing.money import QUERY_PRICE_MC
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import answer_message
from core.db import Database
from tests.accounts.helpers import make_member
from tests.telephony.helpers import fund, number_callable_now

AGENT = build_agent(OfflineChatModel())


async def _held(db: Database, workspace_id: uuid.UUID) -> tuple[int, int]:
    async with db.session() as session:
        balance = await ledger.get_balance(session, workspace_id)
    return balance.balance_mc, balance.held_mc


async def _pending_turn(db: Database, answer: bool | None) -> tuple[uuid.UUID, list[int]]:
    """A turn asking to add a contact; while its question waits, the workspace's holds
    are read; then the question is answered with `answer` (None: never)."""
    member = await make_member(db, Role.REP)
    ws = member.actor.workspace_id
    await fund(db, ws, 10)
    asked, release = asyncio.Event(), asyncio.Event()
    seen: list[int] = []

    async def confirm(question: str) -> bool | None:
        asked.set()
        await release.wait()
        return answer

    turn = asyncio.create_task(
        answer_message(
            db,
            AGENT,
            member.actor,
            message_id=str(uuid.uuid4()),
            confirm=confirm,
            text=f"add a contact Jane Doe {number_callable_now()} at Acme",
        )
    )
    await asyncio.wait_for(asked.wait(), 120)
    seen.append((await _held(db, ws))[1])  # while the question is on screen
    release.set()
    await turn
    seen.append((await _held(db, ws))[1])
    return ws, seen


async def test_a_question_left_unanswered_holds_nothing(db: Database) -> None:
    ws, held = await _pending_turn(db, None)
    assert held == [0, 0]
    assert await _held(db, ws) == (10_000, 0)


async def test_the_price_is_held_and_charged_only_on_yes(db: Database) -> None:
    ws, held = await _pending_turn(db, True)
    assert held == [0, 0]
    assert await _held(db, ws) == (10_000 - QUERY_PRICE_MC, 0)
