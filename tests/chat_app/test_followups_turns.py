"""Follow-ups through whole turns on real PostgreSQL (chat_app.turns + the offline model):
what a tool answered about is stored with the thread and read back by a fresh agent (a
reload, another process); a typed "yes" answers the thread's pending proposal once; an
expired one says so; the consent question does not swallow a new request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from accounts.models import Role
from accounts.service import Actor
from chat_app.agent import build_agent
from chat_app.llm import followups
from chat_app.llm.offline import OfflineChatModel
from chat_app.models import AssistantMessage
from chat_app.turns import TurnResult, answer_message
from core.db import Database
from telephony.models import ConsentRecord, Contact
from tests.accounts.helpers import make_member
from tests.chat_app.helpers import seed_dana_renewal
from tests.telephony.helpers import (
    Recorder,
    add_contact,
    fund,
    number_callable_now,
    recording_telephony,
)
from tools import actions
from tools.context import AgentContext
from tools.models import PendingAction


async def _say(
    db: Database, actor: Actor, text: str, thread: uuid.UUID | None, **kwargs: Any
) -> TurnResult:
    """One message, answered by a freshly built agent (nothing carried in memory: as
    after a page reload or in another process)."""
    agent = build_agent(OfflineChatModel())
    return await answer_message(
        db, agent, actor, text=text, message_id=str(uuid.uuid4()), thread_id=thread, **kwargs
    )


async def _tool_artifacts(db: Database, thread: uuid.UUID) -> list[Any]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AssistantMessage.message)
            .where(AssistantMessage.thread_id == thread)
            .order_by(AssistantMessage.seq)
        )
        return [m["data"].get("artifact") for m in rows if m["type"] == "tool"]


async def _actions(db: Database, thread: uuid.UUID) -> list[PendingAction]:
    async with db.session() as session:
        found = await session.scalars(
            select(PendingAction)
            .where(PendingAction.thread_id == thread)
            .order_by(PendingAction.created_at)
        )
        return list(found)


async def _rep_with_dana(db: Database) -> tuple[Actor, Contact, uuid.UUID]:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    dana, call_id = await seed_dana_renewal(db, rep.actor)
    return rep.actor, dana, call_id


async def test_call_them_again_after_a_summary_places_one_call_to_the_same_contact(db) -> None:
    actor, dana, seeded = await _rep_with_dana(db)
    recorder = Recorder()
    telephony = recording_telephony(recorder)

    summary = await _say(db, actor, "summarize my last call", None)
    assert summary.tool_calls[0].name == "summarize_call" and summary.cost_mc == 500
    thread = summary.thread_id
    assert thread is not None
    # What the summary was about is stored with the thread, in the tool result.
    (artifact,) = await _tool_artifacts(db, thread)
    assert artifact["about"]["contact"] == "Dana Whitfield"
    assert artifact["about"]["call"] == str(seeded)[:8]

    # Nobody answers the confirmation (the page is reloaded): the proposal waits, free.
    proposed = await _say(
        db, actor, "call them again about the renewal", thread, telephony=telephony
    )
    assert [(c.name, c.args) for c in proposed.tool_calls] == [
        ("place_call", {"contact": "Dana Whitfield", "purpose": "the renewal"})
    ]
    assert proposed.body.startswith("Nothing done yet") and proposed.cost_mc == 0
    (waiting,) = await _actions(db, thread)
    assert waiting.status == "pending" and waiting.payload["contact_id"] == str(dana.id)
    assert recorder.requests == []

    # A new agent, a new turn on the same thread: "yes" places the call, charged once.
    placed = await _say(db, actor, "yes", thread, telephony=telephony)
    assert placed.body.startswith("Calling Dana Whitfield"), placed.body
    assert placed.cost_mc == 500
    assert [r.to_e164 for r in recorder.requests] == [dana.phone_e164]
    assert [a.status for a in await _actions(db, thread)] == ["done"]

    # Nothing runs twice: a second "yes" says it was answered.
    again = await _say(db, actor, "yes", thread, telephony=telephony)
    assert again.body == actions.ALREADY_ANSWERED and again.cost_mc == 0
    assert len(recorder.requests) == 1

    # The placed call is now what the thread is about: "call her again" proposes to
    # Dana once more, with the purpose given before.
    once_more = await _say(db, actor, "call her again", thread, telephony=telephony)
    assert [(c.name, c.args) for c in once_more.tool_calls] == [
        ("place_call", {"contact": "Dana Whitfield", "purpose": "the renewal"})
    ]
    assert len(recorder.requests) == 1


async def test_yes_to_an_expired_proposal_says_so_and_runs_nothing(db) -> None:
    actor, _, _ = await _rep_with_dana(db)
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    proposed = await _say(db, actor, "call Dana Whitfield about pricing", None, telephony=telephony)
    thread = proposed.thread_id
    assert thread is not None
    async with db.session() as session:
        await session.execute(
            update(PendingAction)
            .where(PendingAction.thread_id == thread)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    late = await _say(db, actor, "yes", thread, telephony=telephony)
    assert late.body == actions.EXPIRED and late.cost_mc == 0
    assert recorder.requests == []
    assert [a.status for a in await _actions(db, thread)] == ["expired"]
    # Turns later, an "ok" is not taken as an answer to that proposal.
    await _say(db, actor, "summarize my last call", thread)
    later = await _say(db, actor, "ok", thread, telephony=telephony)
    assert later.body != actions.EXPIRED and later.tool_calls == [] and later.cost_mc == 0


async def _consents(db: Database, contact: Contact) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(ConsentRecord)
                .where(ConsentRecord.contact_id == contact.id)
            )
            or 0
        )


async def test_a_call_request_typed_at_the_consent_question_records_no_consent(db) -> None:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    jordan = await add_contact(db, rep.actor, name="Jordan Lee", phone=number_callable_now())
    before = await _consents(db, jordan)
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    request = "call Jordan Lee about our new scheduling software"
    deferred: list[str] = []

    async def user_types(question: str) -> str:
        assert "exact wording" in question
        return request  # typed into the wording prompt

    screened = followups.screened(user_types, deferred.append)
    asked = await _say(
        db,
        rep.actor,
        "record express written consent for Jordan Lee from the web form",
        None,
        ask=screened,
        telephony=telephony,
    )
    assert "Consent not recorded" in asked.body and asked.cost_mc == 0
    assert deferred == [request]  # handed back as a request of its own
    assert await _consents(db, jordan) == before
    thread = asked.thread_id

    # The request, handled as such in the same conversation: a call proposed to Jordan.
    handled = await _say(db, rep.actor, deferred[0], thread, telephony=telephony)
    assert [(c.name, c.args) for c in handled.tool_calls] == [
        ("place_call", {"contact": "Jordan Lee", "purpose": "our new scheduling software"})
    ]
    assert await _consents(db, jordan) == before
    assert thread is not None and [a.tool for a in await _actions(db, thread)] == ["place_call"]


async def test_the_consent_wording_given_in_the_next_message_is_recorded(db) -> None:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    jordan = await add_contact(
        db, rep.actor, name="Jordan Lee", phone=number_callable_now(), consent=None
    )
    asked = await _say(
        db, rep.actor, "record express written consent for Jordan Lee from the web form", None
    )
    assert "exact wording" in asked.body and asked.cost_mc == 0
    wording = "I agree that Acme may call me about its products at this number."
    confirmed: list[str] = []

    async def yes(question: str) -> bool:
        confirmed.append(question)
        return True

    recorded = await _say(db, rep.actor, wording, asked.thread_id, confirm=yes)
    assert recorded.tool_calls[0].name == "record_consent"
    assert recorded.tool_calls[0].args["wording"] == wording
    assert "Recorded" in recorded.body and recorded.cost_mc == 500
    assert len(confirmed) == 1 and wording in confirmed[0]
    async with db.session() as session:
        stored = await session.scalar(
            select(ConsentRecord.wording).where(ConsentRecord.contact_id == jordan.id)
        )
    assert stored == wording


async def test_a_button_pressed_after_a_reload_is_kept_with_the_conversation(db) -> None:
    actor, dana, _ = await _rep_with_dana(db)
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    proposed = await _say(
        db, actor, "call Dana Whitfield about the spring pricing", None, telephony=telephony
    )
    thread = proposed.thread_id
    assert thread is not None
    (waiting,) = await _actions(db, thread)
    # The chat's "Yes, continue" button, pressed outside any turn (chat_app.app).
    outside = AgentContext(actor=actor, db=db, telephony=telephony, thread_id=thread)
    result, artifact = await actions.decide_noting(outside, waiting.id, yes=True)
    assert result.startswith("Calling Dana Whitfield")
    assert [r.to_e164 for r in recorder.requests] == [dana.phone_e164]
    assert artifact is not None and artifact["about"]["contact"] == "Dana Whitfield"
    await followups.record_decision(outside, waiting.id, yes=True, result=result, artifact=artifact)
    placed_call = artifact["about"]["call"]
    # The thread knows the call was placed: "that call" is it, "her" is Dana.
    status = await _say(db, actor, "what's the status of that call", thread)
    assert [(c.name, c.args) for c in status.tool_calls] == [("call_status", {"call": placed_call})]
    again = await _say(db, actor, "call her again", thread, telephony=telephony)
    assert [(c.name, c.args) for c in again.tool_calls] == [
        ("place_call", {"contact": "Dana Whitfield", "purpose": "the spring pricing"})
    ]
    assert len(recorder.requests) == 1  # proposed, not dialled


async def test_a_reference_with_nothing_to_refer_to_is_asked_back_free(db) -> None:
    actor, _, _ = await _rep_with_dana(db)
    recorder = Recorder()
    asked = await _say(db, actor, "call him again", None, telephony=recording_telephony(recorder))
    assert "Who do you mean by “him”" in asked.body
    assert asked.tool_calls == [] and asked.cost_mc == 0 and "no charge" in asked.footer
    assert asked.thread_id is not None and await _actions(db, asked.thread_id) == []
    assert recorder.requests == []


async def test_an_expired_proposal_is_reported_once_and_never_runs(db) -> None:
    """What a reopened chat tells about proposals that expired unanswered (chat_app.app
    `_offer_pending`): each once, and none of them can be run afterwards."""
    actor, _, _ = await _rep_with_dana(db)
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    proposed = await _say(db, actor, "call Dana Whitfield about pricing", None, telephony=telephony)
    thread = proposed.thread_id
    assert thread is not None
    async with db.session() as session:
        await session.execute(
            update(PendingAction)
            .where(PendingAction.thread_id == thread)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    ctx = AgentContext(actor=actor, db=db, telephony=telephony, thread_id=thread)
    (expired,) = await actions.expire_unanswered(ctx, thread)
    assert "now about: pricing" in expired.question
    assert await actions.expire_unanswered(ctx, thread) == []  # told once
    assert await actions.open_actions(ctx, thread) == []
    assert await actions.decide(ctx, expired.id, yes=True) == actions.ALREADY_ANSWERED
    assert recorder.requests == []
    assert [a.status for a in await _actions(db, thread)] == ["expired"]
