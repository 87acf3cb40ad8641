"""Chat profiles and their starters: reps get theirs only, managers both. A starter
never acts: sent as is, it asks a question back (or answers a free question) — nothing
is created, dialled or charged — and the requests its question suggests are
understood as typed by the offline model (the right tool, not a refusal)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, table, text

from accounts.models import Role
from chat_app.agent import TOOLS, build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.llm.offline_router import route
from chat_app.profiles import (
    ALL_STARTERS,
    GETTING_STARTED,
    MANAGER,
    REP,
    Workspace,
    profiles_for,
    starter_reply,
    workspace_of,
)
from chat_app.turns import TurnStatus, answer_message
from core.db import Database
from tests.accounts.helpers import make_member
from tests.chat_app.helpers import Asked
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import Recorder, fund, recording_telephony

NAMES = frozenset(t.name for t in TOOLS)
AGENT = build_agent(OfflineChatModel())
# The tool each starter's examples (or its message, for a free question) reach.
EXPECTED = {
    "Add a contact": "add_contact",
    "Call a contact": "place_call",
    "My recent calls": "list_calls",
    "Summary of my last call": "summarize_call",
    "Search my calls": "search_calls",
    "My credits": "check_credits",
    "Connect rate by rep": "analytics",
    "Credits spent per week": "analytics",
    "Top objections": "analytics",
    "Search the team's calls": "search_calls",
    "Buy credits": "list_packages",
    "Add your first contact": "add_contact",
    "Import contacts from a CSV": "import_contacts",
}
# What a conversation may write: the chat itself and the message rate counters.
CHAT_TABLES = {"assistant_threads", "assistant_messages", "assistant_turns", "rate_limit_hits"}


def test_reps_get_the_rep_profile_only_and_managers_both():
    assert [p.name for p in profiles_for("rep")] == [REP]
    assert [p.name for p in profiles_for("manager")] == [MANAGER, REP]
    assert [p.name for p in profiles_for("admin")] == [MANAGER, REP]


async def test_a_solo_sign_up_starts_with_what_an_empty_workspace_needs(db):
    """Whoever signs up alone owns (manages) a workspace of one with nothing in it: the
    default profile's starters add a first contact, import a CSV and buy credits — none
    needs a team or past calls. Once there is a contact, they are their own rep."""
    owner = await make_member(db, Role.MANAGER)
    shape = await _shape(db, owner.actor.workspace_id)
    assert (shape.solo, shape.empty) == (True, True)
    offered = profiles_for("manager", solo=shape.solo, empty=shape.empty)
    assert [p.name for p in offered] == [GETTING_STARTED, REP, MANAGER]
    labels = [s.label for s in offered[0].starters]
    assert labels[:3] == ["Add your first contact", "Import contacts from a CSV", "Buy credits"]
    assert not any("rep" in label.lower() or "team" in label.lower() for label in labels)

    await make_contact(db, owner.actor, name="Jane Doe")
    shape = await _shape(db, owner.actor.workspace_id)
    assert [p.name for p in profiles_for("manager", solo=shape.solo, empty=shape.empty)] == [
        REP,
        MANAGER,
    ]
    await make_member(db, Role.REP, workspace_id=owner.actor.workspace_id)
    shape = await _shape(db, owner.actor.workspace_id)
    assert shape.solo is False
    assert [p.name for p in profiles_for("manager", solo=shape.solo, empty=shape.empty)] == [
        MANAGER,
        REP,
    ]


async def _shape(db: Database, workspace_id: uuid.UUID) -> Workspace:
    async with db.session() as session:
        return await workspace_of(session, workspace_id)


@pytest.mark.parametrize("starter", ALL_STARTERS, ids=lambda s: s.label)
def test_each_starter_asks_back_with_examples_that_work(starter):
    if starter.question is None:
        # A free question, answered as typed.
        chosen = route(starter.message, NAMES)
        assert chosen is not None and chosen.intent.tool == EXPECTED[starter.label]
        assert starter_reply(starter.message) is None
        return
    assert starter_reply(starter.message) == starter.question
    assert starter.examples, "a question back shows what to type"
    for example in starter.examples:
        assert example in starter.question
        chosen = route(example, NAMES)
        assert chosen is not None, example
        assert chosen.intent.tool == EXPECTED[starter.label], (example, chosen)


async def _row_counts(db: Database) -> dict[str, int]:
    async with db.session() as session:
        tables = (
            await session.scalars(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename NOT LIKE 'procrastinate%' AND tablename <> 'alembic_version'"
                )
            )
        ).all()
        return {
            name: int(await session.scalar(select(func.count()).select_from(table(name))) or 0)
            for name in tables
        }


async def test_every_starter_sent_as_is_writes_nothing_dials_nothing_and_is_free(db):
    manager = await make_member(db, Role.MANAGER)
    actor = manager.actor
    await fund(db, actor.workspace_id, 100)
    # A workspace with something to act on: a contact (with the fictional name the old
    # starters used) and a past call.
    dana = await make_contact(db, actor, name="Dana Whitfield", company="Acme Corp")
    await seed_call(
        db,
        dana,
        actor.user_id,
        at=datetime.now(UTC) - timedelta(days=1),
        duration_s=60,
        turns=[("prospect", "The spring pricing is too high for us.")],
        insight={"outcome": "not_interested", "objections": ["price"]},
    )
    recorder, asked = Recorder(), Asked(True)
    before = await _row_counts(db)
    thread = None
    for starter in ALL_STARTERS:
        result = await answer_message(
            db,
            AGENT,
            actor,
            text=starter.message,
            message_id=str(uuid.uuid4()),
            thread_id=thread,
            confirm=asked,
            telephony=recording_telephony(recorder),
        )
        thread = result.thread_id
        assert result.status is TurnStatus.ANSWERED, (starter.label, result.body)
        assert result.cost_mc == 0 and result.footer.startswith("— no charge"), starter.label
        if starter.question is not None:
            assert result.body == starter.question and result.tool_calls == []
    after = await _row_counts(db)
    changed = {t for t in after if after[t] != before.get(t)}
    assert changed <= CHAT_TABLES, changed
    assert recorder.requests == [] and asked.questions == []
