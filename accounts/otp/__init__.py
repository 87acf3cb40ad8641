"""One-time codes to a mobile number, live (Twilio Verify v2) or simulated (DESIGN.md §4).

Sign-up, the second factor of a login, password reset and "change my mobile" all go
through `OtpProvider`: `send` a code to an E.164 number, then `check` what the user
typed. Both implementations follow Verify's rules:

- a code lives 10 minutes; sending again inside that window re-sends the **same**
  verification (same sid, same code);
- more than 5 sends of one verification → `TooManySends` (Twilio 60203, HTTP 429);
- more than 5 checks → `TooManyChecks` (60202, HTTP 429);
- a wrong code is not an error: the check answers `pending`, `approved=False`;
- once approved or expired the verification is gone: a check → `VerificationNotFound`
  (20404, HTTP 404).

`TwilioVerify` (live.py) calls Twilio; `SimulatedVerify` (simulated.py) keeps the same
state machine in `otp_verifications` and shows the code on the dev inbox and in the log.
`build_otp` (factory.py) picks one from the settings.

Flows are kept apart (issue 15, item 4)
---------------------------------------
Verify keeps **one pending verification per To number per service**: its 5 sends and
5 checks belong to that verification, whoever asked for it. With one service for
everything, a stranger who knows an email could start a password reset, type five
wrong codes, and the owner's next sign-in code would be refused (60202) for ten
minutes. So every send and check names its `Flow`, and:

- live: each flow has its **own Verify service** — `TWILIO_VERIFY_SERVICE_SID` for the
  sign-in second factor, `TWILIO_VERIFY_SIGNUP_SERVICE_SID` for sign-up and a change
  of mobile (proving a number that is not on an account yet), and
  `TWILIO_VERIFY_RESET_SERVICE_SID` for password reset. Verify's per-(service, To)
  rule then *is* per-flow separation; the factory refuses to start live Verify unless
  the three are set and distinct;
- simulated: the same rule, one pending verification per (flow, number) (migration
  0023).

Inside a flow, the verification is still shared by everyone asking for that number.
Our own limits, in front of Verify, are counted per flow and per requester
(accounts/ratelimit.py): one requester of a password reset gets fewer wrong codes
(`RESET_CODE_PER_REQUESTER`, 3) than Verify's cap (5), so no single requester can
exhaust the reset verification, and what it exhausts is its own allowance. Login
needs the password first, so its verification is only ever the owner's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final, Protocol, runtime_checkable

from core.errors import KloseError

# Verify's verification statuses, plus `not_found` for "there is nothing to check".
PENDING: Final = "pending"
APPROVED: Final = "approved"
CANCELED: Final = "canceled"
MAX_ATTEMPTS_REACHED: Final = "max_attempts_reached"
EXPIRED: Final = "expired"
FAILED: Final = "failed"
DELETED: Final = "deleted"
NOT_FOUND: Final = "not_found"
STATUSES: Final = frozenset(
    {PENDING, APPROVED, CANCELED, MAX_ATTEMPTS_REACHED, EXPIRED, FAILED, DELETED, NOT_FOUND}
)

CHANNELS: Final = frozenset({"sms", "call", "whatsapp"})  # the phone channels Verify offers

CODE_TTL_S: Final = 600  # Verify's default code life: 10 minutes
MAX_SENDS: Final = 5  # the 6th send of one verification → 60203
MAX_CHECKS: Final = 5  # the 6th check of one verification → 60202


class Flow(StrEnum):
    """Which journey a code belongs to; each has its own verification of a number."""

    SIGNUP = "signup"
    LOGIN = "login"
    RESET = "reset"
    MOBILE = "mobile"  # a signed-in user proving a new mobile number


_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_CODE = re.compile(r"[0-9]{4,10}")  # Verify accepts codes of 4 to 10 digits


class OtpError(KloseError):
    """A verification could not be sent or checked. `str(exc)` is fit to show a user;
    `code` is Twilio's error code where there is one."""

    code: int | None = None
    default_message: ClassVar[str] = "The verification code could not be processed."

    def __init__(self, message: str | None = None, *, code: int | None = None) -> None:
        super().__init__(message or self.default_message)
        if code is not None:
            self.code = code


class TooManyChecks(OtpError):
    code = 60202
    default_message = "Too many wrong codes: request a new code in a few minutes."


class TooManySends(OtpError):
    code = 60203
    default_message = (
        "Too many codes were sent to this number: wait 10 minutes, then request a new one."
    )


class VerificationNotFound(OtpError):
    code = 20404
    default_message = "This code has expired or was already used: request a new code."


class InvalidNumber(OtpError):
    """Twilio refused the number: malformed (60200 on a send), a landline that cannot
    get SMS (60205) or not a valid destination (60006)."""

    code = 60200
    default_message = (
        "That mobile number cannot receive verification codes. "
        "Enter it in international format, for example +14155550123."
    )


class InvalidCode(OtpError):
    """The code typed is not 4–10 digits (Twilio: 60200 on a check). Nothing is counted."""

    code = 60200
    default_message = "Enter the code from the text message: digits only."


class OtpUnavailable(OtpError):
    """The provider could not be reached, failed, or refused us for another reason."""

    code = None
    default_message = "Verification codes are unavailable right now. Please try again in a moment."


@dataclass(frozen=True)
class SendResult:
    sid: str  # VE + 32 hex
    status: str  # pending, normally
    to: str
    channel: str
    send_count: int | None = None  # sends of this verification so far, where known


@dataclass(frozen=True)
class CheckResult:
    status: str  # one of STATUSES; `pending` after a wrong code
    approved: bool
    sid: str | None = None


@runtime_checkable
class OtpProvider(Protocol):
    live: bool
    label: str

    async def send(
        self, to_e164: str, *, flow: Flow = Flow.MOBILE, channel: str = "sms"
    ) -> SendResult:
        """Start (or re-send, inside its 10 minutes) `flow`'s verification of `to_e164`.
        Other flows' verifications of the number are not touched."""
        ...

    async def check(self, to_e164: str, code: str, *, flow: Flow = Flow.MOBILE) -> CheckResult:
        """Check `code` against `flow`'s pending verification of `to_e164`."""
        ...

    async def aclose(self) -> None: ...


def validate_e164(to_e164: str) -> str:
    """`to_e164` when it is E.164 (`+`, country code, at most 15 digits), else
    `InvalidNumber`."""
    if not isinstance(to_e164, str) or not _E164.fullmatch(to_e164):
        raise InvalidNumber()
    return to_e164


def validate_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"Unsupported verification channel {channel!r}.")
    return channel


def normalise_code(code: str) -> str:
    """The code without surrounding or inner spaces; `InvalidCode` unless 4–10 digits.
    Checked before anything is counted or sent."""
    cleaned = "".join(code.split()) if isinstance(code, str) else ""
    if not _CODE.fullmatch(cleaned):
        raise InvalidCode()
    return cleaned


def mask_e164(to_e164: str) -> str:
    """A number fit for a log line: `+15551231234` → `+1555…1234`."""
    if len(to_e164) <= 8:
        return to_e164[:2] + "…" + to_e164[-2:]
    return to_e164[:5] + "…" + to_e164[-4:]


__all__ = [
    "APPROVED",
    "CANCELED",
    "CHANNELS",
    "CODE_TTL_S",
    "DELETED",
    "EXPIRED",
    "FAILED",
    "MAX_ATTEMPTS_REACHED",
    "MAX_CHECKS",
    "MAX_SENDS",
    "NOT_FOUND",
    "PENDING",
    "STATUSES",
    "CheckResult",
    "Flow",
    "InvalidCode",
    "InvalidNumber",
    "OtpError",
    "OtpProvider",
    "OtpUnavailable",
    "SendResult",
    "TooManyChecks",
    "TooManySends",
    "VerificationNotFound",
    "mask_e164",
    "normalise_code",
    "validate_channel",
    "validate_e164",
]
