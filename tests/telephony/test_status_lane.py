"""Twilio's status callbacks take a short lane past the middlewares and routing they
do not need (telephony/views.py `StatusLane`, issue 19), and are answered exactly as
the route answers them.

The app here is the Twilio router on a bare FastAPI (tests/telephony/web.py) with a
recording middleware innermost (`Inner`: what reaches the router) and the lane
outermost, as chat_app/server.py installs it. Each request is also sent to the same
app without the lane, and both answers must match: status, body, content type.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import configure_mappers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from accounts.models import Role
from billing.models import LedgerEntry
from core.db import Database
from telephony import calls
from telephony import views as telephony_views
from telephony.deps import MAX_BODY_BYTES, get_telephony
from telephony.models import Call, CallCallback
from telephony.twilio import signature
from tests.accounts.helpers import make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.web import BASE

from .helpers import NOON_NY, add_contact, fund
from .web import Ended, SilentCarrier, build_twilio_app, make_telephony

STATUS = telephony_views.STATUS_PATH


class Inner:
    """Records the path of every HTTP request that reaches the stack under the lane."""

    seen: list[str]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            Inner.seen.append(scope["path"])
        await self.app(scope, receive, send)


class Broken(Exception):
    """What the telephony service raises in `test_an_error_gets_the_apps_handler`."""


async def _broken(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "handled"}, status_code=503, headers={"Retry-After": "5"})


def _app(db: Database, tmp: Path, *, lane: bool) -> FastAPI:
    app = build_twilio_app(db, tmp, make_telephony(SilentCarrier()), Ended())
    app.add_exception_handler(Broken, _broken)
    app.add_middleware(Inner)
    if lane:
        app.add_middleware(telephony_views.StatusLane)
    return app


@pytest.fixture
def apps(db: Database, tmp_path: Path) -> tuple[FastAPI, FastAPI]:
    """(the app with the lane, the same app without it)."""
    configure_mappers()
    Inner.seen = []
    return _app(db, tmp_path / "lane", lane=True), _app(db, tmp_path / "route", lane=False)


async def _post(
    app: FastAPI, path: str, params: dict[str, str], *, sign: bool = True, body: bytes | None = None
) -> httpx.Response:
    headers = {}
    if sign:
        headers[signature.HEADER] = signature.compute(f"{BASE}{path}", params, TWILIO_TEST_TOKEN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return await client.post(path, content=body, headers=headers)
        return await client.post(path, data=params, headers=headers)


def _form(sid: str, status: str, seq: int, **extra: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "5" * 32, "CallSid": sid, "CallStatus": status,
            "SequenceNumber": str(seq), **extra}  # fmt: skip


def _answer(response: httpx.Response) -> tuple[int, str, str]:
    return response.status_code, response.headers.get("content-type", ""), response.text


async def test_a_settling_callback_skips_the_inner_stack_and_bills_once(db, apps) -> None:
    lane, _route = apps
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    contact = await add_contact(db, rep.actor)
    phone = make_telephony(SilentCarrier())
    call = await calls.place_call(db, rep.actor, contact.id, phone, purpose="a test", now=NOON_NY)
    sid, path = call.twilio_sid or "", f"{STATUS}?call={call.id}"
    done = _form(sid, "completed", 3, CallDuration="42")
    first, again = await _post(lane, path, done), await _post(lane, path, done)
    assert _answer(first) == _answer(again) == (200, "application/xml", telephony_views.EMPTY_TWIML)
    assert Inner.seen == []  # neither reached the middlewares under the lane, nor the router
    async with db.session() as session:
        fresh = await session.get(Call, call.id)
        entries = (
            await session.scalars(select(LedgerEntry).where(LedgerEntry.hold_id == call.hold_id))
        ).all()
        stored = (
            await session.scalars(select(CallCallback.result).where(CallCallback.call_sid == sid))
        ).all()
    assert fresh is not None and fresh.cost_mc == 42_000
    assert [e.amount_mc for e in entries if e.kind == "call"] == [-42_000]
    assert stored == ["settled"]
    await phone.aclose()


async def test_other_requests_pass_through(apps) -> None:
    lane, _route = apps
    sid = "CA" + secrets.token_hex(16)
    amd = await _post(lane, "/webhooks/twilio/amd", {"CallSid": sid, "AnsweredBy": "human"})
    assert amd.status_code == 200
    transport = httpx.ASGITransport(app=lane)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        got = await client.get(STATUS)
    assert got.status_code == 405  # the router still answers what is not a POST
    assert Inner.seen == ["/webhooks/twilio/amd", STATUS]


# What each request is refused or answered with: status code.
CASES = {"unknown call": 200, "bad signature": 403, "no signature": 403, "malformed": 400,
         "not utf-8": 400, "too large": 413}  # fmt: skip


async def _case(app: FastAPI, case: str, sid: str) -> httpx.Response:
    form = _form(sid, "ringing", 1, **({"SequenceNumber": "²"} if case == "malformed" else {}))
    token = "not-the-token" if case == "bad signature" else TWILIO_TEST_TOKEN
    headers = {signature.HEADER: signature.compute(f"{BASE}{STATUS}", form, token)}
    if case == "no signature":
        headers = {}
    body = {"not utf-8": b"CallSid=\xff\xfe", "too large": b"P=" + b"x" * MAX_BODY_BYTES}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        if case in body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return await client.post(STATUS, content=body[case], headers=headers)
        return await client.post(STATUS, data=form, headers=headers)


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_lane_answers_as_the_route_does(apps, case: str) -> None:
    lane, route = apps
    sid = "CA" + secrets.token_hex(16)
    via_lane, via_route = (
        _answer(await _case(lane, case, sid)),
        _answer(await _case(route, case, sid)),
    )
    assert via_lane[0] == CASES[case]
    if case == "unknown call":  # the second one is a duplicate: answered the same
        assert via_lane == (200, "application/xml", telephony_views.EMPTY_TWIML)
    assert via_lane == via_route
    assert Inner.seen == [STATUS]  # only the request without the lane reached the router


async def test_an_error_gets_the_apps_handler(apps) -> None:
    """An exception the app has a handler for (chat_app/server.py: a database outage is
    a 503) is answered by that handler, as the route's would be."""
    lane, route = apps

    def broken() -> None:
        raise Broken(uuid.uuid4().hex)

    answers = []
    for app in (lane, route):
        app.dependency_overrides[get_telephony] = broken
        answer = await _post(app, STATUS, _form("CA" + secrets.token_hex(16), "ringing", 1))
        answers.append((*_answer(answer), answer.headers.get("retry-after")))
    assert answers[0] == answers[1] == (503, "application/json", '{"detail":"handled"}', "5")
