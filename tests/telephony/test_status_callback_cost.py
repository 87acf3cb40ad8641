"""What a signed status callback costs the server stays what it needs (issue 19).

- Every dependency of Twilio's webhooks runs on the event loop: a plain `def`
  dependency is run by FastAPI in a worker thread, a thread-pool round trip per
  dependency on every callback.
- A settlement opens the after-settlement transaction (`on_settled`: a booked
  callback, the `call.completed` event) only when there is something for it to do,
  and still does both when there is.
"""

from __future__ import annotations

import inspect
import uuid
from datetime import timedelta

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import select, update

from accounts.models import Role
from core.db import Database
from integrations.webhooks import add_endpoint
from telephony import callbacks, calls, outbound_events
from telephony import views as telephony_views
from telephony.followup_models import BookedCallback
from telephony.models import Call, CallOutcome
from tests.accounts.helpers import make_member

from .helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony

WEBHOOKS = ("/webhooks/twilio/amd", "/webhooks/twilio/recording")
STATUS = "/webhooks/twilio/status"


def _route(path: str) -> APIRoute:
    return next(
        r for r in telephony_views.router.routes if isinstance(r, APIRoute) and r.path == path
    )


def _calls(dependant: Dependant) -> list[object]:
    found: list[object] = []
    for dep in dependant.dependencies:
        found.append(dep.call)
        found.extend(_calls(dep))
    return found


@pytest.mark.parametrize("path", WEBHOOKS)
def test_webhook_dependencies_are_coroutines(path: str) -> None:
    deps = [d for d in _calls(_route(path).dependant) if d is not None]
    assert deps, "the webhook has dependencies (the signed form, the database)"
    in_threads = [
        getattr(d, "__qualname__", repr(d)) for d in deps if not inspect.iscoroutinefunction(d)
    ]
    assert in_threads == [], f"run in the thread pool on every callback: {in_threads}"


def test_the_status_webhook_resolves_its_services_itself() -> None:
    """FastAPI's dependency machinery cost a status callback more than the rest of the
    request: the route takes the request alone (`telephony.deps.resolve`)."""
    route = _route(STATUS)
    assert route.dependant.dependencies == []
    assert [p.name for p in route.dependant.query_params] == []


class _Spy:
    """Counts `on_settled` calls and runs the real one."""

    def __init__(self) -> None:
        self.calls: list[uuid.UUID | None] = []
        self.real = outbound_events.on_settled

    async def __call__(self, db: Database, call_id: uuid.UUID | None) -> None:
        self.calls.append(call_id)
        await self.real(db, call_id)


async def _placed(db: Database):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    call = await calls.place_call(
        db, rep.actor, contact.id, recording_telephony(Recorder()), purpose="renewal", now=NOON_NY
    )
    return rep, call


async def _complete(db: Database, call: Call) -> callbacks.Applied:
    form = {
        "CallSid": call.twilio_sid or "",
        "CallStatus": "completed",
        "CallDuration": "30",
        "SequenceNumber": "3",
    }
    return await callbacks.apply_status(db, str(call.id), callbacks.parse_status(form))


async def test_no_follow_up_transaction_when_nothing_follows(db, monkeypatch) -> None:
    spy = _Spy()
    monkeypatch.setattr(outbound_events, "on_settled", spy)
    rep, call = await _placed(db)
    # A receiver of other events only: `call.completed` has nobody to go to.
    async with db.session() as session:
        await add_endpoint(
            session,
            rep.actor.workspace_id,
            "https://93.184.216.34/hook",
            event_types=["contact.opted_out"],
        )
        await session.commit()
    assert (await _complete(db, call)).result == "settled"
    assert spy.calls == []


async def test_a_booked_callback_is_still_booked_on_settlement(db, monkeypatch) -> None:
    spy = _Spy()
    monkeypatch.setattr(outbound_events, "on_settled", spy)
    _rep, call = await _placed(db)
    async with db.session() as session:
        await session.execute(
            update(Call)
            .where(Call.id == call.id)
            .values(
                outcome=CallOutcome.CALLBACK_BOOKED.value,
                callback_at=NOON_NY + timedelta(days=1),
            )
        )
        await session.commit()
    assert (await _complete(db, call)).result == "settled"
    assert spy.calls == [call.id]
    async with db.session() as session:
        booked = (
            await session.scalars(select(BookedCallback).where(BookedCallback.call_id == call.id))
        ).all()
    assert len(booked) == 1 and booked[0].due_at == NOON_NY + timedelta(days=1)


async def test_a_receiver_still_gets_call_completed(db, monkeypatch) -> None:
    spy = _Spy()
    monkeypatch.setattr(outbound_events, "on_settled", spy)
    rep, call = await _placed(db)
    async with db.session() as session:
        await add_endpoint(session, rep.actor.workspace_id, "https://93.184.216.34/hook")
        await session.commit()
    assert (await _complete(db, call)).result == "settled"
    assert spy.calls == [call.id]
