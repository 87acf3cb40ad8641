"""`TwilioCalls` — the `twilio` SDK's async client — against a local double of Twilio's
Calls API, served over real HTTP (the SDK's requests are rebased onto the double).

The double answers in the shapes Twilio's REST reference documents (API 2010-04-01):
form-encoded `POST .../Calls.json` (201 with the Call resource), `GET` and `POST`
`.../Calls/{CallSid}.json`, basic auth with the Account SID and Auth Token, and errors
as `{"code", "message", "more_info", "status"}`. It records every request's form
fields as ordered (name, value) pairs so repeated names are visible.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telephony.twilio import CallRequest, TelephonyError, TelephonyProvider
from telephony.twilio.live import TwilioCalls
from tests.http_double import serve_in_thread

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-not-a-real-secret-0000"
FROM = "+14155550100"
TO = "+14155550123"
TWIML = '<Response><Connect><ConversationRelay url="wss://klose.example/voice/relay"/></Connect></Response>'
BASE = "https://klose.example"

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]

    def one(self, name: str) -> str:
        values = [v for k, v in self.form if k == name]
        assert len(values) == 1, f"{name}: {values}"
        return values[0]

    def names(self) -> list[str]:
        return [k for k, _ in self.form]


@dataclass
class TwilioDouble:
    requests: list[Recorded] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    queued: list[Response] = field(default_factory=list)  # one-off answers, first in first out
    delay_s: float = 0.0

    def reset(self) -> None:
        self.requests.clear()
        self.calls.clear()
        self.queued.clear()
        self.delay_s = 0.0

    def app(self) -> Starlette:
        prefix = "/2010-04-01/Accounts/{account}"
        return Starlette(
            routes=[
                Route(prefix + "/Calls.json", self._create, methods=["POST"]),
                Route(prefix + "/Calls/{call}.json", self._call, methods=["GET", "POST"]),
            ]
        )

    async def _intake(self, request: Request) -> tuple[Recorded, Response | None]:
        raw = (await request.body()).decode()
        rec = Recorded(
            request.method,
            request.url.path,
            dict(request.headers),
            parse_qsl(raw, keep_blank_values=True),
        )
        self.requests.append(rec)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.queued:
            return rec, self.queued.pop(0)
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return rec, error(401, 20003, "Authentication Error - invalid username")
        if request.path_params["account"] != ACCOUNT_SID:
            return rec, error(404, 20404, "The requested resource was not found")
        if raw and request.headers.get("content-type") != "application/x-www-form-urlencoded":
            return rec, error(400, 21601, "Unsupported content type")  # not a documented pair
        return rec, None

    async def _create(self, request: Request) -> Response:
        rec, refused = await self._intake(request)
        if refused is not None:
            return refused
        to = dict(rec.form).get("To", "")
        if not E164.match(to):
            return error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to.startswith("+882"):
            return error(
                400,
                21215,
                f"Account not authorized to call {to}. Perhaps you need to enable some "
                "international permissions: https://www.twilio.com/console/voice/calls/geo-permissions/low-risk",
            )
        sid = "CA" + uuid.uuid4().hex
        call = {
            "sid": sid,
            "account_sid": ACCOUNT_SID,
            "to": to,
            "from": dict(rec.form).get("From"),
            "status": "queued",
            "duration": None,
            "start_time": None,
            "end_time": None,
            "answered_by": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json",
        }
        self.calls[sid] = call
        return JSONResponse(call, status_code=201)

    async def _call(self, request: Request) -> Response:
        rec, refused = await self._intake(request)
        if refused is not None:
            return refused
        sid = request.path_params["call"]
        call = self.calls.get(sid)
        if call is None:
            return error(404, 20404, f"The requested resource {rec.path} was not found")
        if request.method == "POST":
            status = dict(rec.form).get("Status")
            if status not in {"completed", "canceled"}:
                return error(400, 21218, "Invalid Status")  # illustrative
            call["status"] = "completed"
            call["duration"] = "0"
        return JSONResponse(call)


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[tuple[TwilioDouble, str]]:
    double = TwilioDouble()
    with serve_in_thread(double.app(), name="Twilio double") as base:
        yield double, base


@pytest.fixture
def double(twilio_server: tuple[TwilioDouble, str]) -> TwilioDouble:
    twilio_server[0].reset()
    return twilio_server[0]


@pytest.fixture
async def twilio(twilio_server: tuple[TwilioDouble, str]) -> AsyncIterator[TwilioCalls]:
    provider = TwilioCalls(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, base_url=twilio_server[1], timeout_s=2.0
    )
    try:
        yield provider
    finally:
        await provider.aclose()


def request(**overrides: Any) -> CallRequest:
    values: dict[str, Any] = {
        "to_e164": TO,
        "from_e164": FROM,
        "twiml": TWIML,
        "status_callback_url": f"{BASE}/webhooks/twilio/status?call=42",
        "amd_callback_url": f"{BASE}/webhooks/twilio/amd?call=42",
        "recording_callback_url": f"{BASE}/webhooks/twilio/recording?call=42",
        "time_limit_s": 287,
        "record": True,
        "machine_detection": "DetectMessageEnd",
    }
    values.update(overrides)
    return CallRequest(**values)


# --- create ----------------------------------------------------------------------------


async def test_create_call_sends_documented_form(twilio: TwilioCalls, double: TwilioDouble) -> None:
    placed = await twilio.create_call(request())

    assert placed.sid.startswith("CA")
    assert placed.status == "queued"
    assert placed.raw["to"] == TO
    rec = double.requests[-1]
    assert rec.method == "POST"
    assert rec.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert rec.headers["content-type"] == "application/x-www-form-urlencoded"
    assert rec.one("To") == TO
    assert rec.one("From") == FROM
    assert rec.one("Twiml") == TWIML
    assert "Url" not in rec.names()
    assert rec.one("StatusCallback") == f"{BASE}/webhooks/twilio/status?call=42"
    assert rec.one("StatusCallbackMethod") == "POST"
    events = [v for k, v in rec.form if k == "StatusCallbackEvent"]
    assert events == ["initiated", "ringing", "answered", "completed"]
    assert rec.one("MachineDetection") == "DetectMessageEnd"
    assert rec.one("AsyncAmd") == "true"
    assert rec.one("AsyncAmdStatusCallback") == f"{BASE}/webhooks/twilio/amd?call=42"
    assert rec.one("AsyncAmdStatusCallbackMethod") == "POST"
    assert rec.one("TimeLimit") == "287"
    assert rec.one("Record") == "true"
    assert rec.one("RecordingStatusCallback") == f"{BASE}/webhooks/twilio/recording?call=42"
    assert rec.one("RecordingStatusCallbackEvent") == "completed"
    assert "Timeout" not in rec.names()


async def test_status_events_are_separate_parameters_on_the_wire(
    twilio: TwilioCalls, double: TwilioDouble
) -> None:
    await twilio.create_call(request())
    rec = double.requests[-1]
    assert not any(" " in v for k, v in rec.form if k == "StatusCallbackEvent")
    assert len([k for k in rec.names() if k == "StatusCallbackEvent"]) == 4


async def test_create_with_url_without_amd_or_recording(
    twilio: TwilioCalls, double: TwilioDouble
) -> None:
    req = request(
        twiml=None,
        url=f"{BASE}/voice/twiml?call=42",
        machine_detection=None,
        amd_callback_url=None,
        record=False,
        recording_callback_url=None,
        ring_timeout_s=30,
    )
    await twilio.create_call(req)
    rec = double.requests[-1]
    assert rec.one("Url") == f"{BASE}/voice/twiml?call=42"
    assert rec.one("Method") == "POST"
    assert rec.one("Timeout") == "30"
    names = rec.names()
    for absent in ("Twiml", "MachineDetection", "AsyncAmd", "Record", "RecordingStatusCallback"):
        assert absent not in names


def test_call_request_validation() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        request(url=f"{BASE}/x")
    with pytest.raises(ValueError, match="4000"):
        request(twiml="<Response>" + "x" * 4000 + "</Response>")
    with pytest.raises(ValueError, match="time_limit_s"):
        request(time_limit_s=0)
    with pytest.raises(ValueError, match="machine_detection"):
        request(machine_detection="true")


def test_is_a_telephony_provider() -> None:
    provider = TwilioCalls(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    assert isinstance(provider, TelephonyProvider)
    assert provider.live
    assert AUTH_TOKEN not in repr(provider)


# --- fetch and hangup ------------------------------------------------------------------


async def test_fetch_call(twilio: TwilioCalls, double: TwilioDouble) -> None:
    placed = await twilio.create_call(request())
    double.calls[placed.sid].update(status="completed", duration="61")

    call = await twilio.fetch_call(placed.sid)

    assert call["status"] == "completed"
    assert call["duration"] == "61"
    rec = double.requests[-1]
    assert rec.method == "GET"
    assert rec.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{placed.sid}.json"
    assert rec.form == []


async def test_hangup_posts_status_completed(twilio: TwilioCalls, double: TwilioDouble) -> None:
    placed = await twilio.create_call(request())

    await twilio.hangup(placed.sid)

    rec = double.requests[-1]
    assert rec.method == "POST"
    assert rec.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{placed.sid}.json"
    assert rec.form == [("Status", "completed")]
    assert double.calls[placed.sid]["status"] == "completed"


async def test_hanging_up_a_call_that_is_over_is_done_not_an_error(
    twilio: TwilioCalls, double: TwilioDouble
) -> None:
    placed = await twilio.create_call(request())
    assert await twilio.hangup(placed.sid) is True
    # Twilio answers 20404 for a call it no longer has in progress: the call is over.
    gone = "CA" + "0" * 32
    assert await twilio.hangup(gone) is False
    assert double.requests[-1].path.endswith(f"/Calls/{gone}.json")


async def test_hangup_refused_for_another_reason_is_still_an_error(
    twilio: TwilioCalls, double: TwilioDouble
) -> None:
    double.queued.append(error(401, 20003, "Authentication Error - invalid username"))
    with pytest.raises(TelephonyError) as info:
        await twilio.hangup("CA" + "1" * 32)
    assert (info.value.code, info.value.status) == (20003, 401)


async def test_requests_are_made_by_the_twilio_sdk(
    twilio: TwilioCalls, double: TwilioDouble
) -> None:
    """The SDK's client, not a hand-written one, talks to Twilio (its User-Agent and
    client headers are on every request)."""
    placed = await twilio.create_call(request())
    await twilio.fetch_call(placed.sid)
    await twilio.hangup(placed.sid)
    for rec in double.requests:
        assert rec.headers["user-agent"].startswith("twilio-python/9.13.0 ")
        assert rec.headers["x-twilio-client"] == "python-9.13.0"
        assert rec.headers["accept"] == "application/json"


async def test_the_live_provider_from_settings_talks_to_twilio_api_base(
    twilio_server: tuple[TwilioDouble, str], double: TwilioDouble, tmp_path: Any
) -> None:
    """`TWILIO_API_BASE` is how the SDK's requests reach a double instead of
    api.twilio.com."""
    from core.settings import Settings
    from telephony.provider import build_telephony

    settings = Settings(
        _env_file=None,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM,
        twilio_api_base=twilio_server[1],
        data_dir=tmp_path,
    )
    phone = build_telephony(settings)
    try:
        assert phone.live
        placed = await phone.provider.create_call(request())
    finally:
        await phone.aclose()
    assert placed.sid in double.calls
    assert double.requests[-1].path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"


async def test_a_slow_twilio_is_a_timeout_error(
    twilio_server: tuple[TwilioDouble, str], double: TwilioDouble
) -> None:
    double.delay_s = 0.5
    provider = TwilioCalls(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, base_url=twilio_server[1], timeout_s=0.1
    )
    try:
        with pytest.raises(TelephonyError) as info:
            await provider.create_call(request())
    finally:
        await provider.aclose()
    assert "did not answer within 0.1 s" in str(info.value)
    assert info.value.code is None


async def test_an_error_without_a_description_says_so(
    twilio: TwilioCalls, double: TwilioDouble
) -> None:
    double.queued.append(Response("<html>Bad gateway</html>", status_code=502))
    with pytest.raises(TelephonyError) as info:
        await twilio.create_call(request())
    assert str(info.value) == "Twilio answered HTTP 502 without an error description."
    assert (info.value.code, info.value.status) == (None, 502)


async def test_a_success_that_is_not_json_is_an_error(
    twilio: TwilioCalls, double: TwilioDouble
) -> None:
    double.queued.append(Response("not json", status_code=201))
    with pytest.raises(TelephonyError, match="not JSON"):
        await twilio.create_call(request())


async def test_fetch_unknown_call_is_a_telephony_error(twilio: TwilioCalls) -> None:
    with pytest.raises(TelephonyError) as info:
        await twilio.fetch_call("CA" + "0" * 32)
    assert info.value.code == 20404
    assert info.value.status == 404


# --- errors ----------------------------------------------------------------------------


async def test_invalid_to_maps_21211(twilio: TwilioCalls) -> None:
    with pytest.raises(TelephonyError) as info:
        await twilio.create_call(request(to_e164="+1555"))
    assert info.value.code == 21211
    assert info.value.status == 400
    text = str(info.value)
    assert text == (
        "The number to call is not a valid phone number. Twilio refused the request: "
        "The 'To' number +1555 is not a valid phone number (error 21211). "
        "See https://www.twilio.com/docs/errors/21211"
    )


async def test_geo_permission_maps_21215(twilio: TwilioCalls) -> None:
    with pytest.raises(TelephonyError) as info:
        await twilio.create_call(request(to_e164="+88213456789"))
    assert info.value.code == 21215
    assert "geographic permission" in str(info.value)


async def test_bad_credentials_map_20003_and_never_leak_the_token(
    twilio_server: tuple[TwilioDouble, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = TwilioCalls(
        account_sid=ACCOUNT_SID, auth_token="wrong-token-value", base_url=twilio_server[1]
    )
    try:
        with pytest.raises(TelephonyError) as info:
            await provider.create_call(request())
    finally:
        await provider.aclose()
    assert info.value.code == 20003
    assert info.value.status == 401
    assert "Auth Token" in str(info.value)
    assert "wrong-token-value" not in str(info.value)
    assert "wrong-token-value" not in caplog.text
    assert AUTH_TOKEN not in caplog.text


async def test_refused_connection_is_a_telephony_error() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    provider = TwilioCalls(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        base_url=f"http://127.0.0.1:{port}",
        timeout_s=2.0,
    )
    try:
        with pytest.raises(TelephonyError) as info:
            await provider.create_call(request())
    finally:
        await provider.aclose()
    assert "Could not reach Twilio" in str(info.value)
    assert info.value.code is None
    assert AUTH_TOKEN not in str(info.value)


def test_requires_credentials() -> None:
    with pytest.raises(ValueError, match="Auth Token"):
        TwilioCalls(account_sid=ACCOUNT_SID, auth_token="")
