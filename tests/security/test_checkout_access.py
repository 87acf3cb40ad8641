"""Attack: the simulated checkout (issue 15, item 8).

It posted signed Paddle events to whatever Host the request named, so anyone could
make the server sign events for their own listener; and its pages answered anyone
who had the link. Events now go to PUBLIC_BASE_URL only, and the checkout, pay,
decline and receipt pages answer only a signed-in member of the transaction's
workspace (others: 404; a page request from someone not signed in: sign in first)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import httpx
import pytest

from accounts.models import Role
from tests.accounts.helpers import make_member, sign_in
from tests.billing.paddle_helpers import balance_mc, checkout, stored_events

STARTER_MC = 500_000


class _Listener(http.server.BaseHTTPRequestHandler):
    """Someone else's server: records every request it is sent."""

    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.path, self.headers.get("Paddle-Signature") or "", body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def listener() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    seen: list[tuple[str, str, bytes]] = []
    handler = type("Listener", (_Listener,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("action", ["pay", "decline"])
async def test_a_forged_host_gets_no_signed_events(live_server, db, listener, action):
    host, seen = listener
    member = await make_member(db)
    txn = await checkout(db, member.actor)
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        await sign_in(client, db, member)
        response = await client.post(f"/billing/checkout/{txn.id}/{action}", headers={"Host": host})
    assert response.status_code == 200, response.text
    assert seen == []  # nothing was signed for the forged Host's listener
    # The events went to our own webhook, at PUBLIC_BASE_URL.
    expected = (
        ["transaction.paid", "transaction.completed"]
        if action == "pay"
        else ["transaction.payment_failed"]
    )
    assert [t for t, _, _ in await stored_events(db, txn.id)] == expected
    assert await balance_mc(db, member.actor) == (STARTER_MC if action == "pay" else 0)


async def _paid(web, db):
    owner = await make_member(db)
    txn = await checkout(db, owner.actor)
    async with web.client() as client:
        await sign_in(client, db, owner)
        assert (await client.post(f"/billing/checkout/{txn.id}/pay")).status_code == 200
    assert await balance_mc(db, owner.actor) == STARTER_MC
    return owner, txn


async def test_nobody_signed_in_is_sent_to_sign_in_and_cannot_pay(web, db):
    owner = await make_member(db)
    txn = await checkout(db, owner.actor)
    async with web.client() as client:
        for path in (f"/billing/checkout/{txn.id}", f"/billing/receipt/{txn.id}"):
            page = await client.get(path)
            assert page.status_code == 303, path
            assert page.headers["location"] == f"/account/login?next={path}"
        for action in ("pay", "decline"):
            response = await client.post(f"/billing/checkout/{txn.id}/{action}")
            assert response.status_code == 404, action
    assert await stored_events(db, txn.id) == []
    assert await balance_mc(db, owner.actor) == 0


async def test_a_member_of_another_workspace_gets_404_everywhere(web, db):
    owner, txn = await _paid(web, db)
    outsider = await make_member(db)
    before = await stored_events(db, txn.id)
    async with web.client() as client:
        await sign_in(client, db, outsider)
        for path in (f"/billing/checkout/{txn.id}", f"/billing/receipt/{txn.id}"):
            page = await client.get(path)
            assert page.status_code == 404, path
            assert txn.id not in page.text
        for action in ("pay", "decline"):
            response = await client.post(f"/billing/checkout/{txn.id}/{action}")
            assert response.status_code == 404, action
    assert await stored_events(db, txn.id) == before
    assert await balance_mc(db, outsider.actor) == 0
    assert await balance_mc(db, owner.actor) == STARTER_MC


async def test_another_member_of_the_same_workspace_sees_the_receipt(web, db):
    owner, txn = await _paid(web, db)
    colleague = await make_member(db, Role.REP, workspace_id=owner.actor.workspace_id)
    async with web.client() as client:
        await sign_in(client, db, colleague)
        receipt = await client.get(f"/billing/receipt/{txn.id}")
    assert receipt.status_code == 200
    assert txn.id in receipt.text
