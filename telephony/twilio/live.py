"""Twilio's Calls API behind `TelephonyProvider` (DESIGN.md §4, §6), through the official
`twilio` SDK on its async HTTP client (core/twilio_http.py).

- create: `client.calls.create_async(...)`. `status_callback_event` is a list, one
  item per event: the SDK sends each as its own `StatusCallbackEvent` parameter (a
  single space-joined value has been seen to leave calls stuck at "initiated").
  Answering-machine detection is asynchronous (`async_amd`), so the call connects at
  once and the verdict arrives at `async_amd_status_callback`.
- fetch: `client.calls(sid).fetch_async()`; `duration` is whole seconds as a string
  (None until the call ends).
- hang up: `client.calls(sid).update_async(status="completed")`. A call Twilio no
  longer has in progress answers 20404: that call is over, which is what was asked.

Twilio's refusals (`TwilioRestException`: `code`, `status`) and unreachable-Twilio
errors become `TelephonyError` with the same wording as before the SDK. Nothing is
retried: a create that timed out may still have placed the call.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import aiohttp
from twilio.base.exceptions import TwilioException

from core.twilio_http import rest_error, twilio_client
from telephony.twilio import STATUS_CALLBACK_EVENTS, CallRequest, PlacedCall, TelephonyError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.twilio.com"
NOT_FOUND: Final = 20404

_HINTS: Final = {
    20003: "Twilio rejected the Account SID or Auth Token; check the Twilio settings.",
    21211: "The number to call is not a valid phone number.",
    21215: "This account has no geographic permission to call that destination; "
    "enable it in Twilio's voice geo permissions.",
}


def create_arguments(req: CallRequest) -> dict[str, Any]:
    """The keyword arguments of `calls.create_async` for one call request."""
    args: dict[str, Any] = {
        "to": req.to_e164,
        "from_": req.from_e164,
        "status_callback": req.status_callback_url,
        "status_callback_method": "POST",
        "status_callback_event": list(STATUS_CALLBACK_EVENTS),
        "time_limit": int(req.time_limit_s),
    }
    if req.twiml is not None:
        args["twiml"] = req.twiml
    elif req.url is not None:
        args |= {"url": req.url, "method": "POST"}
    if req.machine_detection is not None and req.amd_callback_url:
        args |= {
            "machine_detection": req.machine_detection,
            "async_amd": "true",
            "async_amd_status_callback": req.amd_callback_url,
            "async_amd_status_callback_method": "POST",
        }
    if req.ring_timeout_s is not None:
        args["timeout"] = int(req.ring_timeout_s)
    if req.record and req.recording_callback_url:
        args |= {
            "record": True,
            "recording_status_callback": req.recording_callback_url,
            "recording_status_callback_method": "POST",
            "recording_status_callback_event": ["completed"],
        }
    return args


def _call_record(call: Any) -> dict[str, Any]:
    """The fields of the SDK's `CallInstance` the app reads, as Twilio names them."""
    return {
        "sid": call.sid,
        "status": call.status,
        "duration": call.duration,
        "to": call.to,
        "from": getattr(call, "_from", None),
        "direction": call.direction,
        "answered_by": call.answered_by,
    }


class TwilioCalls:
    live = True
    label = "Twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 15.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("A Twilio Account SID and Auth Token are required.")
        self._account_sid = account_sid
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        rebase = None if self._base_url == DEFAULT_BASE_URL else self._base_url
        self._client = twilio_client(
            account_sid=account_sid, auth_token=auth_token, timeout_s=timeout_s, base_url=rebase
        )

    def __repr__(self) -> str:
        return f"TwilioCalls(account_sid={self._account_sid!r}, base_url={self._base_url!r})"

    # --- TelephonyProvider ---------------------------------------------------------

    async def create_call(self, req: CallRequest) -> PlacedCall:
        try:
            call = await self._client.calls.create_async(**create_arguments(req))
        except Exception as exc:
            raise self._error(exc, "POST") from exc
        sid = call.sid
        if not isinstance(sid, str) or not sid:
            raise TelephonyError("Twilio sent an unexpected create-call response: no sid.")
        status = call.status if isinstance(call.status, str) else ""
        log.info("Twilio call %s created (%s)", sid, status)
        return PlacedCall(sid=sid, status=status, raw=_call_record(call))

    async def fetch_call(self, sid: str) -> dict[str, Any]:
        if not sid:
            raise ValueError("A call SID is required.")
        try:
            call = await self._client.calls(sid).fetch_async()
        except Exception as exc:
            raise self._error(exc, "GET") from exc
        return _call_record(call)

    async def hangup(self, sid: str) -> bool:
        """End the call. False when Twilio no longer has it in progress (20404): the
        call is over already, which is not an error."""
        if not sid:
            raise ValueError("A call SID is required.")
        try:
            await self._client.calls(sid).update_async(status="completed")
        except Exception as exc:
            error = self._error(exc, "POST")
            if error.code == NOT_FOUND:
                log.info("Twilio call %s was already over", sid)
                return False
            raise error from exc
        log.info("Twilio call %s hung up", sid)
        return True

    async def aclose(self) -> None:
        await self._client.http_client.close()

    # --- errors --------------------------------------------------------------------

    def _error(self, exc: Exception, method: str) -> TelephonyError:
        if isinstance(exc, TwilioException):
            return _api_error(exc)
        if isinstance(exc, TimeoutError):
            return TelephonyError(
                f"Twilio did not answer within {self._timeout_s:g} s ({method}). "
                "Please try again shortly."
            )
        if isinstance(exc, aiohttp.ClientConnectionError):
            return TelephonyError(
                f"Could not reach Twilio at {self._base_url} ({type(exc).__name__}). "
                "Please try again shortly."
            )
        if isinstance(exc, aiohttp.ClientError):
            return TelephonyError(f"The request to Twilio failed ({type(exc).__name__}).")
        if isinstance(exc, ValueError):  # a success answer that is not JSON
            return TelephonyError("Twilio sent a response that is not JSON.")
        raise exc


def _api_error(exc: TwilioException) -> TelephonyError:
    error = rest_error(exc)
    status, code = error.status, error.code
    log.warning("Twilio refused a request: HTTP %s, error %s", status, code)
    if not error.message and code is None:
        return TelephonyError(
            f"Twilio answered HTTP {status} without an error description.", status=status
        )
    message = error.message or f"HTTP {status}"
    hint = _HINTS.get(code) if code is not None else None
    text = f"Twilio refused the request: {message.rstrip('.')} (error {code or 'without code'})."
    if hint:
        text = f"{hint} {text}"
    if error.more_info:
        text = f"{text} See {error.more_info}"
    return TelephonyError(text, code=code, status=status)
