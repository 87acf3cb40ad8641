"""Cross-site requests against a real `klosesales serve`: one same-origin check
(chat_app/security.py) refuses every state-changing request from another site with 403
before any route runs — billing and Chainlit included — while webhooks, same-origin
pages and non-browser clients keep working; Chainlit's CORS reflects no foreign origin.

Before the middleware, only the account forms checked `Origin` (each route on its own,
against the request's Host); a cross-site POST to the simulated checkout's "pay"
credited the workspace, `Sec-Fetch-Site: cross-site` alone was let through, and
Chainlit answered any origin with `Access-Control-Allow-Credentials`."""

from __future__ import annotations

import secrets
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from billing.models import PaddleTransaction
from telephony.twilio import signature
from tests.accounts.helpers import Member, client, make_member, sign_in
from tests.billing.paddle_helpers import balance_mc, checkout, post, transaction_event
from tests.conftest import TWILIO_TEST_TOKEN

EVIL = "https://evil.example"


async def _signed_in(live_server, db) -> tuple[Member, dict[str, str]]:
    member = await make_member(db)
    async with client(live_server) as http:
        await sign_in(http, db, member)
        return member, {"ks_session": http.cookies["ks_session"]}


def _raw(base: str, cookies: dict[str, str], **headers: str) -> httpx.AsyncClient:
    """A client sending exactly these cookies and headers, as a browser on `EVIL` would."""
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return httpx.AsyncClient(
        base_url=base, follow_redirects=False, timeout=30, headers={"cookie": cookie, **headers}
    )


async def _session_alive(base: str, cookies: dict[str, str]) -> bool:
    async with _raw(base, cookies) as http:
        page = await http.get("/chat/", headers={"accept": "text/html"})
    return page.status_code == 200


async def test_cross_site_posts_are_refused_before_any_route_runs(live_server, db):
    member, cookies = await _signed_in(live_server, db)
    txn = await checkout(db, member.actor)
    before = await balance_mc(db, member.actor)
    async with _raw(live_server, cookies, origin=EVIL) as http:
        answers = {
            "pay": await http.post(f"/billing/checkout/{txn.id}/pay"),
            "estimate": await http.post("/billing/buy/estimate", data={"package": "starter"}),
            "logout": await http.post("/account/logout"),
            "rename": await http.put("/chat/project/thread", json={"threadId": "x", "name": "y"}),
            "delete": await http.request("DELETE", "/chat/project/thread", json={"threadId": "x"}),
            "upload": await http.post("/chat/project/file?session_id=x", files={"file": b"a"}),
            "webhook": await http.post("/webhooks/paddle", content=b"{}"),
        }
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 403)
    assert "PUBLIC_BASE_URL" in answers["pay"].text
    async with db.session() as session:
        paid = await session.get(PaddleTransaction, txn.id)
        assert paid is not None and paid.grant_entry_id is None
    assert await balance_mc(db, member.actor) == before
    assert await _session_alive(live_server, cookies), "the cross-site logout ran"


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "null"},
        {"origin": "http://127.0.0.1:9"},  # same host, another port: another origin
        {"origin": EVIL, "sec-fetch-site": "same-origin"},
    ],
)
async def test_a_browser_marked_cross_site_is_refused_with_or_without_origin(
    live_server, db, headers
):
    _, cookies = await _signed_in(live_server, db)
    async with _raw(live_server, cookies, **headers) as http:
        out = await http.post("/account/logout")
    assert out.status_code == 403
    assert await _session_alive(live_server, cookies)


@pytest.mark.parametrize(
    "headers",
    [{}, {"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}, {"origin": "SAME"}],
)
async def test_same_origin_pages_and_non_browser_clients_pass(live_server, db, headers):
    member = await make_member(db)
    if headers.get("origin") == "SAME":
        headers = {"origin": live_server}
    async with client(live_server) as http:
        first = await http.post(
            "/account/login",
            data={"email": member.email, "password": member.password},
            headers=headers,
        )
    assert first.status_code == 303 and first.headers["location"] == "/account/login/code"


async def test_signed_webhooks_from_twilio_and_paddle_still_work(live_server, db):
    member = await make_member(db)
    txn = await checkout(db, member.actor)
    assert post(live_server, transaction_event(txn, "transaction.paid", "paid")).status_code == 200
    url = f"{live_server}/webhooks/twilio/status"
    params = {
        "AccountSid": "AC" + "5" * 32,
        "CallSid": "CA" + secrets.token_hex(16),
        "CallStatus": "ringing",
        "SequenceNumber": "1",
    }
    async with httpx.AsyncClient() as http:
        twilio = await http.post(
            url,
            data=params,
            headers={"X-Twilio-Signature": signature.compute(url, params, TWILIO_TEST_TOKEN)},
        )
    assert twilio.status_code == 200


def _handshake(base: str, path: str, headers: dict[str, str]) -> int:
    """The HTTP status a websocket handshake gets (101 when the socket opens)."""
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status = conn.makefile("rb").readline().decode()
    return int(status.split()[1])


async def test_cross_site_socket_handshakes_to_the_chat_are_refused(live_server, db):
    _, cookies = await _signed_in(live_server, db)
    cookie = f"ks_session={cookies['ks_session']}"
    path = "/chat/ws/socket.io/?EIO=4&transport=websocket"
    assert _handshake(live_server, path, {"Cookie": cookie, "Origin": EVIL}) == 403
    assert _handshake(live_server, path, {"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}) == 403
    assert _handshake(live_server, path, {"Cookie": cookie, "Origin": live_server}) == 101
    async with _raw(live_server, cookies, origin=EVIL) as http:
        polling = await http.get(f"/chat/ws/socket.io/?EIO=4&transport=polling&t={time.time()}")
    assert polling.status_code == 403


async def test_chainlit_reflects_no_foreign_origin_with_credentials(live_server, db):
    _, cookies = await _signed_in(live_server, db)
    async with _raw(live_server, cookies, origin=EVIL) as http:
        read = await http.get("/chat/project/settings?language=en-US")
        preflight = await http.options(
            "/chat/project/threads",
            headers={
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
    for answer in (read, preflight):
        assert answer.headers.get("access-control-allow-origin") in (None, live_server)
