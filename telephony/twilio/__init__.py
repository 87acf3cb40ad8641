"""Twilio Programmable Voice behind one small interface (DESIGN.md §4, §6).

`TwilioCalls` (live.py) places, fetches and hangs up calls through the official
`twilio` SDK; a carrier simulator implements the same `TelephonyProvider` protocol.
Signatures on Twilio's callbacks and relay handshakes are made and checked by the
SDK's `RequestValidator`, through `telephony.twilio.signature`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from core.errors import KloseError

TWIML_MAX_CHARS: Final = 4000  # Twilio's cap on inline `Twiml`
STATUS_CALLBACK_EVENTS: Final = ("initiated", "ringing", "answered", "completed")
MACHINE_DETECTION_MODES: Final = frozenset({"Enable", "DetectMessageEnd"})


class TelephonyError(KloseError):
    """Twilio refused a request or could not be reached.

    `code` is Twilio's error code when it sent one (21211 invalid `To`, 21215 no geo
    permission for the destination, 20003 authentication failed, ...); `status` is
    the HTTP status.
    """

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class CallRequest:
    """One outbound call. Exactly one of `twiml` (inline) or `url` is set."""

    to_e164: str
    from_e164: str
    status_callback_url: str
    time_limit_s: int  # the hold's affordable seconds; Twilio ends the call at this length
    twiml: str | None = None
    url: str | None = None
    amd_callback_url: str | None = None
    recording_callback_url: str | None = None
    record: bool = True
    machine_detection: str | None = "DetectMessageEnd"  # or "Enable", or None for no AMD
    ring_timeout_s: int | None = None  # Twilio's `Timeout`; it defaults to 60 s

    def __post_init__(self) -> None:
        if (self.twiml is None) == (self.url is None):
            raise ValueError("A call needs exactly one of twiml or url.")
        if self.twiml is not None and len(self.twiml) > TWIML_MAX_CHARS:
            raise ValueError(f"Inline TwiML is limited to {TWIML_MAX_CHARS} characters.")
        if isinstance(self.time_limit_s, bool) or self.time_limit_s < 1:
            raise ValueError("time_limit_s must be a positive number of seconds.")
        if self.machine_detection is not None:
            if self.machine_detection not in MACHINE_DETECTION_MODES:
                raise ValueError("machine_detection must be 'Enable' or 'DetectMessageEnd'.")
            if not self.amd_callback_url:
                raise ValueError("Asynchronous machine detection needs amd_callback_url.")
        if self.record and not self.recording_callback_url:
            raise ValueError("A recorded call needs recording_callback_url.")
        if self.ring_timeout_s is not None and not 1 <= self.ring_timeout_s <= 600:
            raise ValueError("ring_timeout_s must be between 1 and 600 seconds.")


@dataclass(frozen=True)
class PlacedCall:
    sid: str  # CA…
    status: str  # usually "queued" right after creation
    raw: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TelephonyProvider(Protocol):
    live: bool
    label: str

    async def create_call(self, req: CallRequest) -> PlacedCall:
        """Start an outbound call (Twilio's `POST .../Calls.json`)."""
        ...

    async def fetch_call(self, sid: str) -> dict[str, Any]:
        """The call as the provider sees it now (`status`, `duration` in seconds, ...),
        to reconcile a hold whose final callback never came."""
        ...

    async def hangup(self, sid: str) -> bool:
        """End the call (`Status=completed`). False when the call was already over
        (Twilio's 20404), which is not an error; `TelephonyError` for anything else."""
        ...

    async def aclose(self) -> None: ...
