"""Twilio Verify v2 behind `OtpProvider`, over plain HTTP (no Twilio SDK).

Shapes follow Twilio's API reference:

- `POST /v2/Services/{ServiceSid}/Verifications`, form-encoded `To` (E.164) and
  `Channel` (sms, call, whatsapp, …), answers 201 with the Verification: `sid` (VE…),
  `status` (pending), `to`, `channel`, `valid`, `send_code_attempts[]` (one entry per
  send of this verification: re-sending inside the 10 minutes adds one).
- `POST /v2/Services/{ServiceSid}/VerificationCheck`, form-encoded `To` and `Code`,
  answers 200 with `status`: `approved` for the right code, `pending` for a wrong one.
- HTTP basic auth: the account SID and the auth token.
- Errors are `{"code": 60202, "message": …, "more_info": …, "status": 429}`:
  60202 more than 5 checks (429), 60203 more than 5 sends (429), 20404 no such
  verification — expired or already approved — (404), 60200 invalid parameter (400),
  60205 SMS to a landline (403).

One Verify service per flow: Verify keeps one pending verification per To number *per
service*, so a service of its own for each flow is what keeps a stranger's failed
password-reset codes from locking the owner's sign-in (accounts/otp/__init__.py).
`service_sid` serves every flow not named in `flow_service_sids`; the factory gives
each flow its own.

Nothing is retried: a send that reached Twilio may have texted the user, and a check
counts against the 5 attempts. The auth token lives only inside the HTTP client's auth
and the code only in the request body: neither is kept on the instance, logged, or put
in an error message. Numbers are logged masked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import quote

import httpx

from accounts.otp import (
    APPROVED,
    STATUSES,
    CheckResult,
    Flow,
    InvalidCode,
    InvalidNumber,
    OtpError,
    OtpUnavailable,
    SendResult,
    TooManyChecks,
    TooManySends,
    VerificationNotFound,
    mask_e164,
    normalise_code,
    validate_channel,
    validate_e164,
)
from core.twilio_http import twilio_client

log = logging.getLogger("accounts.otp")

DEFAULT_BASE_URL: Final = "https://verify.twilio.com"

_Operation = Literal["send", "check"]

# Twilio codes that say the number itself cannot receive a code.
_BAD_NUMBER_CODES: Final = frozenset({60205, 60006})


class TwilioVerify:
    live = True
    label = "Twilio Verify"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        service_sid: str,
        flow_service_sids: Mapping[Flow, str] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not account_sid or not auth_token or not service_sid:
            raise ValueError("Twilio Verify needs an account SID, an auth token and a service SID.")
        self._base_url = base_url.rstrip("/")
        self._service_sid = service_sid
        self._timeout_s = timeout_s
        sids = {flow: (flow_service_sids or {}).get(flow) or service_sid for flow in Flow}
        self._service_sids: dict[Flow, str] = sids
        self._paths = {
            flow: (
                f"/v2/Services/{quote(sid, safe='')}/Verifications",
                f"/v2/Services/{quote(sid, safe='')}/VerificationCheck",
            )
            for flow, sid in sids.items()
        }
        self._client = twilio_client(
            account_sid=account_sid,
            auth_token=auth_token,
            base_url=self._base_url,
            timeout_s=timeout_s,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"TwilioVerify(base_url={self._base_url!r}, service_sid={self._service_sid!r})"

    def service_sid(self, flow: Flow) -> str:
        """The Verify service that keeps `flow`'s verifications."""
        return self._service_sids[Flow(flow)]

    # --- OtpProvider -----------------------------------------------------------------

    async def send(
        self, to_e164: str, *, flow: Flow = Flow.MOBILE, channel: str = "sms"
    ) -> SendResult:
        to = validate_e164(to_e164)
        validate_channel(channel)
        path = self._paths[Flow(flow)][0]
        body = await self._post("send", path, {"To": to, "Channel": channel})
        sid = body.get("sid")
        if not isinstance(sid, str) or not sid:
            raise _unexpected("send", "no sid")
        status = body.get("status")
        attempts = body.get("send_code_attempts")
        answered_to = body.get("to")
        answered_channel = body.get("channel")
        result = SendResult(
            sid=sid,
            status=status if isinstance(status, str) else "pending",
            to=answered_to if isinstance(answered_to, str) else to,
            channel=answered_channel if isinstance(answered_channel, str) else channel,
            send_count=len(attempts) if isinstance(attempts, list) else None,
        )
        log.info(
            "Verify: sent a code to %s by %s (%s, send %s)",
            mask_e164(to),
            result.channel,
            sid,
            result.send_count if result.send_count is not None else "?",
        )
        return result

    async def check(self, to_e164: str, code: str, *, flow: Flow = Flow.MOBILE) -> CheckResult:
        to = validate_e164(to_e164)
        typed = normalise_code(code)
        path = self._paths[Flow(flow)][1]
        body = await self._post("check", path, {"To": to, "Code": typed})
        status = body.get("status")
        if not isinstance(status, str) or status not in STATUSES:
            raise _unexpected("check", f"status {status!r}")
        sid = body.get("sid")
        result = CheckResult(
            status=status,
            approved=status == APPROVED,
            sid=sid if isinstance(sid, str) else None,
        )
        log.info("Verify: checked a code for %s: %s", mask_e164(to), status)
        return result

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- HTTP --------------------------------------------------------------------------

    async def _post(self, op: _Operation, path: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, data=form)
        except httpx.TimeoutException as exc:
            log.warning("Verify %s: no answer within %.3g s", op, self._timeout_s)
            raise OtpUnavailable() from exc
        except httpx.HTTPError as exc:
            log.warning(
                "Verify %s: could not reach %s (%s)", op, self._base_url, type(exc).__name__
            )
            raise OtpUnavailable() from exc
        if response.is_success:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            if not isinstance(payload, dict):
                raise _unexpected(op, f"HTTP {response.status_code} without a JSON object")
            return payload
        raise _error(op, response)


def _unexpected(op: _Operation, why: str) -> OtpUnavailable:
    log.error("Verify %s: unexpected response: %s", op, why)
    return OtpUnavailable()


def _twilio_error(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio's error `code` and `message` from an error response, where it has them."""
    try:
        payload = response.json()
    except ValueError:
        return None, ""
    if not isinstance(payload, dict):
        return None, ""
    code = payload.get("code")
    message = payload.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message if isinstance(message, str) else "",
    )


def _error(op: _Operation, response: httpx.Response) -> OtpError:
    """The exception for a Twilio error response to a send or a check."""
    http_status = response.status_code
    code, message = _twilio_error(response)
    if code == TooManyChecks.code:
        return TooManyChecks()
    if code == TooManySends.code:
        return TooManySends()
    if code == VerificationNotFound.code and op == "check":
        return VerificationNotFound()
    if code == 60200:
        if op == "check":
            return InvalidCode()
        if "channel" not in message.lower():
            return InvalidNumber()
    if code in _BAD_NUMBER_CODES and op == "send":
        return InvalidNumber(code=code)
    # Anything else is ours or Twilio's to fix, not the user's: say so in the log.
    if http_status in (401, 403):
        hint = "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
    elif http_status == 404:
        hint = "check TWILIO_VERIFY_SERVICE_SID"
    else:
        hint = "Twilio refused or failed the request"
    log.error(
        "Verify %s: HTTP %d, Twilio error %s: %s (%s)",
        op,
        http_status,
        code if code is not None else "-",
        message or "no message",
        hint,
    )
    return OtpUnavailable(code=code)
