"""Billing's periodic jobs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import procrastinate

from billing import ledger, webhooks
from core.db import Database

log = logging.getLogger(__name__)


async def expire_stale_holds(db: Database, now: datetime | None = None) -> list[int]:
    async with db.session() as session:
        expired = await ledger.expire_holds(session, now=now or datetime.now(UTC))
        await session.commit()
    if expired:
        log.info("released %d expired credit holds", len(expired))
    return expired


def register(db: Database) -> procrastinate.Blueprint:
    """Billing's tasks bound to a database, as a blueprint to add to the job app."""
    blueprint = procrastinate.Blueprint()

    @blueprint.periodic(cron="* * * * *", periodic_id="expire_holds")
    @blueprint.task(name="expire_holds", queue="billing", pass_context=False)
    async def expire_holds_task(timestamp: int) -> None:
        await expire_stale_holds(db, datetime.fromtimestamp(timestamp, UTC))

    @blueprint.periodic(cron="* * * * *", periodic_id="paddle_pending_events")
    @blueprint.task(name="paddle_pending_events", queue="billing", pass_context=False)
    async def paddle_pending_events_task(timestamp: int) -> None:
        applied = await webhooks.process_pending_events(db)
        if applied:
            log.info("applied %d paddle events left pending", applied)

    return blueprint
