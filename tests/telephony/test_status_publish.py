"""A status callback is one round trip to the database (`call_status_publish`,
migration 0032, issue 19): applied, published and — for a settlement — asked whether
the after-settlement step has work, in one statement and one transaction.

- A settling callback makes one database call, not two (the follow-up question used
  to be a second statement after every settlement).
- Its events still go out when it commits: the call id on `ks_call` for a status that
  moved the call on or settled it, the workspace on `ks_notices` for a settlement;
  nothing for a duplicate or a stale status.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from accounts.models import Role
from core import events, sql_functions
from core.db import Database
from telephony import callbacks, calls
from tests.accounts.helpers import make_member

from .helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony

SENTINEL = "ks_test_sentinel"


async def _placed(db: Database) -> tuple[Any, Any]:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    call = await calls.place_call(
        db, rep.actor, contact.id, recording_telephony(Recorder()), purpose="renewal", now=NOON_NY
    )
    return rep, call


def _status(call: Any, status: str, seq: int, **extra: str) -> callbacks.StatusCallback:
    form = {"CallSid": call.twilio_sid or "", "CallStatus": status, "SequenceNumber": str(seq)}
    return callbacks.parse_status({**form, **extra})


async def test_a_settling_callback_is_one_database_call(db: Database, monkeypatch) -> None:
    made: list[str] = []
    real = sql_functions.call_function_alone

    async def counted(db: Database, statement: Any, params: dict[str, Any]) -> Any:
        made.append(statement.text)
        return await real(db, statement, params)

    monkeypatch.setattr(callbacks, "call_function_alone", counted)
    _rep, call = await _placed(db)
    done = _status(call, "completed", 3, CallDuration="30")
    applied = await callbacks.apply_status(db, str(call.id), done)
    assert applied.result == "settled" and applied.cost_mc == 30_000
    assert len(made) == 1, made


async def _events_of(db: Database, run: Any) -> list[tuple[str, str]]:
    """The (channel, payload) of every `ks_call` and `ks_notices` event committed while
    `run()` ran, in order (a sentinel sent afterwards marks the end: no waiting)."""
    async with await psycopg.AsyncConnection.connect(db.libpq_url, autocommit=True) as conn:
        for channel in (events.CALL_PROGRESS, events.NOTICES, SENTINEL):
            await conn.execute(f"LISTEN {channel}")
        await run()
        await conn.execute(f"NOTIFY {SENTINEL}")
        seen = []
        async for note in conn.notifies():
            if note.channel == SENTINEL:
                break
            seen.append((note.channel, note.payload))
    return seen


@pytest.mark.parametrize("path", ["ringing", "settle", "duplicate", "stale"])
async def test_events_go_out_with_the_callback(db: Database, path: str) -> None:
    rep, call = await _placed(db)
    workspace = str(rep.actor.workspace_id)
    ringing = _status(call, "ringing", 1)
    done = _status(call, "completed", 3, CallDuration="12")
    if path in ("duplicate", "stale"):
        await callbacks.apply_status(db, str(call.id), done)
    sent = {"ringing": ringing, "settle": done, "duplicate": done, "stale": ringing}[path]
    results: list[str] = []

    async def run() -> None:
        results.append((await callbacks.apply_status(db, str(call.id), sent)).result)

    seen = await _events_of(db, run)
    mine = str(call.id)
    expected = {
        "ringing": ("applied", [(events.CALL_PROGRESS, mine)]),
        "settle": ("settled", [(events.CALL_PROGRESS, mine), (events.NOTICES, workspace)]),
        "duplicate": ("duplicate", []),
        "stale": ("after_terminal", []),
    }[path]
    assert (results[0], [e for e in seen if e[1] in (mine, workspace)]) == expected
