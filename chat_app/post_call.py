"""What happens after a call ends: its insights are written and its transcript indexed.

The status webhook calls `after_call` once a call is settled: the jobs are queued a few
seconds out, so the relay's last transcript segments are stored first. A periodic
sweep queues the same jobs for any settled call that still lacks them (a lost enqueue,
a call settled by reconciliation, a worker that was down).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

import procrastinate
from sqlalchemy import exists, select

from core.db import Database
from insights.models import CallInsight
from telephony.models import Call

log = logging.getLogger(__name__)

DELAY_S: Final = 3  # let the relay store its last transcript segments
SWEEP_WINDOW: Final = timedelta(days=2)
SWEEP_MIN_AGE: Final = timedelta(minutes=2)
SWEEP_LIMIT: Final = 200

INSIGHTS_TASK: Final = "insights:generate_call_insights"


async def after_call(app: procrastinate.App, call_id: uuid.UUID) -> None:
    """Queue the post-call jobs for a call that has just ended."""
    await app.configure_task(
        INSIGHTS_TASK, schedule_in={"seconds": DELAY_S}, queueing_lock=f"insights:{call_id}"
    ).defer_async(call_id=str(call_id))


async def calls_missing_insights(db: Database, now: datetime) -> list[uuid.UUID]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Call.id)
            .where(
                Call.settled_at.is_not(None),
                Call.settled_at > now - SWEEP_WINDOW,
                Call.settled_at < now - SWEEP_MIN_AGE,
                ~exists().where(CallInsight.call_id == Call.id),
            )
            .order_by(Call.settled_at)
            .limit(SWEEP_LIMIT)
        )
        return list(rows.all())


def register(db: Database) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.periodic(cron="*/5 * * * *", periodic_id="post_call_sweep")
    @blueprint.task(name="post_call_sweep", queue="insights", pass_context=True)
    async def post_call_sweep(context: procrastinate.JobContext, timestamp: int) -> None:
        app = context.app
        assert app is not None
        missing = await calls_missing_insights(db, datetime.fromtimestamp(timestamp, UTC))
        for call_id in missing:
            try:
                await after_call(app, call_id)
            except procrastinate.exceptions.AlreadyEnqueued:
                continue
        if missing:
            log.info("queued post-call work for %d calls that lacked it", len(missing))

    return blueprint
