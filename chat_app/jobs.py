"""Wires every domain's job blueprint into one procrastinate app, and runs its worker
under supervision.

procrastinate's worker stops for good when one of its side tasks fails — and a
PostgreSQL restart fails its notification listener ("Side task listener failed …
stopping worker"), its heartbeat and its periodic deferrer. `JobWorker` runs it under a
`core.supervisor.Supervisor`: whenever it stops or raises, it is started again with
backoff, so jobs, periodic sweeps and retries resume by themselves once the database is
back. Jobs a dead worker left in `doing` are put back in the queue by a periodic task
(`retry_stalled_jobs`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

import procrastinate
from procrastinate.middleware import AsyncCallNext

from billing import jobs as billing_jobs
from chat_app import post_call
from core.db import Database
from core.jobs import make_job_app
from core.settings import Settings
from core.supervisor import Backoff, Supervisor
from insights import jobs as insights_jobs
from integrations import jobs as integrations_jobs
from retrieval import jobs as retrieval_jobs
from retrieval.embeddings import Embedder
from telephony import jobs as telephony_jobs
from telephony.dispatch import Dispatcher
from telephony.provider import Telephony
from telephony.views import openai_config

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S: Final = 10  # in-flight jobs get this long to finish when stopping
# procrastinate prunes workers silent for 30 s; their jobs count as stalled after that.
STALLED_AFTER_S: Final = 30.0
WORKER_BACKOFF: Final = Backoff(initial_s=0.5, max_s=10.0, reset_after_s=30.0)


class WorkerStopped(RuntimeError):
    """The worker ended without being asked to (one of its side tasks failed)."""


def _maintenance() -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.periodic(cron="* * * * *", periodic_id="retry_stalled_jobs")
    @blueprint.task(name="retry_stalled_jobs", queue="jobs", pass_context=True)
    async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
        """Queue again the jobs a worker left `doing` when it died (no heartbeat for
        `STALLED_AFTER_S`): a database restart kills the worker mid-job."""
        app = context.app
        assert app is not None
        stalled = list(
            await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_S)
        )
        for job in stalled:
            await app.job_manager.retry_job(job)
        if stalled:
            log.warning("queued again %d jobs left running by a worker that died", len(stalled))

    return blueprint


def build_job_app(
    db: Database, telephony: Telephony, settings: Settings, embedder: Embedder
) -> procrastinate.App:
    return make_job_app(
        db.libpq_url,
        [
            ("billing", billing_jobs.register(db)),
            ("telephony", telephony_jobs.register(db, telephony)),
            ("insights", insights_jobs.register(db, openai_config(settings))),
            ("retrieval", retrieval_jobs.register(db, embedder)),
            ("post_call", post_call.register(db)),
            ("integrations", integrations_jobs.register(db, settings)),
            ("jobs", _maintenance()),
        ],
    )


class JobWorker:
    """This process's job worker, supervised: restarted with backoff whenever it stops.

    Use as an async context manager around the time the worker should run (the job app
    must be open). On exit the worker is cancelled: in-flight jobs get
    `SHUTDOWN_GRACE_S` to finish. `status()` is what /healthz reports.
    """

    def __init__(self, app: procrastinate.App, *, backoff: Backoff = WORKER_BACKOFF) -> None:
        self._app = app
        self.last_job_at: datetime | None = None
        self.supervisor = Supervisor("job worker", self._run_once, backoff=backoff)

    @property
    def running(self) -> bool:
        return self.supervisor.running

    def status(self) -> dict[str, object]:
        """`running`, `last_job_at` (ISO 8601, UTC, or None) and `restarts`."""
        return {
            "running": self.running,
            "last_job_at": self.last_job_at.isoformat() if self.last_job_at else None,
            "restarts": self.supervisor.restarts,
        }

    async def __aenter__(self) -> JobWorker:
        self.supervisor.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.supervisor.stop()

    async def _note_job(
        self, call_next: AsyncCallNext, context: procrastinate.JobContext, worker: Any
    ) -> Any:
        """Worker middleware: remember when a job last ran to its end (any outcome)."""
        try:
            return await call_next()
        finally:
            self.last_job_at = datetime.now(UTC)

    async def _run_once(self) -> None:
        # Signals are the caller's business: procrastinate's own handlers would stop the
        # worker "normally", and a worker that stops is restarted.
        await self._app.run_worker_async(
            install_signal_handlers=False,
            shutdown_graceful_timeout=SHUTDOWN_GRACE_S,
            listen_notify=True,
            stalled_worker_timeout=STALLED_AFTER_S,
            worker_middleware=[self._note_job],
        )
        raise WorkerStopped("the job worker stopped (see the log above for why)")


def build_dispatcher(db: Database, telephony: Telephony) -> Dispatcher:
    """The shared number's dial dispatcher (telephony/dispatch.py) with the campaigns'
    rules and feeder: run beside the job worker, supervised (`async with`)."""
    from campaigns import service as campaigns

    return Dispatcher(db, telephony, guard=campaigns.guard, feeders=[campaigns.feed])
