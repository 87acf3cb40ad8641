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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from accounts.models import Role
from billing import ledger
from billing.models import LedgerEntry
from core.db import Database
from telephony import calls
from telephony.models import Call, CallCallback
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.twilio import PlacedCall
from tests.accounts.helpers import make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.multiprocess.chat import answer_yes, chat_cookies, open_chat
from tests.multiprocess.fleet import (
    Serve,
    amd_params,
    relay_reply,
    relay_socket_url,
    relay_until_end,
    serve,
    signed_post,
    status_params,
    worker,
)
from tests.telephony.helpers import NOON_NY, add_contact, fund, number_callable_now


@dataclass
class Fleet:
    a: Serve
    b: Serve  # where PUBLIC_BASE_URL points: Twilio's callbacks and relay sockets

    @property
    def public(self) -> str:
        return self.b.base


@pytest.fixture(scope="module")
def fleet(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    # Simulated calls placed from a chat are answered by a person (not a machine).
    odds = {"SIM_CARRIER_ODDS": "answered=1"}
    with (
        serve(database, root / "b", **odds) as b,
        serve(database, root / "a", public_base_url=b.base, **odds) as a,
        worker(database, root / "worker", PUBLIC_BASE_URL=b.base),
    ):
        yield Fleet(a, b)


class Silent:
    """A carrier that takes the call and dials nobody: the test plays Twilio."""

    live = False
    label = "silent"

    async def create_call(self, req: object) -> PlacedCall:
        return PlacedCall(sid="CA" + uuid.uuid4().hex, status="queued")

    async def fetch_call(self, sid: str) -> dict[str, object]:
        return {"status": "in-progress"}

    async def hangup(self, sid: str) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def twilio_for(public: str) -> Telephony:
    return Telephony(
        provider=Silent(),
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=public,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )


async def placed_call(db: Database, public: str, credits: int = 100) -> tuple[Call, Telephony]:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, credits)
    contact = await add_contact(db, rep.actor)
    phone = twilio_for(public)
    call = await calls.place_call(
        db, rep.actor, contact.id, phone, purpose="the spring offer", now=NOON_NY
    )
    assert call.twilio_sid is not None
    return call, phone


async def settlement(db: Database, call: Call) -> tuple[Call, int, int, list[int], list[str]]:
    """The call now, the workspace's balance and held credits, its call debits, and
    the results its status callbacks were stored with."""
    async with db.session() as session:
        fresh = await session.get(Call, call.id, populate_existing=True)
        balance = await ledger.get_balance(session, call.workspace_id)
        debits = list(
            (
                await session.scalars(
                    select(LedgerEntry.amount_mc).where(
                        LedgerEntry.idempotency_key.like(f"call:{call.id}%")
                    )
                )
            ).all()
        )
        results = list(
            (
                await session.scalars(
                    select(CallCallback.result)
                    .where(CallCallback.call_sid == call.twilio_sid, CallCallback.kind == "status")
                    .order_by(CallCallback.id)
                )
            ).all()
        )
    assert fresh is not None
    return fresh, balance.balance_mc, balance.held_mc, debits, results


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
                fleet.b.base, fleet.public, f"/webhooks/twilio/status{query}",
                status_params(sid, status, seq),
            )  # fmt: skip
            assert answer.status_code == 200
        # Twilio's AMD result lands on B; A holds the socket: A leaves the voicemail.
        answer = await signed_post(
            fleet.b.base, fleet.public, f"/webhooks/twilio/amd{query}",
            amd_params(sid, "machine_end_beep"),
        )  # fmt: skip
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
            fleet.b.base, fleet.public, f"/webhooks/twilio/amd?call={call.id}",
            amd_params(call.twilio_sid or "", "fax"),
        )  # fmt: skip
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
                fleet.b.base, fleet.public, f"/webhooks/twilio/status{query}",
                status_params(sid, "in-progress", 1),
            )  # fmt: skip
            assert answer.status_code == 200
            c.kill_9()  # the process holding the relay socket dies mid-call
    # Twilio's callbacks still come, to B: the AMD result reaches no socket, the call
    # settles — once, however often the final callback is sent.
    answer = await signed_post(
        fleet.b.base, fleet.public, f"/webhooks/twilio/amd{query}",
        amd_params(sid, "machine_start"),
    )  # fmt: skip
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
