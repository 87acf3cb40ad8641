"""The four events reach a workspace's receivers from where they happen: a call's
final status callback (call.completed, once however often Twilio repeats it), the
insights job (call.insights_ready), an opt-out (contact.opted_out) and the campaigns'
`emit` (campaign.finished). A workspace without receivers stores nothing."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from accounts.models import Role
from billing.models import LedgerEntry
from core.db import Database
from insights.jobs import insights_ready
from insights.service import generate_insights
from integrations.models import WebhookDelivery, WebhookEvent
from integrations.webhooks import add_endpoint, emit
from telephony import callbacks, calls
from telephony.dnc import add_to_dnc
from telephony.models import DncSource
from tests.accounts.helpers import make_member
from tests.telephony.helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony


async def _receiver(db: Database, workspace_id: uuid.UUID) -> None:
    async with db.session() as session:
        await add_endpoint(session, workspace_id, "https://93.184.216.34/hook")
        await session.commit()


async def _events(db: Database, workspace_id: uuid.UUID) -> list[WebhookEvent]:
    async with db.session() as session:
        rows = await session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.workspace_id == workspace_id)
            .order_by(WebhookEvent.created_at)
        )
        return list(rows.all())


async def _settle(db: Database, telephony, rep, contact) -> uuid.UUID:
    call = await calls.place_call(
        db, rep.actor, contact.id, telephony, purpose="the renewal", now=NOON_NY
    )
    form = {
        "CallSid": call.twilio_sid or "",
        "CallStatus": "completed",
        "CallDuration": "42",
        "SequenceNumber": "3",
        "AccountSid": "AC" + "0" * 32,
    }
    for _ in range(2):  # Twilio repeats itself
        await callbacks.apply_status(db, str(call.id), callbacks.parse_status(form))
    return call.id


async def test_call_completed_once_per_call(db) -> None:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    await _receiver(db, rep.actor.workspace_id)
    contact = await add_contact(db, rep.actor)
    call_id = await _settle(db, recording_telephony(Recorder()), rep, contact)
    events = [e for e in await _events(db, rep.actor.workspace_id) if e.type == "call.completed"]
    assert len(events) == 1
    data = events[0].payload["data"]
    assert data["id"] == str(call_id) and data["duration_s"] == 42
    assert data["cost_credits"] == 42
    async with db.session() as session:
        deliveries = (
            await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.event_id == events[0].id)
            )
        ).all()
        debits = (
            await session.scalars(
                select(LedgerEntry).where(
                    LedgerEntry.idempotency_key.like(f"%{call_id}%"), LedgerEntry.kind == "call"
                )
            )
        ).all()
    assert len(deliveries) == 1 and deliveries[0].status == "pending"
    assert len(debits) == 1  # the money moved once, too


async def test_no_receivers_no_events(db) -> None:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    await _settle(db, recording_telephony(Recorder()), rep, contact)
    assert await _events(db, rep.actor.workspace_id) == []


async def test_insights_ready_and_opted_out(db) -> None:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    await _receiver(db, rep.actor.workspace_id)
    contact = await add_contact(db, rep.actor)
    call_id = await _settle(db, recording_telephony(Recorder()), rep, contact)
    stored = await generate_insights(db, call_id, openai=None)
    await insights_ready(db, stored)
    await insights_ready(db, stored)  # a retried job: still one event
    async with db.session() as session:
        await add_to_dnc(
            session,
            rep.actor,
            contact.phone_e164,
            reason="said stop calling me",
            source=DncSource.OPT_OUT_CALL,
            reference="CA-test",
        )
        await session.commit()
    types = [e.type for e in await _events(db, rep.actor.workspace_id)]
    assert types.count("call.insights_ready") == 1
    assert types.count("contact.opted_out") == 1
    opted = next(
        e for e in await _events(db, rep.actor.workspace_id) if e.type == "contact.opted_out"
    )
    assert opted.payload["data"]["id"] == str(contact.id)
    assert opted.payload["data"]["source"] == "opt_out_call"
    insight = next(
        e for e in await _events(db, rep.actor.workspace_id) if e.type == "call.insights_ready"
    )
    assert insight.payload["data"]["ai_generated"] is True


async def test_campaigns_can_emit_campaign_finished(db) -> None:
    manager = await make_member(db, Role.MANAGER)
    await _receiver(db, manager.actor.workspace_id)
    async with db.session() as session:
        first = await emit(
            session, manager.actor.workspace_id, "campaign.finished", {"id": "cmp-1", "calls": 3}
        )
        again = await emit(
            session, manager.actor.workspace_id, "campaign.finished", {"id": "cmp-1", "calls": 3}
        )
        await session.commit()
    assert first is not None and again is None
