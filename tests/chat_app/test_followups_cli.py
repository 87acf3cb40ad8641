"""Multi-turn conversations through the real CLI (`klosesales ask --thread`, one process
per message, no terminal to confirm on) against real PostgreSQL and a running server,
with the simulated carrier: every message is a new process, so whatever the assistant
follows up on was read back from the thread in the database.

- "summarize my last call" → "call them again about the renewal" proposes a call to the
  same contact; nothing is dialled until "yes", sent by yet another process (a reload
  between the confirmation and the answer); the call is placed once.
- the consent-wording question followed by a call request records no consent and
  handles the call request.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.db import Database
from telephony.models import Call, ConsentRecord, Contact
from tests.chat_app.helpers import ask_cli, funded_rep, seed_dana_renewal
from tests.telephony.helpers import add_contact, number_callable_now
from tools.models import PendingAction


def _ask(
    database: Database, data_dir: Path, base: str, email: str, text: str, thread: str | None
) -> dict[str, Any]:
    """One `klosesales ask --json` process; its answer."""
    options = ["--json", *(["--thread", thread] if thread is not None else [])]
    out = ask_cli(database, data_dir, base, email, text, *options)
    answer: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return answer


async def _calls_to(db: Database, contact: Contact) -> list[Call]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Call).where(Call.contact_id == contact.id).order_by(Call.created_at)
            )
        )


async def _actions(db: Database, thread: str) -> list[PendingAction]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(PendingAction).where(PendingAction.thread_id == uuid.UUID(thread))
            )
        )


async def test_call_them_again_then_yes_from_another_process_places_one_call(
    db, database, simulated_server
) -> None:
    actor = await funded_rep(db, 600_000)
    dana, _ = await seed_dana_renewal(db, actor)
    base, data = simulated_server
    summary = _ask(database, data, base, actor.email, "summarize my last call", None)
    assert [c["name"] for c in summary["tool_calls"]] == ["summarize_call"]
    thread = summary["thread_id"]
    proposed = _ask(database, data, base, actor.email, "call them again about the renewal", thread)
    assert proposed["tool_calls"] == [
        {"name": "place_call", "args": {"contact": "Dana Whitfield", "purpose": "the renewal"}}
    ]
    assert proposed["answer"].startswith("Nothing done yet") and proposed["cost_mc"] == 0
    assert len(await _calls_to(db, dana)) == 1  # only the seeded one: nothing dialled

    placed = _ask(database, data, base, actor.email, "yes", thread)
    assert placed["answer"].startswith("Calling Dana Whitfield"), placed["answer"]
    assert placed["cost_mc"] == 500 and placed["thread_id"] == thread
    again = _ask(database, data, base, actor.email, "yes", thread)
    assert "already answered" in again["answer"] and again["cost_mc"] == 0

    calls = await _calls_to(db, dana)
    assert len(calls) == 2 and calls[-1].twilio_sid is not None  # one new call, placed once
    assert calls[-1].placed_by == actor.user_id
    assert [a.status for a in await _actions(db, thread)] == ["done"]


async def test_a_call_request_after_the_consent_question_records_no_consent(
    db, database, simulated_server
) -> None:
    base, data = simulated_server
    actor = await funded_rep(db, 600_000)
    jordan = await add_contact(db, actor, name="Jordan Lee", phone=number_callable_now())

    async def consents() -> int:
        async with db.session() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(ConsentRecord)
                    .where(ConsentRecord.contact_id == jordan.id)
                )
                or 0
            )

    before = await consents()
    asked = _ask(
        database,
        data,
        base,
        actor.email,
        "record express written consent for Jordan Lee from the web form",
        None,
    )
    assert "exact wording" in asked["answer"] and asked["cost_mc"] == 0
    thread = asked["thread_id"]
    request = "call Jordan Lee about our new scheduling software"
    handled = _ask(database, data, base, actor.email, request, thread)
    assert handled["tool_calls"] == [
        {
            "name": "place_call",
            "args": {"contact": "Jordan Lee", "purpose": "our new scheduling software"},
        }
    ]
    assert await consents() == before  # the request was not taken as the wording
    placed = _ask(database, data, base, actor.email, "yes", thread)
    assert placed["answer"].startswith("Calling Jordan Lee"), placed["answer"]
    assert await consents() == before
    (call,) = await _calls_to(db, jordan)
    assert call.twilio_sid is not None
