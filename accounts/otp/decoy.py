"""A decoy verification: what a password reset for an unknown email runs instead of
the real one, so that it cannot be told from a known email's (issue 15, item 3).

It is Verify's state machine (the simulator's, with `reveal=False`: the code is
neither kept nor logged, so nothing can ever answer it) on the email's decoy number
(`accounts.flows.decoy_number`, +999…, a country code no one has). It therefore
gives the same answers at the same moments as the real verification: a wrong code
is `pending`; the 6th check is `TooManyChecks`; after 10 minutes, or before any send,
`VerificationNotFound`.

When the real provider is live, a check also makes the same round trip to Twilio
Verify (for the decoy number, in the reset flow's service: Twilio answers with an
error that is ignored, unless Twilio is unreachable, which the real path would show
too), so the answer takes about as long as a real check. Sends need no such mirror:
flows deliver every reset code after the response.
"""

from __future__ import annotations

from accounts.otp import CheckResult, Flow, OtpError, OtpProvider, OtpUnavailable, SendResult
from accounts.otp.simulated import Clock, SimulatedVerify
from core.db import Database


class DecoyVerify:
    live = False
    label = "decoy Verify"

    def __init__(
        self, db: Database, *, mirror: OtpProvider | None = None, clock: Clock | None = None
    ) -> None:
        self._machine = SimulatedVerify(db, clock=clock, reveal=False)
        self._mirror = mirror if mirror is not None and mirror.live else None

    @property
    def mirrors(self) -> bool:
        """Whether checks also make the round trip to live Verify."""
        return self._mirror is not None

    async def send(
        self, to_e164: str, *, flow: Flow = Flow.MOBILE, channel: str = "sms"
    ) -> SendResult:
        return await self._machine.send(to_e164, flow=flow, channel=channel)

    async def check(self, to_e164: str, code: str, *, flow: Flow = Flow.MOBILE) -> CheckResult:
        if self._mirror is not None:
            try:
                await self._mirror.check(to_e164, code, flow=flow)
            except OtpUnavailable:
                raise
            except OtpError:
                pass
        return await self._machine.check(to_e164, code, flow=flow)

    async def aclose(self) -> None:
        return None
