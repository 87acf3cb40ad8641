"""`TwilioVerify` — the `twilio` SDK's async client — against a local double of Twilio's
Verify v2 API, over real HTTP (the SDK's requests are rebased onto the double).

The double follows Twilio's API reference and error pages: form-encoded
`POST /v2/Services/{ServiceSid}/Verifications` (To, Channel) answering 201 with the
Verification (`sid` VE…, `status`, `send_code_attempts[]`), and
`POST /v2/Services/{ServiceSid}/VerificationCheck` (To, Code) answering 200 with
`status` approved or pending; HTTP basic auth with the account SID and auth token;
errors as `{"code", "message", "more_info", "status"}` — 20003 (401), 20404 (404),
60200 (400), 60202 and 60203 (429). It keeps Verify's rules (same verification on
re-send, 5 sends, 5 checks) and records every request. Tests can queue one-off answers.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from accounts.otp import (
    Flow,
    InvalidCode,
    InvalidNumber,
    OtpError,
    OtpProvider,
    OtpUnavailable,
    TooManyChecks,
    TooManySends,
    VerificationNotFound,
)
from accounts.otp.factory import OtpConfigError, build_otp
from accounts.otp.live import DEFAULT_BASE_URL, TwilioVerify
from accounts.otp.simulated import SimulatedVerify
from core.db import Database
from core.settings import Settings
from tests.http_double import serve_in_thread

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f00dfacecafe" + "5ec2e7" * 3 + "beef"  # 32 characters, like Twilio's
SERVICE_SID = "VA" + "fedcba9876543210" * 2
SIGNUP_SERVICE_SID = "VA" + "5" * 32
RESET_SERVICE_SID = "VA" + "7" * 32
SERVICES = (SERVICE_SID, SIGNUP_SERVICE_SID, RESET_SERVICE_SID)
CODE = "428613"  # the double's code for every verification
NUMBER = "+15558675310"


# --- the double ------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    form: dict[str, str]


@dataclass
class Pending:
    sid: str
    channel: str
    sends: int = 1
    checks: int = 0


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


class VerifyDouble:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.queued: list[Response] = []
        # Verify's rule: one pending verification per To number *per service*.
        self.pending: dict[tuple[str, str], Pending] = {}
        self.delay_s = 0.0

    def reset(self) -> None:
        self.requests.clear()
        self.queued.clear()
        self.pending.clear()
        self.delay_s = 0.0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v2/Services/{service}/Verifications", self._send, methods=["POST"]),
                Route("/v2/Services/{service}/VerificationCheck", self._check, methods=["POST"]),
            ]
        )

    async def _intake(self, request: Request) -> tuple[dict[str, str], Response | None]:
        raw = await request.body()
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        self.requests.append(
            Recorded(request.method, request.url.path, dict(request.headers), raw, form)
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.queued:
            return form, self.queued.pop(0)
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return form, twilio_error(401, 20003, "Authenticate")
        if request.headers.get("content-type") != "application/x-www-form-urlencoded":
            return form, twilio_error(400, 60200, "Invalid parameter")
        if request.path_params["service"] not in SERVICES:
            return form, twilio_error(
                404, 20404, f"The requested resource {request.url.path} was not found"
            )
        return form, None

    async def _send(self, request: Request) -> Response:
        form, refused = await self._intake(request)
        if refused is not None:
            return refused
        to, channel = form.get("To", ""), form.get("Channel", "")
        if not re.fullmatch(r"\+[1-9][0-9]{1,14}", to):
            return twilio_error(400, 60200, "Invalid parameter: To")
        if channel not in ("sms", "call", "email", "whatsapp", "sna"):
            return twilio_error(400, 60200, "Invalid parameter: Channel")
        key = (request.path_params["service"], to)
        current = self.pending.get(key)
        if current is None:
            current = self.pending[key] = Pending("VE" + secrets.token_hex(16), channel)
        elif current.sends >= 5:
            return twilio_error(429, 60203, "Max send attempts reached")
        else:
            current.sends += 1
            current.channel = channel
        return JSONResponse(self._verification(to, current, "pending"), status_code=201)

    async def _check(self, request: Request) -> Response:
        form, refused = await self._intake(request)
        if refused is not None:
            return refused
        to, code = form.get("To", ""), form.get("Code", "")
        if not re.fullmatch(r"[0-9]{4,10}", code):
            return twilio_error(400, 60200, "Invalid parameter: Code")
        key = (request.path_params["service"], to)
        current = self.pending.get(key)
        if current is None:
            return twilio_error(
                404, 20404, f"The requested resource {request.url.path} was not found"
            )
        if current.checks >= 5:
            return twilio_error(429, 60202, "Max check attempts reached")
        current.checks += 1
        status = "approved" if code == CODE else "pending"
        if status == "approved":
            del self.pending[key]
        return JSONResponse(self._verification(to, current, status))

    @staticmethod
    def _verification(to: str, v: Pending, status: str) -> dict[str, Any]:
        now = "2031-05-04T12:00:00Z"
        return {
            "sid": v.sid,
            "service_sid": SERVICE_SID,
            "account_sid": ACCOUNT_SID,
            "to": to,
            "channel": v.channel,
            "status": status,
            "valid": status == "approved",
            "amount": None,
            "payee": None,
            "date_created": now,
            "date_updated": now,
            "lookup": {"carrier": None},
            "send_code_attempts": [
                {"attempt_sid": "VL" + secrets.token_hex(16), "channel": v.channel, "time": now}
                for _ in range(v.sends)
            ],
            "sna": None,
            "url": f"https://verify.twilio.com/v2/Services/{SERVICE_SID}/Verifications/{v.sid}",
        }


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verify_server() -> Iterator[tuple[VerifyDouble, str]]:
    double = VerifyDouble()
    with serve_in_thread(double.app(), name="Verify double") as base:
        yield double, base


@pytest.fixture
def double(verify_server: tuple[VerifyDouble, str]) -> VerifyDouble:
    verify_server[0].reset()
    return verify_server[0]


def make_verify(base_url: str, **overrides: Any) -> TwilioVerify:
    kwargs: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "service_sid": SERVICE_SID,
        "base_url": base_url,
        "timeout_s": 2.0,
    }
    kwargs.update(overrides)
    return TwilioVerify(**kwargs)


@pytest.fixture
async def verify(
    verify_server: tuple[VerifyDouble, str], double: VerifyDouble
) -> AsyncIterator[TwilioVerify]:
    provider = make_verify(verify_server[1])
    try:
        yield provider
    finally:
        await provider.aclose()


# --- request shapes --------------------------------------------------------------------


async def test_send_posts_to_and_channel_form_encoded_with_basic_auth(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    sent = await verify.send(NUMBER)

    [req] = double.requests
    assert req.method == "POST"
    assert req.path == f"/v2/Services/{SERVICE_SID}/Verifications"
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.raw == b"To=%2B15558675310&Channel=sms"
    assert req.form == {"To": NUMBER, "Channel": "sms"}
    decoded = base64.b64decode(req.headers["authorization"].removeprefix("Basic ")).decode()
    assert req.headers["authorization"].startswith("Basic ")
    assert decoded == f"{ACCOUNT_SID}:{AUTH_TOKEN}"

    assert sent.sid == double.pending[(SERVICE_SID, NUMBER)].sid
    assert re.fullmatch(r"VE[0-9a-f]{32}", sent.sid)
    assert (sent.status, sent.to, sent.channel, sent.send_count) == ("pending", NUMBER, "sms", 1)


async def test_requests_are_made_by_the_twilio_sdk(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    """The SDK's client, not a hand-written one, talks to Verify."""
    await verify.send(NUMBER)
    await verify.check(NUMBER, CODE)
    for req in double.requests:
        assert req.headers["user-agent"].startswith("twilio-python/9.13.0 ")
        assert req.headers["x-twilio-client"] == "python-9.13.0"


async def test_resend_returns_the_same_verification_and_counts_sends(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    first = await verify.send(NUMBER)
    second = await verify.send(NUMBER, channel="call")
    assert second.sid == first.sid
    assert (second.channel, second.send_count) == ("call", 2)
    assert double.requests[1].form == {"To": NUMBER, "Channel": "call"}


async def test_check_posts_to_and_code(verify: TwilioVerify, double: VerifyDouble) -> None:
    sent = await verify.send(NUMBER)
    result = await verify.check(NUMBER, CODE)

    req = double.requests[-1]
    assert req.path == f"/v2/Services/{SERVICE_SID}/VerificationCheck"
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.form == {"To": NUMBER, "Code": CODE}
    assert req.headers["authorization"] == double.requests[0].headers["authorization"]
    assert (result.status, result.approved, result.sid) == ("approved", True, sent.sid)


# --- answers ---------------------------------------------------------------------------


async def test_a_wrong_code_is_pending_not_an_error(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    await verify.send(NUMBER)
    result = await verify.check(NUMBER, "000000")
    assert (result.status, result.approved) == ("pending", False)
    assert (await verify.check(NUMBER, CODE)).approved is True


async def test_the_sixth_check_raises_too_many_checks(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    await verify.send(NUMBER)
    for _ in range(5):
        assert (await verify.check(NUMBER, "000000")).approved is False
    with pytest.raises(TooManyChecks) as excinfo:
        await verify.check(NUMBER, CODE)
    assert excinfo.value.code == 60202
    assert str(excinfo.value) == "Too many wrong codes: request a new code in a few minutes."


async def test_the_sixth_send_raises_too_many_sends(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    for n in range(1, 6):
        assert (await verify.send(NUMBER)).send_count == n
    with pytest.raises(TooManySends) as excinfo:
        await verify.send(NUMBER)
    assert excinfo.value.code == 60203
    assert "wait 10 minutes" in str(excinfo.value)


async def test_a_check_after_approval_raises_not_found(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    await verify.send(NUMBER)
    assert (await verify.check(NUMBER, CODE)).approved is True
    with pytest.raises(VerificationNotFound) as excinfo:
        await verify.check(NUMBER, CODE)
    assert excinfo.value.code == 20404
    assert str(excinfo.value) == "This code has expired or was already used: request a new code."


@pytest.mark.parametrize(
    ("op", "status", "code", "message", "expected"),
    [
        ("check", 429, 60202, "Max check attempts reached", TooManyChecks),
        ("send", 429, 60203, "Max send attempts reached", TooManySends),
        ("check", 404, 20404, "The requested resource was not found", VerificationNotFound),
        ("send", 400, 60200, "Invalid parameter: To", InvalidNumber),
        ("send", 403, 60205, "SMS is not supported by landline phone number", InvalidNumber),
        ("check", 400, 60200, "Invalid parameter: Code", InvalidCode),
        # Not the user's doing: our configuration or Twilio's trouble.
        ("send", 404, 20404, "The requested resource was not found", OtpUnavailable),
        ("send", 400, 60200, "Invalid parameter: Channel", OtpUnavailable),
        ("send", 401, 20003, "Authenticate", OtpUnavailable),
        ("check", 429, 20429, "Too Many Requests", OtpUnavailable),
        ("send", 500, 20500, "Internal Server Error", OtpUnavailable),
        ("check", 503, 20503, "Service Unavailable", OtpUnavailable),
    ],
)
async def test_twilio_error_codes_map_to_exceptions(
    verify: TwilioVerify,
    double: VerifyDouble,
    op: str,
    status: int,
    code: int,
    message: str,
    expected: type[OtpError],
) -> None:
    double.queued.append(twilio_error(status, code, message))
    call = verify.send(NUMBER) if op == "send" else verify.check(NUMBER, CODE)
    with pytest.raises(OtpError) as excinfo:
        await call
    assert type(excinfo.value) is expected
    assert str(excinfo.value) == expected.default_message
    assert excinfo.value.code == code  # Twilio's code, kept for the caller's logs too
    assert len(double.requests) == 1  # never retried: a retry could text or count again


async def test_wrong_credentials_are_unavailable_and_logged_without_the_token(
    verify_server: tuple[VerifyDouble, str],
    double: VerifyDouble,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_token = "0" * 32
    provider = make_verify(verify_server[1], auth_token=wrong_token)
    try:
        with pytest.raises(OtpUnavailable) as excinfo:
            await provider.send(NUMBER)
    finally:
        await provider.aclose()
    assert excinfo.value.code == 20003
    assert "TWILIO_AUTH_TOKEN" in caplog.text
    assert wrong_token not in caplog.text


async def test_non_json_and_unexpected_answers_are_unavailable(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    double.queued.append(Response("<html>Bad gateway</html>", status_code=502))
    with pytest.raises(OtpUnavailable) as excinfo:
        await verify.send(NUMBER)
    assert excinfo.value.code is None

    double.queued.append(Response("not json", status_code=201))
    with pytest.raises(OtpUnavailable):
        await verify.send(NUMBER)

    double.queued.append(JSONResponse({"status": "pending"}, status_code=201))  # no sid
    with pytest.raises(OtpUnavailable):
        await verify.send(NUMBER)

    double.queued.append(JSONResponse({"sid": "VE" + "0" * 32, "status": "bogus"}))
    with pytest.raises(OtpUnavailable):
        await verify.check(NUMBER, CODE)


async def test_a_refused_connection_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        provider = make_verify(f"http://127.0.0.1:{port}")
        try:
            with pytest.raises(OtpUnavailable) as excinfo:
                await provider.send(NUMBER)
        finally:
            await provider.aclose()
    assert str(excinfo.value) == OtpUnavailable.default_message
    assert "try again" in str(excinfo.value)


async def test_a_timeout_is_unavailable(
    verify_server: tuple[VerifyDouble, str], double: VerifyDouble
) -> None:
    double.delay_s = 0.5
    provider = make_verify(verify_server[1], timeout_s=0.1)
    try:
        with pytest.raises(OtpUnavailable):
            await provider.check(NUMBER, CODE)
    finally:
        await provider.aclose()


async def test_malformed_input_is_refused_before_any_request(
    verify: TwilioVerify, double: VerifyDouble
) -> None:
    with pytest.raises(InvalidCode):
        await verify.check(NUMBER, "12")
    with pytest.raises(InvalidNumber):
        await verify.send("5558675310")
    with pytest.raises(ValueError, match="channel"):
        await verify.send(NUMBER, channel="fax")
    assert double.requests == []


async def test_neither_the_token_nor_the_code_nor_the_number_is_logged(
    verify: TwilioVerify, double: VerifyDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await verify.send(NUMBER)
    await verify.check(NUMBER, "000000")
    await verify.check(NUMBER, CODE)
    double.queued.append(twilio_error(500, 20500, "Internal Server Error"))
    with pytest.raises(OtpUnavailable):
        await verify.check(NUMBER, CODE)

    assert any(r.name == "accounts.otp" for r in caplog.records)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "+1555…5310" in text
    for secret in (AUTH_TOKEN, CODE, NUMBER):
        assert secret not in text
    assert AUTH_TOKEN not in repr(verify)


# --- the interface and the factory ------------------------------------------------------


async def test_live_provider_is_an_otp_provider(verify: TwilioVerify) -> None:
    assert isinstance(verify, OtpProvider)
    assert verify.live is True
    assert verify.label == "Twilio Verify"


def test_constructor_requires_credentials() -> None:
    with pytest.raises(ValueError, match="auth token"):
        TwilioVerify(account_sid=ACCOUNT_SID, auth_token="", service_sid=SERVICE_SID)


LIVE_VALUES: dict[str, Any] = {
    "twilio_account_sid": ACCOUNT_SID,
    "twilio_auth_token": AUTH_TOKEN,
    "twilio_verify_service_sid": SERVICE_SID,
    "twilio_verify_signup_service_sid": SIGNUP_SERVICE_SID,
    "twilio_verify_reset_service_sid": RESET_SERVICE_SID,
}


async def test_factory_picks_live_with_a_service_per_flow(db: Database) -> None:
    live = build_otp(Settings(_env_file=None, **LIVE_VALUES), db)
    try:
        assert isinstance(live, TwilioVerify)
        assert live._base_url == DEFAULT_BASE_URL == "https://verify.twilio.com"
        assert {flow: live.service_sid(flow) for flow in Flow} == {
            Flow.LOGIN: SERVICE_SID,
            Flow.SIGNUP: SIGNUP_SERVICE_SID,
            Flow.MOBILE: SIGNUP_SERVICE_SID,
            Flow.RESET: RESET_SERVICE_SID,
        }
    finally:
        await live.aclose()
    nothing = build_otp(Settings(_env_file=None, twilio_auth_token=AUTH_TOKEN), db)
    assert isinstance(nothing, SimulatedVerify)
    assert isinstance(nothing, OtpProvider)


@pytest.mark.parametrize("missing", sorted(LIVE_VALUES))
def test_factory_refuses_live_verify_with_anything_missing(db: Database, missing: str) -> None:
    """A Verify service set means live codes: half a configuration is refused at
    start-up, naming what is missing, instead of falling back to simulated codes."""
    values = {**LIVE_VALUES, missing: None}
    with pytest.raises(OtpConfigError) as refused:
        build_otp(Settings(_env_file=None, **values), db)
    assert missing.upper() in str(refused.value)


def test_factory_refuses_one_service_shared_by_flows(db: Database) -> None:
    values = {**LIVE_VALUES, "twilio_verify_reset_service_sid": SERVICE_SID}
    with pytest.raises(OtpConfigError, match="three different Verify services"):
        build_otp(Settings(_env_file=None, **values), db)


async def test_each_flow_talks_to_its_own_service(
    verify_server: tuple[VerifyDouble, str], double: VerifyDouble
) -> None:
    provider = make_verify(
        verify_server[1],
        flow_service_sids={Flow.SIGNUP: SIGNUP_SERVICE_SID, Flow.RESET: RESET_SERVICE_SID},
    )
    try:
        await provider.send(NUMBER, flow=Flow.LOGIN)
        await provider.send(NUMBER, flow=Flow.RESET)
        await provider.check(NUMBER, CODE, flow=Flow.RESET)
    finally:
        await provider.aclose()
    paths = [r.path for r in double.requests]
    assert paths == [
        f"/v2/Services/{SERVICE_SID}/Verifications",
        f"/v2/Services/{RESET_SERVICE_SID}/Verifications",
        f"/v2/Services/{RESET_SERVICE_SID}/VerificationCheck",
    ]
