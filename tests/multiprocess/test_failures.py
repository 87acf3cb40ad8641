"""What goes wrong in a fleet: a process killed with `kill -9` in the middle of a call,
and a chat whose websocket a proxy drops (the client comes back to the same process,
as the sticky cookie sends it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import select, text
from websockets.asyncio.client import connect

from accounts.models import Role
from core.db import Database
from telephony.models import Contact
from tests.accounts.helpers import make_member
from tests.multiprocess.calls import placed_call, settlement
from tests.multiprocess.chat import chat_cookies, open_chat
from tests.multiprocess.fleet import (
    WAIT_S,
    Fleet,
    relay_reply,
    relay_socket_url,
    serve,
    signed_post,
    status_params,
)
from tests.telephony.helpers import fund, number_callable_now

SWEEP_WAIT_S = 240.0  # the sweep runs every minute: a guard against a hang only


async def test_a_process_killed_during_a_call_leaves_its_hold_to_the_sweep(
    db: Database, fleet: Fleet, database: Database, tmp_path: Path
) -> None:
    """The process holding the relay is killed with -9 and Twilio's final callback never
    comes: the worker's sweep settles the call from the carrier's record and releases the
    hold; a late final callback then changes nothing. Nothing is billed twice."""
    call, phone = await placed_call(db, fleet.public)
    sid, query = call.twilio_sid or "", f"?call={call.id}"
    with serve(database, tmp_path / "c", public_base_url=fleet.public) as c:
        url, headers = relay_socket_url(c.base, phone.relay_url(call.id))
        async with connect(url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "setup", "callSid": sid}))
            await relay_reply(ws)
            answer = await signed_post(
                c.base,
                fleet.public,
                f"/webhooks/twilio/status{query}",
                status_params(sid, "in-progress", 1),
            )
            assert answer.status_code == 200
            c.kill_9()
    _, _, held_mc, _, _ = await settlement(db, call)
    assert held_mc > 0  # the hold outlived the process
    # Time passes: the call is now long past its time limit (ring + limit + grace).
    async with db.session() as session:
        await session.execute(
            text("UPDATE calls SET created_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": call.id},
        )
        await session.commit()
    settled = await _settled_by_the_sweep(db, call.id)
    assert settled
    late = status_params(sid, "completed", 2, CallDuration="40")
    answer = await signed_post(fleet.b.base, fleet.public, f"/webhooks/twilio/status{query}", late)
    assert answer.status_code == 200
    fresh, balance_mc, held_mc, debits, results = await settlement(db, call)
    # The simulated carrier of the sweep's process has no record of a call another
    # process dialled: nothing was connected there, nothing is owed.
    assert (fresh.status, fresh.cost_mc) == ("failed", 0)
    assert (balance_mc, held_mc) == (100_000, 0)
    assert sum(debits) == 0
    assert "settled" not in results and results.count("after_terminal") == 1


async def _settled_by_the_sweep(db: Database, call_id: object) -> bool:
    async with asyncio.timeout(SWEEP_WAIT_S):
        while True:
            async with db.session() as session:
                settled_at = await session.scalar(
                    text("SELECT settled_at FROM calls WHERE id = :id"), {"id": call_id}
                )
            if settled_at is not None:
                return True
            await asyncio.sleep(1)


async def test_a_dropped_chat_socket_reconnects_to_its_process_and_goes_on(
    db: Database, fleet: Fleet
) -> None:
    """The rep is asked to confirm a new contact when the proxy drops the chat's socket.
    The client reconnects to A with the same session: the question is offered again and
    answered, the conversation's thread is the same, and notices raised elsewhere (a
    call settled on B, its insights written by the worker) still reach the chat."""
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 5_000)
    cookies = await chat_cookies(fleet.a.base, fleet.public, db, rep)
    phone = number_callable_now()
    async with open_chat(fleet.a.base, fleet.public, cookies) as chat:
        await chat.text_starting("Hi ")
        await chat.send("how many credits do I have")  # the conversation's first turn
        await chat.text_containing("· balance")  # answered, and charged
        await chat.send(f"add a contact Dana Whitfield {phone} at Northwind")
        ask = await asyncio.wait_for(chat.asks.get(), WAIT_S)
        assert "Dana Whitfield" in json.dumps(ask)
        session_id = chat.session_id
        await chat.drop()  # unanswered: the proxy cut the socket
    async with open_chat(fleet.a.base, fleet.public, cookies, session_id=session_id) as again:
        yes = await again.action_named("pending_yes")
        await again.press(fleet.a.base, fleet.public, cookies, yes)
        await again.text_containing("Added Dana Whitfield")
        # Raised on B and by the worker; shown in the chat that reconnected to A.
        call, _ = await placed_call(db, fleet.public, by=rep.actor)
        sid, query = call.twilio_sid or "", f"?call={call.id}"
        for seq, (status, extra) in enumerate(
            (("in-progress", {}), ("completed", {"CallDuration": "12"}))
        ):
            answer = await signed_post(
                fleet.b.base,
                fleet.public,
                f"/webhooks/twilio/status{query}",
                status_params(sid, status, seq, **extra),
            )
            assert answer.status_code == 200
        notice = await again.text_containing("Summary (AI-generated, may be inaccurate)")
        assert notice["output"].startswith("**Call with Dana Lee")
    async with db.session() as session:
        added = (
            await session.scalars(
                select(Contact).where(
                    Contact.workspace_id == rep.actor.workspace_id, Contact.phone_e164 == phone
                )
            )
        ).all()
    assert len(added) == 1  # added once, by the answer given after the reconnect
