"""The post-call queue through a database outage: a batch that cannot reach the database
is kept and queued once it is back (the queue's task is supervised), not dropped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import procrastinate
import psycopg
import pytest

from chat_app.jobs import build_job_app
from chat_app.post_call import TASKS, PostCallQueue
from core.db import Database
from core.settings import Settings
from core.supervisor import Backoff
from retrieval.embeddings import build_embedder
from telephony.provider import build_telephony
from tests.chat_app.test_post_call import _forget, _jobs


@pytest.fixture
async def job_app(db: Database, tmp_path: Path) -> AsyncIterator[procrastinate.App]:
    """The server's job app (every task registered), opened on the test database."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    telephony = build_telephony(settings)
    app = build_job_app(db, telephony, settings, build_embedder(settings))
    async with app.open_async():
        yield app
    await telephony.aclose()


async def test_a_batch_that_cannot_reach_the_database_is_queued_when_it_is_back(
    db,
    job_app,
    monkeypatch,
):
    calls = [uuid.uuid4() for _ in range(3)]
    attempts: list[int] = []
    batch_defer = job_app.job_manager.batch_defer_jobs_async

    async def down_twice(jobs, connection=None):
        attempts.append(len(jobs))
        if len(attempts) <= 2:  # what procrastinate raises while the server restarts
            raise procrastinate.exceptions.ConnectorException() from psycopg.OperationalError(
                "the database system is shutting down"
            )
        return await batch_defer(jobs, connection)

    monkeypatch.setattr(job_app.job_manager, "batch_defer_jobs_async", down_twice)
    quick = Backoff(initial_s=0.01, max_s=0.02, jitter=0.0)
    try:
        async with PostCallQueue(job_app, backoff=quick) as queue:
            for call_id in calls:
                queue.add(call_id)
            for _ in range(200):  # bounded: the third try goes through
                if len(attempts) >= 3 and queue.pending == 0:
                    break
                await asyncio.sleep(0.02)
            assert queue.supervisor.restarts == 2
            assert queue.supervisor.running
        jobs = await _jobs(db, calls)
    finally:
        await _forget(db, calls)
    assert attempts == [len(calls) * len(TASKS)] * 3  # the same batch each time
    assert len(jobs) == len(calls) * len(TASKS)
