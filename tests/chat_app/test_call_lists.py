"""`list_calls` with the filters a manager asks for (issue 18): an outcome ("calls that
went to voicemail", "who said they were interested"), the rep who placed them
("Riley's calls"), and a past period whose calls are older than many newer ones — each
applied in the query, through the real agent graph and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import Role
from chat_app.turns import TurnStatus, answer_message
from tests.accounts.helpers import make_member
from tests.chat_app.scripted import scripted_agent
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import fund

NOW = datetime.now(UTC)


async def _ask(db, actor, **args):
    return await answer_message(
        db,
        scripted_agent("list_calls", **args),
        actor,
        text="(list_calls)",
        message_id=str(uuid.uuid4()),
    )


async def _team(db):
    manager = await make_member(db, Role.MANAGER)
    ws = manager.actor.workspace_id
    await fund(db, ws, 100)
    riley = await make_member(db, Role.REP, workspace_id=ws)
    sam = await make_member(db, Role.REP, workspace_id=ws)
    return manager, riley, sam


async def test_calls_with_one_outcome_and_by_one_rep(db):
    manager, riley, sam = await _team(db)
    dana = await make_contact(db, riley.actor, name="Dana Whitfield")
    omar = await make_contact(db, sam.actor, name="Omar Haddad")
    at = NOW - timedelta(hours=2)
    await seed_call(db, dana, riley.actor.user_id, at=at, duration_s=30, outcome="voicemail")
    await seed_call(db, dana, riley.actor.user_id, at=at, duration_s=40, outcome="interested")
    await seed_call(db, omar, sam.actor.user_id, at=at, duration_s=50, outcome="voicemail")

    voicemail = await _ask(db, manager.actor, outcome="voicemail")
    assert voicemail.status is TurnStatus.ANSWERED and voicemail.cost_mc == 500
    assert voicemail.body.startswith("2 calls with the outcome voicemail"), voicemail.body
    assert "Dana Whitfield" in voicemail.body and "Omar Haddad" in voicemail.body

    interested = await _ask(db, manager.actor, outcome="Interested")
    assert interested.body.startswith("1 call with the outcome interested"), interested.body

    rileys = await _ask(db, manager.actor, rep=riley.email)
    assert rileys.body.startswith(f"2 calls placed by {riley.email}"), rileys.body
    assert "Omar Haddad" not in rileys.body

    both = await _ask(db, manager.actor, rep=riley.email, outcome="vm")
    assert both.body.startswith("1 call with the outcome voicemail placed by"), both.body


async def test_bad_filters_are_named_and_free(db):
    manager, riley, sam = await _team(db)
    unknown = await _ask(db, manager.actor, outcome="delighted")
    assert unknown.body.startswith("Unknown call outcome 'delighted'"), unknown.body
    assert "voicemail" in unknown.body and unknown.cost_mc == 0
    nobody = await _ask(db, manager.actor, rep="nobody-here@example.test")
    assert "There is no rep matching" in nobody.body and nobody.cost_mc == 0
    # A rep sees their own calls only: naming a teammate is refused, not answered empty.
    peek = await _ask(db, riley.actor, rep=sam.email)
    assert peek.body == "Reps see their own calls only; ask without naming a rep."
    assert peek.cost_mc == 0
    own = await _ask(db, riley.actor, rep="me")
    assert own.body.startswith("No calls found placed by me"), own.body


async def test_last_weeks_calls_are_found_behind_many_newer_ones(own_db):
    """The period's end is part of the query: 210 calls this week used to push every
    call of last week out of the 200 rows read before the end was applied. (On a
    database of its own: 211 finished calls without insights in the shared one would
    keep a running job worker's post-call sweep busy for other test files.)"""
    db = own_db
    manager, riley, _ = await _team(db)
    dana = await make_contact(db, riley.actor, name="Dana Whitfield")
    lee = await make_contact(db, riley.actor, name="Lee Older")
    for _ in range(210):
        await seed_call(db, dana, riley.actor.user_id, at=NOW - timedelta(minutes=5), duration_s=5)
    await seed_call(db, lee, riley.actor.user_id, at=NOW - timedelta(days=30), duration_s=5)
    found = await _ask(db, manager.actor, period="last 60 days", limit=50)
    assert found.body.startswith("50 calls in the last 60 days"), found.body
    older = await _ask(
        db,
        manager.actor,
        period=f"{(NOW - timedelta(days=31)).date()}..{(NOW - timedelta(days=29)).date()}",
    )
    assert older.body.startswith("1 call from "), older.body
    assert "Lee Older" in older.body and "Dana Whitfield" not in older.body


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("show calls that went to voicemail", "list_calls", {"outcome": "voicemail"}),
        ("which contacts said they were interested", "list_calls", {"outcome": "interested"}),
        (
            "calls where they were not interested this week",
            "list_calls",
            {"outcome": "not_interested", "period": "this week"},
        ),
        (
            "who is my best rep",
            "analytics",
            {"metrics": ["calls", "connected", "connect_rate"], "dimension": "rep"},
        ),
        ("what are the most common objections", "analytics", {"metrics": ["objections"]}),
    ],
)
def test_a_managers_everyday_questions_reach_the_tool_that_answers_them(
    text: str, tool: str, args: dict[str, object]
) -> None:
    """Found using the app as the seeded manager: these gave every call unfiltered, the
    manager's own account, or the last call's summary — each charged."""
    from chat_app.agent import TOOLS
    from chat_app.llm.offline_router import route

    found = route(text, frozenset(t.name for t in TOOLS))
    assert found is not None and found.intent.tool == tool, (text, found)
    assert {k: found.args.get(k) for k in args} == args, found.args
