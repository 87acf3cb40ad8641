"""Pick the OTP provider from the settings (DESIGN.md §4).

- Nothing Twilio-Verify-shaped configured, and no live telephony: the simulator. Its
  codes are shown on `/account/dev-inbox` only when *every* provider is simulated (a
  deployment with any live provider must not have a page that hands out second
  factors); otherwise they are only in the server log.
- Live telephony, or any Verify service set: live Twilio Verify, which needs the
  account SID, the auth token and one Verify service per flow (login, sign-up, reset;
  accounts/otp/__init__.py says why). Anything missing is refused at start-up with
  a message naming it: live calls must never run beside simulated codes.
"""

from __future__ import annotations

from accounts.otp import Flow, OtpProvider
from accounts.otp.simulated import SimulatedVerify
from core.db import Database
from core.errors import KloseError
from core.settings import Settings

_SERVICE_ENV = {
    "login": "TWILIO_VERIFY_SERVICE_SID",
    "signup": "TWILIO_VERIFY_SIGNUP_SERVICE_SID",
    "reset": "TWILIO_VERIFY_RESET_SERVICE_SID",
}


class OtpConfigError(KloseError):
    """The OTP settings cannot be used as they are; the message says what to set."""


def build_otp(settings: Settings, db: Database) -> OtpProvider:
    sids = settings.verify_service_sids
    if not settings.twilio_live and not any(sids.values()):
        return SimulatedVerify(db, dev_inbox=settings.all_providers_simulated)
    missing = [env for flow, env in _SERVICE_ENV.items() if not sids[flow]]
    if not settings.twilio_account_sid:
        missing.insert(0, "TWILIO_ACCOUNT_SID")
    if settings.twilio_auth_token is None:
        missing.insert(0, "TWILIO_AUTH_TOKEN")
    why = (
        "Live telephony needs live Twilio Verify"
        if settings.twilio_live
        else "A Twilio Verify service is set, so codes must go through live Twilio Verify"
    )
    if missing:
        raise OtpConfigError(
            f"{why}: set {', '.join(missing)}. Klosesales does not start with simulated "
            "codes beside a live provider (one Verify service per flow: sign-in, sign-up, "
            "password reset)."
        )
    if len(set(sids.values())) != len(sids):
        raise OtpConfigError(
            "TWILIO_VERIFY_SERVICE_SID, TWILIO_VERIFY_SIGNUP_SERVICE_SID and "
            "TWILIO_VERIFY_RESET_SERVICE_SID must be three different Verify services: "
            "Verify keeps one pending code per number per service, so a shared service "
            "lets a failed password reset lock its owner out of sign-in."
        )
    login, signup, reset = sids["login"] or "", sids["signup"] or "", sids["reset"] or ""
    token = settings.twilio_auth_token
    # Imported here: live Verify pulls in aiohttp (~0.3 s) that the simulated one doesn't.
    from accounts.otp.live import TwilioVerify

    return TwilioVerify(
        account_sid=settings.twilio_account_sid or "",
        auth_token=token.get_secret_value() if token is not None else "",
        service_sid=login,
        flow_service_sids={
            Flow.LOGIN: login,
            Flow.SIGNUP: signup,
            Flow.MOBILE: signup,
            Flow.RESET: reset,
        },
    )
