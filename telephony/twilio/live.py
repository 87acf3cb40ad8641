"""Twilio's Calls API behind `TelephonyProvider` (DESIGN.md §4, §6).

Shapes follow Twilio's REST reference (API version 2010-04-01):

- `POST /2010-04-01/Accounts/{AccountSid}/Calls.json`, form-encoded, answers 201 with
  the Call resource (`sid`, `status` "queued", ...). `StatusCallbackEvent` is repeated
  once per event: a single space-joined value has been seen to leave calls stuck at
  "initiated". Booleans are the strings `true`/`false`, numbers are decimal digits.
- `GET .../Calls/{CallSid}.json` answers the Call resource; `duration` is a string of
  whole seconds (null until the call ends).
- `POST .../Calls/{CallSid}.json` with `Status=completed` hangs the call up.
- Errors are `{"code": 21211, "message": ..., "more_info": ..., "status": 400}`.

Authentication is HTTP basic with the Account SID and Auth Token. The token lives only
inside the client's auth object: it is not kept on the instance, logged, or put in an
error message.
"""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import quote, urlencode

import httpx

from core.twilio_http import twilio_client
from telephony.twilio import STATUS_CALLBACK_EVENTS, CallRequest, PlacedCall, TelephonyError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.twilio.com"
API_VERSION: Final = "2010-04-01"

FormFields = list[tuple[str, str]]


def call_form(req: CallRequest) -> FormFields:
    """The create-call form, as (name, value) pairs; names may repeat."""
    form: FormFields = [("To", req.to_e164), ("From", req.from_e164)]
    if req.twiml is not None:
        form.append(("Twiml", req.twiml))
    elif req.url is not None:
        form += [("Url", req.url), ("Method", "POST")]
    form += [("StatusCallback", req.status_callback_url), ("StatusCallbackMethod", "POST")]
    form += [("StatusCallbackEvent", event) for event in STATUS_CALLBACK_EVENTS]
    if req.machine_detection is not None and req.amd_callback_url:
        form += [
            ("MachineDetection", req.machine_detection),
            ("AsyncAmd", "true"),
            ("AsyncAmdStatusCallback", req.amd_callback_url),
            ("AsyncAmdStatusCallbackMethod", "POST"),
        ]
    form.append(("TimeLimit", str(int(req.time_limit_s))))
    if req.ring_timeout_s is not None:
        form.append(("Timeout", str(int(req.ring_timeout_s))))
    if req.record and req.recording_callback_url:
        form += [
            ("Record", "true"),
            ("RecordingStatusCallback", req.recording_callback_url),
            ("RecordingStatusCallbackMethod", "POST"),
            ("RecordingStatusCallbackEvent", "completed"),
        ]
    return form


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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("A Twilio Account SID and Auth Token are required.")
        self._account_sid = account_sid
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._client = twilio_client(
            account_sid=account_sid,
            auth_token=auth_token,
            base_url=self._base_url,
            timeout_s=timeout_s,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"TwilioCalls(account_sid={self._account_sid!r}, base_url={self._base_url!r})"

    # --- TelephonyProvider ---------------------------------------------------------

    async def create_call(self, req: CallRequest) -> PlacedCall:
        data = await self._request("POST", self._calls_path(), call_form(req))
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid:
            raise TelephonyError("Twilio sent an unexpected create-call response: no sid.")
        status = data.get("status")
        log.info("Twilio call %s created (%s)", sid, status)
        return PlacedCall(sid=sid, status=status if isinstance(status, str) else "", raw=data)

    async def fetch_call(self, sid: str) -> dict[str, Any]:
        return await self._request("GET", self._call_path(sid))

    async def hangup(self, sid: str) -> None:
        await self._request("POST", self._call_path(sid), [("Status", "completed")])
        log.info("Twilio call %s hung up", sid)

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- HTTP ----------------------------------------------------------------------

    def _calls_path(self) -> str:
        return f"/{API_VERSION}/Accounts/{quote(self._account_sid, safe='')}/Calls.json"

    def _call_path(self, sid: str) -> str:
        if not sid:
            raise ValueError("A call SID is required.")
        account = quote(self._account_sid, safe="")
        return f"/{API_VERSION}/Accounts/{account}/Calls/{quote(sid, safe='')}.json"

    async def _request(
        self, method: str, path: str, form: FormFields | None = None
    ) -> dict[str, Any]:
        # No retries: a create that timed out may still have placed the call.
        try:
            if form is None:
                response = await self._client.request(method, path)
            else:
                # Encoded by hand so repeated names (StatusCallbackEvent) stay repeated.
                content = urlencode(form).encode("ascii")
                response = await self._client.request(
                    method,
                    path,
                    content=content,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
        except httpx.TimeoutException as exc:
            raise TelephonyError(
                f"Twilio did not answer within {self._timeout_s:g} s ({method}). "
                "Please try again shortly."
            ) from exc
        except httpx.TransportError as exc:
            raise TelephonyError(
                f"Could not reach Twilio at {self._base_url} ({type(exc).__name__}). "
                "Please try again shortly."
            ) from exc
        except httpx.HTTPError as exc:
            raise TelephonyError(f"The request to Twilio failed ({type(exc).__name__}).") from exc
        log.debug("Twilio %s %s -> HTTP %d", method, path, response.status_code)
        if not response.is_success:
            raise _api_error(response)
        try:
            payload = response.json()
        except ValueError as exc:
            raise TelephonyError(
                f"Twilio sent a response that is not JSON (HTTP {response.status_code}).",
                status=response.status_code,
            ) from exc
        if not isinstance(payload, dict):
            raise TelephonyError("Twilio sent an unexpected response: not an object.")
        return payload


_HINTS: Final = {
    20003: "Twilio rejected the Account SID or Auth Token; check the Twilio settings.",
    21211: "The number to call is not a valid phone number.",
    21215: "This account has no geographic permission to call that destination; "
    "enable it in Twilio's voice geo permissions.",
}


def _api_error(response: httpx.Response) -> TelephonyError:
    status = response.status_code
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return TelephonyError(
            f"Twilio answered HTTP {status} without an error description.", status=status
        )
    raw_code = payload.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    message = payload.get("message")
    message = message if isinstance(message, str) and message else f"HTTP {status}"
    more_info = payload.get("more_info")
    log.warning("Twilio refused a request: HTTP %d, error %s", status, code)
    hint = _HINTS.get(code) if code is not None else None
    text = f"Twilio refused the request: {message.rstrip('.')} (error {code or 'without code'})."
    if hint:
        text = f"{hint} {text}"
    if isinstance(more_info, str) and more_info:
        text = f"{text} See {more_info}"
    return TelephonyError(text, code=code, status=status)
