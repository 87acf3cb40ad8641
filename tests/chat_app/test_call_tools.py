"""The call tools through the assistant (offline model, real database): contacts,
consent, placing calls behind the gate and a confirmation, status, lists, insights and
analytics with a chart and a CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from billing import ledger
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.llm.offline_router import route
from chat_app.turns import answer_message
from telephony.models import Call, ConsentRecord, Contact
from tests.accounts.helpers import make_member
from tests.chat_app.helpers import Asked
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import (
    WORDING,
    Recorder,
    add_contact,
    fund,
    number_callable_now,
    recording_telephony,
)

AGENT = build_agent(OfflineChatModel())
TOOLS = frozenset(t.name for t in AGENT.nodes["tools"].bound.tools_by_name.values())


async def _ask(db, actor, text: str, **kwargs):
    return await answer_message(db, AGENT, actor, text=text, message_id=str(uuid.uuid4()), **kwargs)


async def _rep(db, credits: float = 1000):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, credits)
    return rep


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        (
            "add a contact Jane Doe +1 415 555 0123 at Acme",
            "add_contact",
            {"name": "Jane Doe", "phone": "+14155550123", "company": "Acme"},
        ),
        (
            "add Jane Doe, 415-555-0123, company Acme",
            "add_contact",
            {"name": "Jane Doe", "phone": "+14155550123", "company": "Acme"},
        ),
        (
            "record express written consent for Jane Doe from the web form",
            "record_consent",
            {
                "contact": "Jane Doe",
                "consent_type": "express written",
                "source": "web form",
                "method": "web form",
            },
        ),
        (
            "Jane Doe gave consent on the webinar signup form",
            "record_consent",
            {"contact": "Jane Doe", "consent_type": "express", "source": "webinar signup form"},
        ),
        (
            "call Jane Doe about the spring promotion",
            "place_call",
            {"contact": "Jane Doe", "purpose": "the spring promotion"},
        ),
        (
            "place a call to +14155550123 to follow up on the demo",
            "place_call",
            {"contact": "+14155550123", "purpose": "follow up on the demo"},
        ),
        ("what's the status of my last call", "call_status", {}),
        ("status of call 1a2b3c4d", "call_status", {"call": "1a2b3c4d"}),
        ("hang up", "end_call", {}),
        ("show my failed calls", "list_calls", {"status": "failed"}),
        ("show calls with Jane Doe", "list_calls", {"contact": "Jane Doe"}),
        ("show the transcript of my call with Jane Doe", "get_transcript", {"call": "Jane Doe"}),
        ("summarize my last call", "summarize_call", {}),
        ("what objections came up on my call with Jane Doe", "call_insights", {"call": "Jane Doe"}),
        (
            "connect rate by rep this month",
            "analytics",
            {"metrics": ["connect_rate"], "dimension": "rep", "period": "this month"},
        ),
        (
            "how many calls per day last week",
            "analytics",
            {"metrics": ["calls"], "dimension": "day", "period": "last week"},
        ),
    ],
)
def test_the_offline_router_picks_the_tool_and_its_arguments(text, tool, args):
    found = route(text, TOOLS)
    assert found is not None and found.intent.tool == tool
    assert found.args == args


async def test_add_contact_and_record_consent_in_chat(db):
    rep = await _rep(db)
    phone = number_callable_now()
    confirmed = Asked(True)
    added = await _ask(db, rep.actor, f"add a contact Jane Doe {phone} at Acme", confirm=confirmed)
    assert "Added Jane Doe (Acme)" in added.body
    (question,) = confirmed.questions
    assert "Add the contact Jane Doe (Acme)" in question
    questions: list[str] = []

    async def answer(question: str) -> str:
        questions.append(question)
        return WORDING

    consent = await _ask(
        db,
        rep.actor,
        "record express written consent for Jane Doe from the web form",
        ask=answer,
        confirm=confirmed,
    )
    assert "Recorded prior express written consent" in consent.body
    assert len(questions) == 1 and "exact wording" in questions[0]
    # The user confirmed the wording they typed, shown in full.
    assert len(confirmed.questions) == 2 and WORDING in confirmed.questions[1]
    async with db.session() as session:
        record = await session.scalar(
            select(ConsentRecord)
            .join(Contact, Contact.id == ConsentRecord.contact_id)
            .where(Contact.owner_id == rep.actor.user_id)
        )
    assert record is not None and record.attested_by == rep.actor.user_id
    assert (record.source, record.wording) == ("web form", WORDING)


async def test_consent_without_its_wording_is_not_recorded(db):
    rep = await _rep(db)
    await add_contact(db, rep.actor, name="Jane Doe", phone=number_callable_now(), consent=None)

    async def silent(question: str) -> None:
        return None

    result = await _ask(
        db, rep.actor, "record express written consent for Jane Doe from the web form", ask=silent
    )
    assert "Consent not recorded" in result.body and "wording" in result.body
    async with db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ConsentRecord)
            .join(Contact, Contact.id == ConsentRecord.contact_id)
            .where(Contact.owner_id == rep.actor.user_id)
        )
    assert count == 0


async def test_an_invalid_number_is_refused_and_nothing_stored(db):
    rep = await _rep(db)
    asked = Asked(True)
    result = await _ask(db, rep.actor, "add a contact Jane Doe +1 555 0 at Acme", confirm=asked)
    assert "Not added" in result.body and asked.questions == []  # refused before asking
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.owner_id == rep.actor.user_id)
        )
    assert count == 0


async def test_the_gate_refuses_without_asking_and_holds_nothing(db):
    rep = await _rep(db)
    await add_contact(db, rep.actor, name="Jane Doe", phone=number_callable_now(), consent=None)
    recorder, asked = Recorder(), Asked(True)
    result = await _ask(
        db,
        rep.actor,
        "call Jane Doe about the spring promotion",
        telephony=recording_telephony(recorder),
        confirm=asked,
    )
    assert "Not placed" in result.body and "consent" in result.body.lower()
    assert asked.questions == [] and recorder.requests == []
    async with db.session() as session:
        balance = await ledger.get_balance(session, rep.actor.workspace_id)
    assert balance.held_mc == 0


async def test_a_declined_call_is_not_placed(db):
    rep = await _rep(db)
    await add_contact(db, rep.actor, name="Jane Doe", phone=number_callable_now())
    recorder, asked = Recorder(), Asked(False)
    result = await _ask(
        db,
        rep.actor,
        "call Jane Doe about the spring promotion",
        telephony=recording_telephony(recorder),
        confirm=asked,
    )
    assert "Not placed; nothing was charged." in result.body
    assert len(asked.questions) == 1
    question = asked.questions[0]
    assert "OK to call Jane Doe" in question and "costs at most" in question
    assert recorder.requests == []


async def test_a_confirmed_call_is_placed_with_its_hold_as_time_limit(db):
    rep = await _rep(db, credits=200)
    await add_contact(db, rep.actor, name="Jane Doe", phone=number_callable_now())
    recorder, watched = Recorder(), []

    async def watch(call_id: uuid.UUID) -> None:
        watched.append(call_id)

    result = await _ask(
        db,
        rep.actor,
        "call Jane Doe about the spring promotion",
        telephony=recording_telephony(recorder),
        confirm=Asked(True),
        watch_call=watch,
    )
    assert "Calling Jane Doe" in result.body
    assert len(recorder.requests) == 1 and len(watched) == 1
    async with db.session() as session:
        call = await session.get(Call, watched[0])
        balance = await ledger.get_balance(session, rep.actor.workspace_id)
    assert call is not None and call.brief["purpose"] == "the spring promotion"
    # 200 credits less the 0.5 held for this answer → 199 s affordable, under the cap.
    assert recorder.requests[0].time_limit_s == call.time_limit_s == 199
    assert balance.held_mc == 199_000


async def test_an_ambiguous_name_asks_which_one(db):
    rep = await _rep(db)
    await add_contact(db, rep.actor, name="Jane Doe", phone=number_callable_now())
    await add_contact(db, rep.actor, name="Jane Dorsey", phone=number_callable_now())
    recorder, asked = Recorder(), Asked(True)
    result = await _ask(
        db,
        rep.actor,
        "call Jane about the spring promotion",
        telephony=recording_telephony(recorder),
        confirm=asked,
    )
    assert "Jane Doe" in result.body and "Jane Dorsey" in result.body
    assert "Which one" in result.body
    assert asked.questions == [] and recorder.requests == []


async def test_reps_list_only_their_own_calls(db):
    rep = await _rep(db)
    other = await make_member(db, Role.REP, workspace_id=rep.actor.workspace_id)
    mine = await make_contact(db, rep.actor, name="Mia Mine")
    theirs = await make_contact(db, other.actor, name="Theo Theirs")
    now = datetime.now(UTC) - timedelta(hours=1)
    await seed_call(db, mine, rep.actor.user_id, at=now, duration_s=30, cost_mc=30_000)
    await seed_call(db, theirs, other.actor.user_id, at=now, duration_s=40, cost_mc=40_000)
    result = await _ask(db, rep.actor, "list my calls")
    assert "Mia Mine" in result.body and "Theo Theirs" not in result.body
    snooping = await _ask(db, rep.actor, "show calls with Theo Theirs")
    assert "Theo" in snooping.body and "No contact matching" in snooping.body


async def test_a_summary_is_labelled_and_an_analytics_answer_brings_a_chart_and_csv(db):
    rep = await _rep(db)
    contact = await make_contact(db, rep.actor, name="Ava Stone")
    await seed_call(
        db,
        contact,
        rep.actor.user_id,
        at=datetime.now(UTC) - timedelta(hours=2),
        duration_s=75,
        cost_mc=75_000,
        outcome="interested",
        turns=[
            ("agent", "Hi Ava, this is an AI assistant calling for us. This call is recorded."),
            ("prospect", "Honestly it sounds expensive, but tell me more."),
        ],
    )
    summary = await _ask(db, rep.actor, "summarize my last call")
    assert summary.body.startswith("AI-generated summary — may be inaccurate")
    assert "Ava" in summary.body
    report = await _ask(db, rep.actor, "how many calls per day last 30 days")
    assert "Calls by day" in report.body and "| Day | Calls |" in report.body
    kinds = sorted(a.kind for a in report.artifacts)
    assert kinds == ["file", "plotly"]
    csv = next(a for a in report.artifacts if a.kind == "file")
    assert csv.name.endswith(".csv") and str(csv.content).splitlines()[0].startswith("day,")
    assert (summary.cost_mc, report.cost_mc) == (500, 500)  # assistant work: charged


async def test_search_calls_cites_the_call_and_never_shows_another_reps_words(db):
    from retrieval.embeddings import LocalMiniLM
    from retrieval.indexing import index_call

    rep = await _rep(db)
    other = await make_member(db, Role.REP, workspace_id=rep.actor.workspace_id)
    mine = await make_contact(db, rep.actor, name="Nora Quill")
    theirs = await make_contact(db, other.actor, name="Otto Vance")
    at = datetime.now(UTC) - timedelta(hours=3)
    my_call = await seed_call(
        db,
        mine,
        rep.actor.user_id,
        at=at,
        duration_s=60,
        cost_mc=60_000,
        turns=[
            ("agent", "Hi Nora, this is an AI assistant. This call is recorded."),
            ("prospect", "We already use Zephyrware for our dialer and it works fine."),
        ],
    )
    their_call = await seed_call(
        db,
        theirs,
        other.actor.user_id,
        at=at,
        duration_s=60,
        cost_mc=60_000,
        turns=[
            ("agent", "Hi Otto, this is an AI assistant. This call is recorded."),
            ("prospect", "Zephyrware is what we use; our secret budget is tiny."),
        ],
    )
    embedder = LocalMiniLM()
    for call_id in (my_call, their_call):
        await index_call(db, call_id, embedder)
    result = await _ask(db, rep.actor, "search my calls for Zephyrware")
    assert "Nora Quill" in result.body and f"call {str(my_call)[:8]}" in result.body
    assert "Otto" not in result.body and "secret budget" not in result.body
    empty = await _ask(db, rep.actor, "search my calls for ")
    assert "Otto" not in empty.body
    # Charged only when the search found something (issue 17).
    assert empty.cost_mc == (0 if empty.body.startswith("Nothing on your calls") else 500)
    assert result.cost_mc == 500
