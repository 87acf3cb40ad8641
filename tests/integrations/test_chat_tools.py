"""The chat side of parts 4 and 5: a manager configures webhooks in chat (a rep may
not; a URL that is not https or points inside is refused with a clear answer and
nothing stored), reads the delivery log; a rep sets what booked callbacks become; a
reminder's "Call now" proposes the call through the gate and the usual confirmation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from core.settings import get_settings
from integrations.delivery import deliver_due
from integrations.models import WebhookEndpoint
from integrations.webhooks import emit
from telephony import booked_callbacks
from telephony.call_settings import get_settings as call_settings
from telephony.followup_models import CallbackMode
from tests.accounts.helpers import Member, make_member
from tests.chat_app.helpers import Asked
from tests.integrations.receiver import receiver
from tests.telephony.helpers import (
    Recorder,
    add_contact,
    fund,
    number_callable_now,
    recording_telephony,
)
from tools.callbacks import call_back_now, callback_settings
from tools.context import AgentContext
from tools.webhooks import manage_webhooks


async def _run(tool: Any, ctx: AgentContext, **args: Any) -> str:
    result = await tool.coroutine(runtime=SimpleNamespace(context=ctx), **args)
    return str(result[0] if isinstance(result, tuple) else result)


@pytest.fixture
def loopback_receivers(monkeypatch):
    """The explicit test setting that lets a webhook reach a receiver on 127.0.0.1."""
    monkeypatch.setenv("WEBHOOK_TEST_ALLOW_LOOPBACK", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("WEBHOOK_TEST_ALLOW_LOOPBACK")
    get_settings.cache_clear()


async def _endpoints(db, workspace_id: uuid.UUID) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).where(WebhookEndpoint.workspace_id == workspace_id)
            )
            or 0
        )


async def test_manager_adds_a_webhook_and_reads_the_log(db, loopback_receivers) -> None:
    manager = await make_member(db, Role.MANAGER)
    asked = Asked(True)
    ctx = AgentContext(actor=manager.actor, db=db, confirm=asked)
    with receiver() as rx:
        answer = await _run(manage_webhooks, ctx, action="add", url=rx.url())
        assert "Signing secret" in answer and "whsec_" in answer
        assert len(asked.questions) == 1 and rx.url() in asked.questions[0]
        async with db.session() as session:
            await emit(session, manager.actor.workspace_id, "call.completed", {"id": "c-9"})
            await session.commit()
        await deliver_due(
            db, timeout_s=5, allow_loopback=True, workspace_id=manager.actor.workspace_id
        )
        assert len(rx.got) == 1
    log = await _run(manage_webhooks, ctx, action="log")
    assert "call.completed" in log and "delivered" in log
    listing = await _run(manage_webhooks, ctx, action="list")
    assert rx.url() in listing


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/in", "https://"),
        ("https://10.1.2.3/in", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data/", "private, loopback or link-local"),
        ("https://localhost/in", "private, loopback or link-local"),
    ],
)
async def test_unsafe_webhook_urls_are_refused_in_chat(db, url: str, why: str) -> None:
    manager = await make_member(db, Role.MANAGER)
    asked = Asked(True)
    ctx = AgentContext(actor=manager.actor, db=db, confirm=asked)
    answer = await _run(manage_webhooks, ctx, action="add", url=url)
    assert answer.startswith("Not added") and why in answer
    assert asked.questions == []  # nothing proposed
    assert await _endpoints(db, manager.actor.workspace_id) == 0


async def test_a_rep_cannot_manage_webhooks(db) -> None:
    rep = await make_member(db, Role.REP)
    ctx = AgentContext(actor=rep.actor, db=db, confirm=Asked(True))
    answer = await _run(manage_webhooks, ctx, action="add", url="https://hooks.example.com/x")
    assert "Only a manager" in answer
    assert "Only a manager" in await _run(manage_webhooks, ctx, action="log")
    assert await _endpoints(db, rep.actor.workspace_id) == 0


async def test_callback_settings_change_after_confirmation(db) -> None:
    rep = await make_member(db, Role.REP)
    asked = Asked(True)
    ctx = AgentContext(actor=rep.actor, db=db, confirm=asked)
    shown = await _run(callback_settings, ctx)
    assert "reminder in chat" in shown and asked.questions == []
    answer = await _run(callback_settings, ctx, callback_mode="call", handoff_on_goal="yes")
    assert answer.startswith("Saved") and len(asked.questions) == 1
    async with db.session() as session:
        chosen = await call_settings(session, rep.actor.workspace_id)
    assert chosen.callback_mode is CallbackMode.CALL and chosen.handoff_on_goal is True
    refused = await _run(callback_settings, ctx, callback_mode="sometimes")
    assert "scheduled call" in refused and len(asked.questions) == 1


async def _due_callback(db, purpose: str, overdue_by: timedelta) -> tuple[Member, uuid.UUID]:
    """A funded rep and the id of a callback they booked to a callable-now contact,
    due `overdue_by` ago."""
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor, phone=number_callable_now())
    async with db.session() as session:
        callback_id = await booked_callbacks.book(
            session,
            workspace_id=rep.actor.workspace_id,
            contact_id=contact.id,
            rep_id=rep.actor.user_id,
            call_id=None,
            source="call",
            purpose=purpose,
            due_at=datetime.now(UTC) - overdue_by,
        )
        await session.commit()
    assert callback_id is not None
    return rep, callback_id


async def test_call_now_goes_through_the_gate_and_confirmation(db) -> None:
    rep, callback_id = await _due_callback(db, "the spring renewal", timedelta(minutes=1))
    recorder = Recorder()
    asked = Asked(True)
    ctx = AgentContext(
        actor=rep.actor, db=db, confirm=asked, telephony=recording_telephony(recorder)
    )
    answer = await call_back_now(ctx, callback_id)
    assert len(asked.questions) == 1
    assert "Cost:" in asked.questions[0] and "back now" in asked.questions[0]
    assert answer.startswith("Calling") and len(recorder.requests) == 1
    # Someone else's callback: nothing proposed, nothing dialled.
    other = await make_member(db, Role.REP)
    other_ctx = AgentContext(
        actor=other.actor, db=db, confirm=Asked(True), telephony=recording_telephony(recorder)
    )
    refused = await call_back_now(other_ctx, callback_id)
    assert "not one of yours" in refused and len(recorder.requests) == 1


async def test_call_now_declined_dials_nobody(db) -> None:
    rep, callback_id = await _due_callback(db, "renewal", timedelta(0))
    recorder = Recorder()
    ctx = AgentContext(
        actor=rep.actor, db=db, confirm=Asked(False), telephony=recording_telephony(recorder)
    )
    answer = await call_back_now(ctx, callback_id)
    assert "Not placed" in answer and recorder.requests == []
