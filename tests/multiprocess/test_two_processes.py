"""Two real `klosesales serve` processes (A and B) and a `klosesales worker` on the one
test database, as behind a load balancer: whatever lands on one process reaches the
socket another one holds, through PostgreSQL LISTEN/NOTIFY (core/events.py).

B's address is the fleet's PUBLIC_BASE_URL: Twilio posts every callback there and
opens relay sockets there; a test that wants a socket on A opens it on A with the same
signed URL, as a load balancer might send it. The chats' safety-net re-read is an
hour (tests/multiprocess/fleet.py), so nothing reaches a chat here but an event.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from accounts.models import Role
from core.db import Database
from telephony.models import Call, CallCallback
from tests.accounts.helpers import make_member
from tests.multiprocess.calls import placed_call, settlement
from tests.multiprocess.chat import answer_yes, chat_cookies, open_chat
from tests.multiprocess.fleet import (
    Fleet,
    amd_params,
    relay_reply,
    relay_socket_url,
    relay_until_end,
    serve,
    signed_post,
    status_params,
)
from tests.telephony.helpers import add_contact, fund, number_callable_now


async def test_a_machine_answer_posted_to_b_reaches_the_relay_on_a_and_the_call_settles_once(
    db: Database, fleet: Fleet
) -> None:
    call, phone = await placed_call(db, fleet.public)
    sid, query = call.twilio_sid or "", f"?call={call.id}"
    url, headers = relay_socket_url(fleet.a.base, phone.relay_url(call.id))
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "setup", "callSid": sid}))
        assert "AI" in await relay_reply(ws)  # the opening, spoken by A
        for seq, status in enumerate(("initiated", "ringing", "in-progress")):
            answer = await signed_post(
                fleet.b.base,
                fleet.public,
                f"/webhooks/twilio/status{query}",
                status_params(sid, status, seq),
            )
            assert answer.status_code == 200
        # Twilio's AMD result lands on B; A holds the socket: A leaves the voicemail.
        answer = await signed_post(
            fleet.b.base,
            fleet.public,
            f"/webhooks/twilio/amd{query}",
            amd_params(sid, "machine_end_beep"),
        )
        assert answer.status_code == 200
        said, end = await relay_until_end(ws)
    assert said.strip(), "no voicemail was left"
    assert json.loads(end["handoffData"])["outcome"] == "voicemail"
    # The final status lands on B, and again (Twilio retries) on A: settled once.
    final = status_params(sid, "completed", 3, CallDuration="21")
    for process in (fleet.b, fleet.a):
        answer = await signed_post(
            process.base, fleet.public, f"/webhooks/twilio/status{query}", final
        )
        assert answer.status_code == 200
    fresh, balance_mc, held_mc, debits, results = await settlement(db, call)
    assert (fresh.status, fresh.outcome, fresh.cost_mc) == ("completed", "voicemail", 21_000)
    assert (balance_mc, held_mc) == (100_000 - 21_000, 0)
    assert debits == [-21_000]
    assert results.count("settled") == 1 and results.count("duplicate") <= 1


async def test_progress_and_a_notice_raised_on_b_reach_the_chat_on_a(
    db: Database, fleet: Fleet
) -> None:
    """The rep chats on A and places a call there; Twilio's side of the call (relay and
    callbacks) is all on B, its insights are written by the worker: the progress line
    on A follows the call to its end and the summary notice comes, unasked."""
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 5_000)
    await add_contact(db, rep.actor, phone=number_callable_now(), name="Dana Whitfield")
    cookies = await chat_cookies(fleet.a.base, fleet.public, db, rep)
    async with open_chat(fleet.a.base, fleet.public, cookies, answer=answer_yes) as chat:
        await chat.text_starting("Hi ")
        await chat.send("call Dana Whitfield about the webinar follow-up")
        await chat.text_starting("Calling Dana Whitfield")
        # Updated in place from the status callbacks B receives, until settled.
        final = await chat.step_where(
            lambda s: (
                str(s.get("output", "")).startswith("Call with Dana Whitfield")
                and "credit" in str(s.get("output", ""))
            ),
        )
        assert "ended" in final["output"]
        notice = await chat.text_containing("Summary (AI-generated, may be inaccurate)")
        assert notice["output"].startswith("**Call with Dana Whitfield")
    async with db.session() as session:
        placed = (
            await session.scalars(select(Call).where(Call.placed_by == rep.actor.user_id))
        ).one()
    assert placed.settled_at is not None and placed.cost_mc == (placed.duration_s or 0) * 1000
    # B did the work: it received the callbacks; A only placed the call.
    async with db.session() as session:
        stored = await session.scalar(
            select(func.count()).select_from(CallCallback).where(CallCallback.call_id == placed.id)
        )
    assert stored and stored >= 4


async def test_notifications_for_unknown_calls_or_garbage_are_ignored(
    db: Database, fleet: Fleet
) -> None:
    """Anyone who can NOTIFY on the database could send these: nothing breaks, a payload
    that is not an id is logged, and the listeners go on delivering."""
    before = fleet.a.health()["events"]["received"]
    async with await psycopg.AsyncConnection.connect(db.libpq_url, autocommit=True) as conn:
        for channel, payload in (
            ("ks_call_amd", str(uuid.uuid4())),  # a call nobody holds
            ("ks_call_amd", "'; DROP TABLE calls; --"),
            ("ks_call", "not-a-call"),
            ("ks_notices", str(uuid.uuid4())),
            ("ks_call_amd", "x" * 7999),
        ):
            await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
    # Then a real AMD result for a call whose relay is on A still reaches it.
    call, phone = await placed_call(db, fleet.public)
    url, headers = relay_socket_url(fleet.a.base, phone.relay_url(call.id))
    async with connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "setup", "callSid": call.twilio_sid}))
        await relay_reply(ws)
        answer = await signed_post(
            fleet.b.base,
            fleet.public,
            f"/webhooks/twilio/amd?call={call.id}",
            amd_params(call.twilio_sid or "", "fax"),
        )
        assert answer.status_code == 200
        _, end = await relay_until_end(ws)  # a fax: the call ends at once
    assert json.loads(end["handoffData"])["outcome"] == "voicemail"
    health = fleet.a.health()
    assert health["events"]["connected"] is True
    assert health["events"]["received"] >= before + 6
    assert "payload is not an id" in fleet.a.log
    assert fleet.b.health()["status"] in ("ok", "degraded")


async def test_a_callback_whose_relay_process_died_still_settles_once(
    db: Database, fleet: Fleet, database: Database, tmp_path: Path
) -> None:
    call, phone = await placed_call(db, fleet.public)
    sid, query = call.twilio_sid or "", f"?call={call.id}"
    with serve(database, tmp_path / "c", public_base_url=fleet.public) as c:
        url, headers = relay_socket_url(c.base, phone.relay_url(call.id))
        async with connect(url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "setup", "callSid": sid}))
            await relay_reply(ws)
            answer = await signed_post(
                fleet.b.base,
                fleet.public,
                f"/webhooks/twilio/status{query}",
                status_params(sid, "in-progress", 1),
            )
            assert answer.status_code == 200
            c.kill_9()  # the process holding the relay socket dies mid-call
    # Twilio's callbacks still come, to B: the AMD result reaches no socket, the call
    # settles — once, however often the final callback is sent.
    answer = await signed_post(
        fleet.b.base,
        fleet.public,
        f"/webhooks/twilio/amd{query}",
        amd_params(sid, "machine_start"),
    )
    assert answer.status_code == 200
    final = status_params(sid, "completed", 2, CallDuration="33")
    for _ in range(2):
        answer = await signed_post(
            fleet.b.base, fleet.public, f"/webhooks/twilio/status{query}", final
        )
        assert answer.status_code == 200
    fresh, balance_mc, held_mc, debits, results = await settlement(db, call)
    assert (fresh.status, fresh.cost_mc) == ("completed", 33_000)
    assert (balance_mc, held_mc) == (100_000 - 33_000, 0)
    assert debits == [-33_000]
    assert results.count("settled") == 1
