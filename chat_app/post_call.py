"""What happens after a call ends: its insights are written and its transcript indexed
for search.

The status webhook hands a call that has just been settled to the `PostCallQueue`,
which queues its jobs (with every other call handed over meanwhile, in one statement) a
few seconds out, so the relay's last transcript segments are stored first. A periodic
sweep queues the same jobs for any settled call that still lacks them (a lost enqueue,
a call settled by reconciliation, a worker that was down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

import procrastinate
from sqlalchemy import and_, exists, or_, select

from core.db import Database, database_unreachable
from core.supervisor import Backoff, Supervisor
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
TASKS: Final = (INSIGHTS_TASK, INDEX_TASK)
MAX_BATCH: Final = 500  # calls a statement
QUEUE_BACKOFF: Final = Backoff(initial_s=0.5, max_s=10.0)
CLOSE_WAIT_S: Final = 15.0  # how long leaving the queue waits for its last batch


def _job(app: procrastinate.App, task: str, call_id: uuid.UUID) -> procrastinate.jobs.Job:
    """A call's job for `task`, at most once in the queue at a time (its queueing lock)."""
    return app.configure_task(
        task, schedule_in={"seconds": DELAY_S}, queueing_lock=f"{task}:{call_id}"
    ).make_new_job(call_id=str(call_id))


async def after_call(app: procrastinate.App, call_id: uuid.UUID) -> None:
    """Queue the post-call jobs for a call that has ended, each unless already queued."""
    for task in TASKS:
        with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):
            await app.job_manager.defer_job_async(_job(app, task, call_id))


class PostCallQueue:
    """Queues settled calls' post-call jobs in batches, off the status webhook's path.

    `add(call_id)` returns at once. One task queues the jobs of every call added since
    its last round in one statement (procrastinate's batch defer): under load a round
    covers dozens of calls, where each settling callback used to wait for two job-queue
    round trips of its own. A batch that meets a job already queued (the sweep got there
    first) is queued again call by call, skipping that job.

    The task is supervised (`core.supervisor`): a batch that cannot reach the database
    is kept and tried again after a backoff, and the task is restarted should anything
    else end it. A batch refused for another reason is logged and left to the sweep, as
    is what a crash loses between `add` and the statement. Leaving the context queues
    what is still pending (one try: what fails then is left to the sweep).
    """

    def __init__(self, app: procrastinate.App, *, backoff: Backoff = QUEUE_BACKOFF) -> None:
        self._app = app
        self._pending: list[uuid.UUID] = []
        self._ready = asyncio.Event()
        self._closing = False
        self.supervisor = Supervisor("post-call queue", self._run, backoff=backoff)

    async def __aenter__(self) -> PostCallQueue:
        self.supervisor.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._ready.set()
        await self.supervisor.join(grace_s=CLOSE_WAIT_S)

    @property
    def pending(self) -> int:
        """Calls handed over and not queued yet."""
        return len(self._pending)

    def add(self, call_id: uuid.UUID) -> None:
        self._pending.append(call_id)
        self._ready.set()

    async def _run(self) -> None:
        while True:
            if not self._pending:
                await self._ready.wait()
            self._ready.clear()
            while self._pending:
                batch = list(dict.fromkeys(self._pending[:MAX_BATCH]))
                del self._pending[:MAX_BATCH]
                await self._queue(batch)
            if self._closing:
                return

    async def _queue(self, calls: list[uuid.UUID]) -> None:
        jobs = [_job(self._app, task, call_id) for call_id in calls for task in TASKS]
        try:
            try:
                await self._app.job_manager.batch_defer_jobs_async(jobs)
            except procrastinate.exceptions.AlreadyEnqueued:
                for call_id in calls:
                    await after_call(self._app, call_id)
            log.debug("queued post-call work for %d calls", len(calls))
        except Exception as exc:
            if database_unreachable(exc) and not self._closing:
                self._pending[:0] = calls  # kept, in order: tried again after a backoff
                raise
            log.exception(
                "post-call work for %d calls could not be queued (the sweep will)", len(calls)
            )


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
