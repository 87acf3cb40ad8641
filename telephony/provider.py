"""The telephony a process uses, chosen by settings (DESIGN.md §4).

Live: Twilio's Calls API (the `twilio` SDK) with the shared number from settings.
Otherwise the simulated carrier, which signs its callbacks and relay handshakes with the
SDK, keyed with `TWILIO_AUTH_TOKEN` when set, else with a token made once and kept in
the data directory. Webhook and websocket URLs are built from `PUBLIC_BASE_URL` — the
URL Twilio signs — never from a request's Host.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode

from core.secrets import persistent_secret
from core.settings import Settings
from telephony.twilio import TelephonyProvider, signature
from telephony.voice.sessions import RelaySessions

# Twilio's magic test "from" number: what simulated calls come from.
SIMULATED_FROM: Final = "+15005550006"


@dataclass
class Telephony:
    provider: TelephonyProvider
    auth_token: str = field(repr=False)
    from_e164: str
    public_base_url: str
    max_call_seconds: int
    ring_timeout_s: int
    reconcile_after_s: int
    sessions: RelaySessions = field(default_factory=RelaySessions)
    # The shared number's calls per second (telephony/dispatch.py paces every dial).
    calls_per_second: float = 1.0
    dial_lanes: int = 4

    @property
    def live(self) -> bool:
        return self.provider.live

    def _url(self, path: str, call_id: uuid.UUID, **extra: str) -> str:
        query = urlencode({"call": str(call_id), **extra})
        return f"{self.public_base_url.rstrip('/')}{path}?{query}"

    def status_url(self, call_id: uuid.UUID) -> str:
        return self._url("/webhooks/twilio/status", call_id)

    def amd_url(self, call_id: uuid.UUID) -> str:
        return self._url("/webhooks/twilio/amd", call_id)

    def recording_url(self, call_id: uuid.UUID) -> str:
        return self._url("/webhooks/twilio/recording", call_id)

    def connect_action_url(self, call_id: uuid.UUID) -> str:
        return self._url("/webhooks/twilio/relay-ended", call_id)

    def relay_token(self, call_id: uuid.UUID) -> str:
        """A per-call capability for the websocket: HMAC of the call id."""
        mac = hmac.new(self.auth_token.encode(), f"relay:{call_id}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def relay_token_ok(self, call_id: uuid.UUID, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.relay_token(call_id), token or "")

    def relay_url(self, call_id: uuid.UUID) -> str:
        query = urlencode({"call": str(call_id), "token": self.relay_token(call_id)})
        return f"{signature.websocket_base(self.public_base_url)}/voice/relay?{query}"

    def signed_url(self, path: str, query: str = "") -> str:
        """The URL Twilio signed for a webhook request to `path` with `query`."""
        return signature.public_url(self.public_base_url, path, query)

    def signed_ws_url(self, path: str, query: str = "") -> str:
        """The URL Twilio signed for a websocket handshake to `path` with `query`."""
        return signature.public_url(signature.websocket_base(self.public_base_url), path, query)

    def signature_ok(self, url: str, params: signature.Params | None, header: str | None) -> bool:
        """Whether `header` is Twilio's X-Twilio-Signature for `url` and `params`."""
        return signature.verify(url, params, header, self.auth_token)

    async def finish_calls(self, timeout_s: float) -> None:
        """Wait for calls this process is simulating to end (a live carrier needs
        nothing from us)."""
        finish = getattr(self.provider, "finish", None)
        if finish is not None:
            await finish(timeout_s)

    async def aclose(self) -> None:
        await self.provider.aclose()


def build_telephony(settings: Settings) -> Telephony:
    provider: TelephonyProvider
    if settings.twilio_live:
        from telephony.twilio.live import DEFAULT_BASE_URL, TwilioCalls

        assert settings.twilio_auth_token is not None
        assert settings.twilio_account_sid is not None
        token = settings.twilio_auth_token.get_secret_value()
        provider = TwilioCalls(
            account_sid=settings.twilio_account_sid,
            auth_token=token,
            base_url=settings.twilio_api_base or DEFAULT_BASE_URL,
        )
        from_e164 = settings.twilio_from_number or ""
    else:
        from telephony.simulator.carrier import SimulatedCarrier, parse_odds

        # Made once and kept in the data directory: every process on the same data
        # (`serve`, `worker`, `ask`) signs and checks the simulated callbacks alike.
        token = persistent_secret(
            settings.data_dir, "sim_twilio_auth_token", settings.twilio_auth_token
        )
        provider = SimulatedCarrier(
            auth_token=token,
            odds=parse_odds(settings.sim_carrier_odds),
            pace_s=settings.sim_carrier_pace_s,
            duplicates=settings.sim_carrier_duplicates,
            shuffle=settings.sim_carrier_shuffle,
        )
        from_e164 = SIMULATED_FROM
    return Telephony(
        provider=provider,
        auth_token=token,
        from_e164=from_e164,
        public_base_url=settings.public_base_url,
        max_call_seconds=settings.max_call_seconds,
        ring_timeout_s=settings.ring_timeout_s,
        reconcile_after_s=settings.call_reconcile_after_s,
        calls_per_second=settings.twilio_calls_per_second,
        dial_lanes=settings.dial_lanes,
    )
