"""The payments provider a process uses, chosen by settings (DESIGN.md §4)."""

from __future__ import annotations

from dataclasses import dataclass

from billing.paddle import PaymentsProvider
from billing.paddle.simulated import SimulatedPaddle
from core.db import Database
from core.secrets import persistent_secret
from core.settings import Settings


@dataclass
class Payments:
    provider: PaymentsProvider
    # Verifies incoming webhooks; in simulated mode the local checkout signs with it.
    webhook_secret: str
    signature_tolerance_s: int
    paddle_environment: str
    client_token: str | None

    @property
    def live(self) -> bool:
        return self.provider.live


def build_payments(settings: Settings, db: Database) -> Payments:
    provider: PaymentsProvider
    if settings.paddle_live:
        from billing.paddle.live import LivePaddle

        assert settings.paddle_api_key is not None  # paddle_live says so
        provider = LivePaddle(
            api_key=settings.paddle_api_key.get_secret_value(),
            base_url=settings.paddle_api_url,
        )
    else:
        provider = SimulatedPaddle(db)
    # Simulated: made once and kept in the data directory, so every process on the same
    # data signs and checks the simulated checkout's events alike.
    secret = persistent_secret(
        settings.data_dir, "sim_paddle_webhook_secret", settings.paddle_webhook_secret
    )
    return Payments(
        provider=provider,
        webhook_secret=secret,
        signature_tolerance_s=settings.paddle_signature_tolerance_s,
        paddle_environment=settings.paddle_environment,
        client_token=settings.paddle_client_token,
    )
