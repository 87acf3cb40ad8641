"""A write tool's proposal waits in the database for its owner's answer (tools.actions):
it survives the turn that made it (a reload), runs at most once however many tabs or
processes answer, and only its owner may answer it, before it expires."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from accounts.models import Role, Workspace, WorkspaceStatus
from accounts.service import Actor
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import answer_message
from core.db import Database
from telephony.models import Contact
from tests.accounts.helpers import make_member
from tests.telephony.helpers import fund, number_callable_now
from tools import actions
from tools.context import AgentContext
from tools.models import PendingAction

AGENT = build_agent(OfflineChatModel())


async def _propose(db: Database, actor: Actor) -> tuple[uuid.UUID, uuid.UUID]:
    """A turn whose "add a contact" got no answer (the page was reloaded): the
    proposal's id and the thread's."""
    result = await answer_message(
        db,
        AGENT,
        actor,
        text=f"add a contact Jane Doe {number_callable_now()} at Acme",
        message_id=str(uuid.uuid4()),
    )
    assert result.body.startswith("Nothing done yet")
    assert result.thread_id is not None
    (waiting,) = await actions.open_actions(AgentContext(actor=actor, db=db), result.thread_id)
    assert waiting.tool == "add_contact" and "Add the contact Jane Doe (Acme)" in waiting.question
    return waiting.id, result.thread_id


async def _contacts(db: Database, actor: Actor) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Contact)
                .where(Contact.workspace_id == actor.workspace_id)
            )
            or 0
        )


async def _status(db: Database, action_id: uuid.UUID) -> str:
    async with db.session() as session:
        action = await session.get(PendingAction, action_id)
        assert action is not None
        return action.status


async def test_an_unanswered_proposal_survives_the_turn_and_runs_once(db) -> None:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 10)
    action_id, thread_id = await _propose(db, rep.actor)
    assert await _contacts(db, rep.actor) == 0
    # Two tabs (here: two processes' pools) press "Yes" at the same moment.
    other = Database(url=db.url, embedded=False)
    try:
        answers = await asyncio.gather(
            actions.decide(AgentContext(actor=rep.actor, db=db), action_id, yes=True),
            actions.decide(AgentContext(actor=rep.actor, db=other), action_id, yes=True),
        )
    finally:
        await other.dispose()
    assert sorted(a.split(" ")[0] for a in answers) == ["Added", "That"]
    assert actions.ALREADY_ANSWERED in answers
    assert await _contacts(db, rep.actor) == 1
    assert await _status(db, action_id) == "done"
    assert await actions.open_actions(AgentContext(actor=rep.actor, db=db), thread_id) == []
    again = await actions.decide(AgentContext(actor=rep.actor, db=db), action_id, yes=True)
    assert again == actions.ALREADY_ANSWERED and await _contacts(db, rep.actor) == 1


async def test_only_its_owner_can_answer_a_proposal(db) -> None:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 10)
    manager = await make_member(db, Role.MANAGER, workspace_id=rep.actor.workspace_id)
    action_id, _ = await _propose(db, rep.actor)
    theirs = await actions.decide(AgentContext(actor=manager.actor, db=db), action_id, yes=True)
    assert theirs == actions.ALREADY_ANSWERED
    assert await _status(db, action_id) == "pending" and await _contacts(db, rep.actor) == 0
    no = await actions.decide(AgentContext(actor=rep.actor, db=db), action_id, yes=False)
    assert no.startswith("Not added: you declined")
    assert await _status(db, action_id) == "declined" and await _contacts(db, rep.actor) == 0
    late = await actions.decide(AgentContext(actor=rep.actor, db=db), action_id, yes=True)
    assert late == actions.ALREADY_ANSWERED and await _contacts(db, rep.actor) == 0


async def test_an_expired_proposal_or_a_suspended_workspace_runs_nothing(db) -> None:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 10)
    expired, _ = await _propose(db, rep.actor)
    suspended, _ = await _propose(db, rep.actor)
    async with db.session() as session:
        await session.execute(
            update(PendingAction)
            .where(PendingAction.id == expired)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    ctx = AgentContext(actor=rep.actor, db=db)
    assert await actions.decide(ctx, expired, yes=True) == actions.ALREADY_ANSWERED
    async with db.session() as session:
        await session.execute(
            update(Workspace)
            .where(Workspace.id == rep.actor.workspace_id)
            .values(status=WorkspaceStatus.SUSPENDED.value)
        )
        await session.commit()
    assert await actions.decide(ctx, suspended, yes=True) == actions.SUSPENDED
    assert await _contacts(db, rep.actor) == 0
    assert await _status(db, expired) == "pending" and await _status(db, suspended) == "pending"
