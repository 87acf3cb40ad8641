"""What happens after a call ends: its insights are written and its transcript indexed
for search.

The status webhook calls `after_call` once a call is settled: the jobs are queued a few
seconds out, so the relay's last transcript segments are stored first. A periodic
sweep queues the same jobs for any settled call that still lacks them (a lost enqueue,
a call settled by reconciliation, a worker that was down).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

import procrastinate
from sqlalchemy import and_, exists, or_, select

from core.db import Database
from insights.models import CallInsight
from retrieval.models import TranscriptChunk
from telephony.models import Call, TranscriptSegment

log = logging.getLogger(__name__)

DELAY_S: Final = 3  # let the relay store its last transcript segments
SWEEP_WINDOW: Final = timedelta(days=2)
SWEEP_MIN_AGE: Final = timedelta(minutes=2)
SWEEP_LIMIT: Final = 200

INSIGHTS_TASK: Final = "insights:generate_call_insights"
INDEX_TASK: Final = "retrieval:index_call"


async def after_call(app: procrastinate.App, call_id: uuid.UUID) -> None:
    """Queue the post-call jobs for a call that has just ended (each at most once in
    the queue at a time)."""
    for task in (INSIGHTS_TASK, INDEX_TASK):
        with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):
            await app.configure_task(
                task, schedule_in={"seconds": DELAY_S}, queueing_lock=f"{task}:{call_id}"
            ).defer_async(call_id=str(call_id))


async def calls_missing_post_call_work(db: Database, now: datetime) -> list[uuid.UUID]:
    """Settled calls (in the sweep window) without insights, or with a transcript that
    is not indexed."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Call.id)
            .where(
                Call.settled_at.is_not(None),
                Call.settled_at > now - SWEEP_WINDOW,
                Call.settled_at < now - SWEEP_MIN_AGE,
                or_(
                    ~exists().where(CallInsight.call_id == Call.id),
                    and_(
                        exists().where(TranscriptSegment.call_id == Call.id),
                        ~exists().where(TranscriptChunk.call_id == Call.id),
                    ),
                ),
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
        missing = await calls_missing_post_call_work(db, datetime.fromtimestamp(timestamp, UTC))
        for call_id in missing:
            await after_call(app, call_id)
        if missing:
            log.info("queued post-call work for %d calls that lacked it", len(missing))

    return blueprint
