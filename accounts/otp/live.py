"""Twilio Verify v2 behind `OtpProvider`, through the official `twilio` SDK on its async
HTTP client (core/twilio_http.py).

- send: `client.verify.v2.services(sid).verifications.create_async(to=…, channel=…)`,
  Twilio's `POST /v2/Services/{ServiceSid}/Verifications`; the Verification answered
  has `sid` (VE…), `status` (pending), `to`, `channel` and `send_code_attempts[]` (one
  entry per send of this verification: re-sending inside the 10 minutes adds one).
- check: `….verification_checks.create_async(to=…, code=…)`, Twilio's
  `POST /v2/Services/{ServiceSid}/VerificationCheck`, answering `status`: `approved`
  for the right code, `pending` for a wrong one.
- Twilio's refusals reach us as the SDK's `TwilioRestException` (`code`, `status`):
  60202 more than 5 checks (429), 60203 more than 5 sends (429), 20404 no such
  verification — expired or already approved — (404), 60200 invalid parameter (400),
  60205 SMS to a landline (403). Each becomes the `OtpError` with its user message.

One Verify service per flow: Verify keeps one pending verification per To number *per
service*, so a service of its own for each flow is what keeps a stranger's failed
password-reset codes from locking the owner's sign-in (accounts/otp/__init__.py).
`service_sid` serves every flow not named in `flow_service_sids`; the factory gives
each flow its own.

Nothing is retried: a send that reached Twilio may have texted the user, and a check
counts against the 5 attempts. The auth token lives only inside the SDK client and the
code only in the request body: neither is kept on the instance, logged, or put in an
error message. Numbers are logged masked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Literal

import aiohttp
from twilio.base.exceptions import TwilioException

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
from core.twilio_http import rest_error, twilio_client

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
    ) -> None:
        if not account_sid or not auth_token or not service_sid:
            raise ValueError("Twilio Verify needs an account SID, an auth token and a service SID.")
        self._base_url = base_url.rstrip("/")
        self._service_sid = service_sid
        self._timeout_s = timeout_s
        sids = {flow: (flow_service_sids or {}).get(flow) or service_sid for flow in Flow}
        self._service_sids: dict[Flow, str] = sids
        rebase = None if self._base_url == DEFAULT_BASE_URL else self._base_url
        self._client = twilio_client(
            account_sid=account_sid, auth_token=auth_token, timeout_s=timeout_s, base_url=rebase
        )

    def __repr__(self) -> str:
        return f"TwilioVerify(base_url={self._base_url!r}, service_sid={self._service_sid!r})"

    def service_sid(self, flow: Flow) -> str:
        """The Verify service that keeps `flow`'s verifications."""
        return self._service_sids[Flow(flow)]

    def _service(self, flow: Flow) -> Any:
        return self._client.verify.v2.services(self.service_sid(flow))

    # --- OtpProvider -----------------------------------------------------------------

    async def send(
        self, to_e164: str, *, flow: Flow = Flow.MOBILE, channel: str = "sms"
    ) -> SendResult:
        to = validate_e164(to_e164)
        validate_channel(channel)
        try:
            sent = await self._service(flow).verifications.create_async(to=to, channel=channel)
        except Exception as exc:
            raise self._error("send", exc) from exc
        sid = sent.sid
        if not isinstance(sid, str) or not sid:
            raise _unexpected("send", "no sid")
        attempts = sent.send_code_attempts
        result = SendResult(
            sid=sid,
            status=sent.status if isinstance(sent.status, str) else "pending",
            to=sent.to if isinstance(sent.to, str) else to,
            channel=sent.channel if isinstance(sent.channel, str) else channel,
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
        try:
            checked = await self._service(flow).verification_checks.create_async(to=to, code=typed)
        except Exception as exc:
            raise self._error("check", exc) from exc
        status = checked.status
        if not isinstance(status, str) or status not in STATUSES:
            raise _unexpected("check", f"status {status!r}")
        sid = checked.sid
        result = CheckResult(
            status=status,
            approved=status == APPROVED,
            sid=sid if isinstance(sid, str) else None,
        )
        log.info("Verify: checked a code for %s: %s", mask_e164(to), status)
        return result

    async def aclose(self) -> None:
        await self._client.http_client.close()

    # --- errors ------------------------------------------------------------------------

    def _error(self, op: _Operation, exc: Exception) -> OtpError:
        """The `OtpError` for whatever a send or a check raised."""
        if isinstance(exc, TwilioException):
            return _refused(op, exc)
        if isinstance(exc, TimeoutError):
            log.warning("Verify %s: no answer within %.3g s", op, self._timeout_s)
            return OtpUnavailable()
        if isinstance(exc, aiohttp.ClientError):
            log.warning(
                "Verify %s: could not reach %s (%s)", op, self._base_url, type(exc).__name__
            )
            return OtpUnavailable()
        if isinstance(exc, ValueError):  # a success answer that is not JSON
            return _unexpected(op, "an answer that is not JSON")
        raise exc


def _unexpected(op: _Operation, why: str) -> OtpUnavailable:
    log.error("Verify %s: unexpected response: %s", op, why)
    return OtpUnavailable()


def _refused(op: _Operation, exc: TwilioException) -> OtpError:
    """The exception for Twilio's refusal of a send or a check."""
    error = rest_error(exc)
    code, message = error.code, error.message
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
    if error.status in (401, 403):
        hint = "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
    elif error.status == 404:
        hint = "check TWILIO_VERIFY_SERVICE_SID"
    else:
        hint = "Twilio refused or failed the request"
    log.error(
        "Verify %s: HTTP %s, Twilio error %s: %s (%s)",
        op,
        error.status,
        code if code is not None else "-",
        message or "no message",
        hint,
    )
    return OtpUnavailable(code=code)
