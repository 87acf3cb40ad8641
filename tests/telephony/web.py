"""Twilio's webhooks served in process, for tests that need plain HTTP only.

`twilio_web` (fixture) is telephony/views.py's router on a bare FastAPI, its
services given through `app.dependency_overrides` (a `Telephony` whose public URL is
tests/web.py's `BASE`, signing with the test token; the call-ended hook recorded in
`ended`), served through `httpx.ASGITransport` on the test's own loop, which the stall
monitor watches. Tests that need the simulated carrier's callbacks or the relay
websocket keep using the real server (`live_server`).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import configure_mappers

from core.db import Database
from core.web.deps import get_database, get_settings
from telephony import views as telephony_views
from telephony.deps import get_call_ended, get_telephony
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.simulator.carrier import SimulatedCarrier
from telephony.twilio import CallRequest, PlacedCall, signature
from tests.conftest import TWILIO_TEST_TOKEN
from tests.stall import StallMonitor
from tests.web import BASE, InProcess, web_settings


@dataclass
class Ended:
    """The call-ended hook: records each call handed over; `fail` makes it raise."""

    calls: list[uuid.UUID] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, call_id: uuid.UUID) -> None:
        self.calls.append(call_id)
        if self.fail:
            raise RuntimeError("the post-call queue is down")


@dataclass
class TwilioWeb:
    """The webhooks in process; `post` signs as Twilio does (or not, as asked)."""

    web: InProcess
    telephony: Telephony
    ended: Ended

    async def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        token: str = TWILIO_TEST_TOKEN,
        sign_url: str | None = None,
        header: str | None = "sign",
        content: bytes | None = None,
    ) -> httpx.Response:
        """POST `params` to `path`, with X-Twilio-Signature computed over `sign_url`
        (default: the URL posted to) with `token`; `header=None` sends none, any other
        string is sent as it is. `content` replaces the form body (params still signed)."""
        url = f"{BASE}{path}"
        headers = {}
        if header == "sign":
            headers[signature.HEADER] = signature.compute(sign_url or url, params, token)
        elif header is not None:
            headers[signature.HEADER] = header
        async with self.web.client() as client:
            if content is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                return await client.post(path, content=content, headers=headers)
            return await client.post(path, data=params, headers=headers)


def make_telephony(provider: object | None = None) -> Telephony:
    """A `Telephony` on the simulated carrier (or `provider`), at `BASE`, signing with
    the test token."""
    return Telephony(
        provider=provider or SimulatedCarrier(auth_token=TWILIO_TEST_TOKEN, pace_s=0),  # type: ignore[arg-type]
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=BASE,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )


def build_twilio_app(db: Database, data_dir: Path, telephony: Telephony, ended: Ended) -> FastAPI:
    """The router `create_app` includes for Twilio, with its services as overrides."""
    app = FastAPI()
    settings = web_settings(data_dir)
    app.dependency_overrides.update(
        {
            get_settings: lambda: settings,
            get_database: lambda: db,
            get_telephony: lambda: telephony,
            get_call_ended: lambda: ended,
        }
    )
    app.include_router(telephony_views.router)
    return app


@pytest.fixture
def twilio_app(db: Database, tmp_path: Path) -> TwilioWeb:
    """Built off the event loop (what a process does once at start-up is not a request
    path: the stall monitor watches only requests)."""
    configure_mappers()
    telephony, ended = make_telephony(), Ended()
    app = build_twilio_app(db, tmp_path, telephony, ended)
    settings = app.dependency_overrides[get_settings]()
    return TwilioWeb(InProcess(app, settings), telephony, ended)


@pytest.fixture
async def warm_twilio_app(twilio_app: TwilioWeb) -> TwilioWeb:
    """`twilio_app` after one refused callback, before any monitor watches: what a
    process does once on its first request (the form parser and the HTTP stack's
    modules are imported) is not a request path, as `tests.web.warm_up` does for the
    other routers."""
    await twilio_app.post("/webhooks/twilio/status", {}, header=None)
    return twilio_app


@pytest.fixture
async def twilio_web(
    warm_twilio_app: TwilioWeb, stall_monitor: StallMonitor
) -> AsyncIterator[TwilioWeb]:
    """The in-process webhooks for one test, with the event loop watched for stalls."""
    twilio_app = warm_twilio_app
    twilio_app.web.monitor = stall_monitor
    yield twilio_app
    await twilio_app.telephony.aclose()


class SilentCarrier:
    """A carrier that takes the call and never dials: the test plays Twilio."""

    live = False
    label = "silent"

    async def create_call(self, req: CallRequest) -> PlacedCall:
        return PlacedCall(sid="CA" + secrets.token_hex(16), status="queued")

    async def fetch_call(self, sid: str) -> dict[str, str]:
        return {"status": "queued"}

    async def hangup(self, sid: str) -> bool:
        return True

    async def aclose(self) -> None:
        return None
