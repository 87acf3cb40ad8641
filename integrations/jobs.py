"""The worker's webhook job: send what is due, every minute."""

from __future__ import annotations

import logging

import procrastinate

from core.db import Database
from core.settings import Settings
from integrations.delivery import deliver_due

log = logging.getLogger(__name__)


def register(db: Database, settings: Settings) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.periodic(cron="* * * * *", periodic_id="deliver_webhooks")
    @blueprint.task(name="deliver_webhooks", queue="integrations", pass_context=False)
    async def deliver_webhooks(timestamp: int) -> None:
        done = await deliver_due(
            db,
            timeout_s=settings.webhook_timeout_s,
            allow_loopback=settings.webhook_test_allow_loopback,
        )
        if done:
            log.info("webhooks: %d deliveries tried", len(done))

    return blueprint
