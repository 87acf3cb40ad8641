"""Telephony's periodic jobs: settle calls whose final callback never came; carry out
the callbacks prospects booked when their time comes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import procrastinate

from core.db import Database
from telephony import booked_callbacks, callbacks
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

    @blueprint.periodic(cron="* * * * *", periodic_id="run_booked_callbacks")
    @blueprint.task(name="run_booked_callbacks", queue="telephony", pass_context=False)
    async def run_booked_callbacks_task(timestamp: int) -> None:
        """Callbacks prospects booked, at their time: a call (gate checked again then)
        or a reminder in the rep's chat, as the workspace chose."""
        done = await booked_callbacks.run_due(db, telephony)
        if done:
            log.info("booked callbacks: %d carried out", len(done))

    return blueprint
