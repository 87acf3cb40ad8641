"""Pick the OTP provider from the settings: Twilio Verify when its credentials are set,
the simulator otherwise (DESIGN.md §4)."""

from __future__ import annotations

from accounts.otp import OtpProvider
from accounts.otp.live import TwilioVerify
from accounts.otp.simulated import SimulatedVerify
from core.db import Database
from core.settings import Settings


def build_otp(settings: Settings, db: Database) -> OtpProvider:
    if (
        settings.verify_live
        and settings.twilio_account_sid
        and settings.twilio_auth_token is not None
        and settings.twilio_verify_service_sid
    ):
        return TwilioVerify(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            service_sid=settings.twilio_verify_service_sid,
        )
    return SimulatedVerify(db)
