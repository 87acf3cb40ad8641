"""Campaigns (campaigns/service.py) through the real dispatcher and ledger: bad input is
refused with a clear answer and nothing dialled; a running campaign keeps to its
window (and a state's stricter hours), its concurrency cap, its retry rule and its
budget."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, text

from accounts.models import Role
from campaigns import service
from campaigns.models import Campaign, CampaignStatus, CampaignTarget, TargetStatus
from campaigns.results import CampaignResults
from campaigns.windows import EVERY_DAY, WEEKDAYS, CampaignWindow, callee_window
from core.db import Database
from telephony import callbacks, dispatch
from telephony.dispatch import DialRequest
from telephony.models import Call
from telephony.numbers import phone_info
from tests.accounts.helpers import make_member
from tests.campaigns.helpers import private_database
from tests.telephony.helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony


@pytest.fixture(scope="module")
async def _private(pg_server_url: str) -> AsyncIterator[Database]:
    with private_database(pg_server_url, "klosesales_campaigns") as database:
        yield database
        await database.dispose()


@pytest.fixture
async def db(_private: Database) -> Database:
    """This module's own database (not the shared one): no other process's dispatcher
    takes turns in its dial queue."""
    return _private


@pytest.fixture(autouse=True)
async def _quiet(db: Database):
    """Campaigns and dials of other tests must not take turns in these."""
    await _stop_everything(db)
    yield
    await _stop_everything(db)


async def _stop_everything(db: Database) -> None:
    async with db.session() as session:
        await session.execute(text("UPDATE campaigns SET status = 'canceled'"))
        await session.execute(
            text("UPDATE dial_queue SET status = 'canceled' WHERE status IN ('queued', 'dialing')")
        )
        await session.commit()


def _spec(selection: service.Selection, **changes) -> service.CampaignSpec:
    base = {
        "name": "Spring renewal",
        "purpose": "the spring renewal",
        "selection": selection,
        "window": CampaignWindow(WEEKDAYS, time(10), time(16)),
        "max_concurrent": 3,
        "budget_mc": 2_000_000,
        "retry_outcomes": ("no_answer",),
        "retry_after": timedelta(days=1),
        "max_attempts": 2,
    }
    base.update(changes)
    return service.CampaignSpec(**base)


async def _count_campaigns(db: Database, workspace_id: uuid.UUID) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Campaign)
                .where(Campaign.workspace_id == workspace_id)
            )
            or 0
        )


async def _create(db: Database, actor, spec, now=NOON_NY):
    async with db.session() as session:
        campaign, plan = await service.create_campaign(session, actor, spec, now=now)
        await session.commit()
    return campaign, plan


# --- bad input ------------------------------------------------------------------------------


async def test_a_campaign_with_no_consented_contacts_is_refused(db: Database):
    rep = await make_member(db, Role.REP)
    for name in ("Ann", "Bob"):
        await add_contact(db, rep.actor, name=name, consent=None)
    with pytest.raises(service.CampaignError) as refused:
        await _create(db, rep.actor, _spec(service.Selection(company="Acme")))
    assert "None of the 2 contacts can be called (2 no consent on record)" in str(refused.value)
    assert "nothing was dialled" in str(refused.value)
    assert await _count_campaigns(db, rep.actor.workspace_id) == 0


async def test_a_budget_below_one_minute_of_calls_is_refused(db: Database):
    rep = await make_member(db, Role.REP)
    await add_contact(db, rep.actor)
    with pytest.raises(service.CampaignError) as refused:
        await _create(db, rep.actor, _spec(service.Selection(), budget_mc=45_000))
    assert "less than one minute of calls" in str(refused.value)
    assert await _count_campaigns(db, rep.actor.workspace_id) == 0


async def test_a_window_that_never_opens_in_the_callees_zones_is_refused(db: Database):
    rep = await make_member(db, Role.REP)
    await add_contact(db, rep.actor, area="212")
    await add_contact(db, rep.actor, area="415", name="Cy")
    late = CampaignWindow(EVERY_DAY, time(21, 30), time(23, 0))
    with pytest.raises(service.CampaignError) as refused:
        await _create(db, rep.actor, _spec(service.Selection(), window=late))
    assert "window never opens" in str(refused.value)
    assert "outside the legal calling hours" in str(refused.value)
    assert await _count_campaigns(db, rep.actor.workspace_id) == 0


async def test_a_retry_rule_asking_for_five_attempts_a_day_is_refused(db: Database):
    rep = await make_member(db, Role.REP)
    await add_contact(db, rep.actor)
    greedy = _spec(service.Selection(), retry_after=timedelta(hours=4), max_attempts=5)
    with pytest.raises(service.CampaignError) as refused:
        await _create(db, rep.actor, greedy)
    assert "5 times within 24 hours" in str(refused.value)
    assert "the limit is 3 attempts" in str(refused.value)
    assert await _count_campaigns(db, rep.actor.workspace_id) == 0
    # Three a day is the limit, and allowed.
    fine = _spec(service.Selection(), retry_after=timedelta(hours=8), max_attempts=3)
    campaign, _plan = await _create(db, rep.actor, fine)
    assert campaign.max_attempts == 3


async def test_a_csv_callee_in_florida_is_called_only_in_florida_hours(db: Database):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 2000)
    florida = await add_contact(db, rep.actor, area="305", name="Flo")
    texas = await add_contact(db, rep.actor, area="214", name="Tex")
    spec = _spec(
        service.Selection(csv_phones=(florida.phone_e164, texas.phone_e164)),
        window=CampaignWindow(EVERY_DAY, time(10), time(21)),
    )
    async with db.session() as session:
        plan = await service.plan_campaign(session, rep.actor, spec, now=NOON_NY)
    assert "1 callee in Florida: stricter state hours apply" in plan.describe()
    assert "until 20:00 their time" in plan.describe()
    campaign, _ = await _create(db, rep.actor, spec)
    # 20:30 in Miami, 19:30 in Dallas: inside the campaign's window for both, but past
    # Florida's 20:00.
    evening = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)
    await service.feed(db, evening)
    targets = await _targets(db, campaign.id)
    assert targets[texas.id].status == TargetStatus.QUEUED.value
    assert targets[florida.id].status == TargetStatus.WAITING.value
    # Florida's next chance: 10:00 the next morning in Miami (15:00 UTC).
    assert targets[florida.id].next_at == datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
    # And at dial time the guard says the same, whatever the queue holds.
    async with db.session() as session:
        request = DialRequest(campaign_id=campaign.id, contact_id=florida.id)
        verdict = await service.guard(session, request, florida, evening)
        await session.rollback()
    assert not verdict.allowed
    assert verdict.retry_at == datetime(2026, 11, 19, 15, 0, tzinfo=UTC)


# --- running -----------------------------------------------------------------------------


async def _targets(db: Database, campaign_id: uuid.UUID) -> dict[uuid.UUID, CampaignTarget]:
    async with db.session() as session:
        rows = await session.scalars(
            select(CampaignTarget).where(CampaignTarget.campaign_id == campaign_id)
        )
        return {t.contact_id: t for t in rows.all()}


async def _campaign_calls(db: Database, campaign_id: uuid.UUID) -> list[Call]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Call)
            .join(DialRequest, DialRequest.call_id == Call.id)
            .where(DialRequest.campaign_id == campaign_id)
            .order_by(Call.created_at)
        )
        return list(rows.all())


async def _end(db: Database, call: Call, status: str, seconds: int = 0) -> None:
    params = {
        "CallSid": call.twilio_sid or "",
        "CallStatus": status,
        "SequenceNumber": "5",
        "CallDuration": str(seconds),
    }
    await callbacks.apply_status(db, str(call.id), callbacks.parse_status(params))


async def _drain(dispatcher: dispatch.Dispatcher) -> int:
    n = 0
    while await dispatcher.step():
        n += 1
    return n


async def test_a_campaign_keeps_its_cap_and_retries_no_answers_the_next_day(db: Database):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 5000)
    people = [await add_contact(db, rep.actor, area="212", name=f"P{i}") for i in range(4)]
    spec = _spec(service.Selection(company="Acme"), max_concurrent=2)
    campaign, plan = await _create(db, rep.actor, spec)
    assert len(plan.included) == 4
    recorder = Recorder()
    telephony = recording_telephony(recorder, max_call_seconds=300)
    telephony.calls_per_second = 50
    clock = NOON_NY
    dispatcher = dispatch.Dispatcher(db, telephony, guard=service.guard, clock=lambda: clock)

    await service.feed(db, clock)
    await _drain(dispatcher)
    await service.feed(db, clock)  # the cap is used: nothing more is queued
    await _drain(dispatcher)
    first = await _campaign_calls(db, campaign.id)
    assert len(first) == 2
    assert len(recorder.requests) == 2

    await _end(db, first[0], "completed", 40)
    await _end(db, first[1], "no-answer")
    await service.feed(db, clock)
    await _drain(dispatcher)
    calls = await _campaign_calls(db, campaign.id)
    assert len(calls) == 4  # two more, never more than two at once
    targets = await _targets(db, campaign.id)
    retried = targets[first[1].contact_id]
    assert retried.status == TargetStatus.WAITING.value
    assert retried.last_outcome == "no_answer"
    assert retried.next_at > clock + timedelta(hours=23)
    assert targets[first[0].contact_id].status == TargetStatus.DONE.value
    for call in calls[2:]:
        await _end(db, call, "completed", 10)
    # A day after it ended (settled by the real clock), once the window is open: the
    # no-answer is tried once more, and only it.
    opens = callee_window(spec.window, phone_info(retried.phone_e164)).next_open(retried.next_at)
    assert opens is not None
    clock = opens
    await service.feed(db, clock)
    await service.feed(db, clock)
    await _drain(dispatcher)
    calls = await _campaign_calls(db, campaign.id)
    assert len(calls) == 5
    assert calls[-1].contact_id == first[1].contact_id
    await _end(db, calls[-1], "no-answer")
    await service.feed(db, clock)
    await service.feed(db, clock)
    async with db.session() as session:
        done = await session.get(Campaign, campaign.id, populate_existing=True)
        assert done is not None
        assert done.status == CampaignStatus.FINISHED.value  # two attempts: no third
    assert len(recorder.requests) == 5
    assert {c.contact_id for c in calls} == {p.id for p in people}


async def test_a_campaign_budget_is_never_overspent(db: Database):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 5000)
    for i in range(3):
        await add_contact(db, rep.actor, area="212", name=f"B{i}")
    spec = _spec(service.Selection(company="Acme"), budget_mc=100_000, max_attempts=1)
    campaign, _ = await _create(db, rep.actor, spec)
    recorder = Recorder()
    telephony = recording_telephony(recorder, max_call_seconds=600)
    telephony.calls_per_second = 50
    clock = [NOON_NY]
    dispatcher = dispatch.Dispatcher(db, telephony, guard=service.guard, clock=lambda: clock[0])

    await service.feed(db, NOON_NY)
    await _drain(dispatcher)
    calls = await _campaign_calls(db, campaign.id)
    assert len(calls) == 1  # the first call holds the whole budget: the others wait
    assert calls[0].time_limit_s == 100
    await _end(db, calls[0], "completed", 70)
    clock[0] = NOON_NY + timedelta(minutes=1)  # the waiting ones are tried again
    await service.feed(db, clock[0])
    await _drain(dispatcher)
    calls = await _campaign_calls(db, campaign.id)
    assert len(calls) == 2
    assert calls[1].time_limit_s == 30  # what is left of the budget
    await _end(db, calls[1], "completed", 30)
    clock[0] = NOON_NY + timedelta(minutes=2)
    await service.feed(db, clock[0])
    await _drain(dispatcher)
    await service.feed(db, clock[0])
    calls = await _campaign_calls(db, campaign.id)
    assert len(calls) == 2
    assert sum(c.cost_mc or 0 for c in calls) <= 100_000
    async with db.session() as session:
        done = await session.get(Campaign, campaign.id, populate_existing=True)
        assert done is not None
        assert done.status == CampaignStatus.FINISHED.value
        assert done.finished_reason == "budget spent"


async def test_pause_withdraws_queued_dials_and_cancel_skips_the_rest(db: Database):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 5000)
    for i in range(3):
        await add_contact(db, rep.actor, area="212", name=f"Q{i}")
    campaign, _ = await _create(db, rep.actor, _spec(service.Selection(company="Acme")))
    await service.feed(db, NOON_NY)
    async with db.session() as session:
        await service.set_status(session, rep.actor, str(campaign.id), CampaignStatus.PAUSED)
        await session.commit()
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    dispatcher = dispatch.Dispatcher(db, telephony, guard=service.guard, clock=lambda: NOON_NY)
    assert await _drain(dispatcher) == 0
    await service.feed(db, NOON_NY)  # a paused campaign queues nothing
    assert await _drain(dispatcher) == 0
    assert recorder.requests == []
    async with db.session() as session:
        with pytest.raises(service.CampaignError, match="already paused"):
            await service.set_status(session, rep.actor, None, CampaignStatus.PAUSED)
        await service.set_status(session, rep.actor, None, CampaignStatus.CANCELED)
        await session.commit()
    targets = await _targets(db, campaign.id)
    assert {t.status for t in targets.values()} == {TargetStatus.SKIPPED.value}


def test_the_results_chart_counts_whole_calls_by_outcome_in_words() -> None:
    results = CampaignResults(
        Campaign(name="the spring renewal"),
        outcomes=[("callback_booked", 2, 2, 80_000, 80), ("not_interested", 1, 1, 26_000, 26)],
    )
    figure = results.chart()
    (bars,) = figure.data
    assert list(bars.y) == [2, 1]
    assert all("_" not in str(x) for x in bars.x), list(bars.x)  # words, not keys
    assert figure.layout.yaxis.dtick == 1 and figure.layout.yaxis.tickformat == ",d"
    assert figure.layout.title.text == "the spring renewal: calls by outcome"
