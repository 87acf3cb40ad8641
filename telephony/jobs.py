"""Telephony's periodic jobs: settle calls whose final callback never came."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import procrastinate

from core.db import Database
from telephony import callbacks
from telephony.provider import Telephony

log = logging.getLogger(__name__)


async def reconcile_calls(
    db: Database, telephony: Telephony, now: datetime | None = None
) -> list[callbacks.Applied]:
    done = await callbacks.reconcile(
        db,
        telephony.provider,
        ring_timeout_s=telephony.ring_timeout_s,
        grace_s=telephony.reconcile_after_s,
        now=now,
    )
    if done:
        log.info("reconciled %d calls from the provider's records", len(done))
    return done


def register(db: Database, telephony: Telephony) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.periodic(cron="* * * * *", periodic_id="reconcile_calls")
    @blueprint.task(name="reconcile_calls", queue="telephony", pass_context=False)
    async def reconcile_calls_task(timestamp: int) -> None:
        await reconcile_calls(db, telephony, datetime.fromtimestamp(timestamp, UTC))

    return blueprint
