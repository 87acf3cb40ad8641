"""Campaigns from chat (offline model, real database): the issue's request creates a
campaign after ONE confirmation showing who is called and who is left out and why, the
schedule, the concurrency, the retry rule and the budget; bad requests get a clear
answer and nothing is created or dialled; status, pause and results (table, chart,
CSV) follow."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from accounts.models import Role
from campaigns.models import Campaign, CampaignStatus
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import answer_message
from telephony import dnc
from telephony.dispatch import DialRequest
from tests.accounts.helpers import make_member
from tests.chat_app.helpers import Asked
from tests.telephony.helpers import Recorder, add_contact, fund, recording_telephony

AGENT = build_agent(OfflineChatModel())
REQUEST = (
    "Call my contacts at Acme who haven't been reached about the spring renewal, weekdays "
    "10–4 their time, at most 3 at a time, try no-answers again tomorrow, spend at most "
    "2,000 credits"
)


async def _ask(db, actor, text: str, **kwargs):
    return await answer_message(
        db,
        AGENT,
        actor,
        text=text,
        message_id=str(uuid.uuid4()),
        telephony=recording_telephony(Recorder()),
        **kwargs,
    )


async def _campaigns(db, workspace_id) -> list[Campaign]:
    async with db.session() as session:
        rows = await session.scalars(select(Campaign).where(Campaign.workspace_id == workspace_id))
        return list(rows.all())


async def test_the_issues_request_creates_a_campaign_after_one_confirmation(db):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    for name in ("Ann Able", "Ben Best", "Cy Coe"):
        await add_contact(db, rep.actor, name=name, area="212")
    await add_contact(db, rep.actor, name="Nora Noconsent", consent=None)
    blocked = await add_contact(db, rep.actor, name="Dee Dnc", area="212")
    async with db.session() as session:
        await dnc.add_to_dnc(session, rep.actor, blocked.phone_e164, reason="asked")
        await session.commit()

    asked = Asked(True)
    result = await _ask(db, rep.actor, REQUEST, confirm=asked)
    assert len(asked.questions) == 1  # one confirmation
    question = asked.questions[0]
    assert "Will call **3** contacts" in question
    assert "Ann Able" in question  # a sample of who
    assert "Left out: **2**" in question
    assert "no consent on record" in question, question
    assert "on do-not-call" in question, question
    assert "weekdays 10:00–16:00 callee's local time" in question
    assert "At most 3 calls at a time" in question
    assert "no answer tried again after a day" in question
    assert "at most 2,000 credits" in question or "at most 2000 credits" in question
    assert "is running" in result.body
    [campaign] = await _campaigns(db, rep.actor.workspace_id)
    assert (campaign.max_concurrent, campaign.budget_mc) == (3, 2_000_000)
    assert campaign.retry_outcomes == ["no_answer"] and campaign.retry_after_s == 86400

    status = await _ask(db, rep.actor, "how is the campaign going?")
    assert "0 of 3 contacts finished" in status.body and "2 contacts were left out" in status.body
    paused = await _ask(db, rep.actor, "pause the campaign", confirm=Asked(True))
    assert "is paused" in paused.body
    async with db.session() as session:
        found = await session.get(Campaign, campaign.id)
        assert found is not None
        assert found.status == CampaignStatus.PAUSED.value
    results = await _ask(db, rep.actor, "show the campaign results")
    assert "No calls have been placed yet" in results.body


async def test_a_campaign_nobody_may_be_called_in_is_refused_in_chat(db):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    await add_contact(db, rep.actor, name="Nora Noconsent", consent=None)
    asked = Asked(True)
    result = await _ask(db, rep.actor, REQUEST, confirm=asked)
    assert "Campaign not created" in result.body and "no consent on record" in result.body
    assert asked.questions == []  # refused before asking
    assert await _campaigns(db, rep.actor.workspace_id) == []
    async with db.session() as session:
        queued = await session.scalar(
            select(func.count())
            .select_from(DialRequest)
            .where(DialRequest.workspace_id == rep.actor.workspace_id)
        )
    assert queued == 0


async def test_a_retry_rule_of_five_attempts_a_day_is_refused_in_chat(db):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    await add_contact(db, rep.actor, name="Ann Able", area="212")
    asked = Asked(True)
    result = await _ask(
        db,
        rep.actor,
        "Call my contacts at Acme about the renewal, retry no answers 5 times a day, "
        "spend 500 credits",
        confirm=asked,
    )
    assert "Campaign not created" in result.body and "the limit is 3 attempts" in result.body
    assert asked.questions == []
    assert await _campaigns(db, rep.actor.workspace_id) == []
