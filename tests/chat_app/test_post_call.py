"""After a call ends, the server's worker writes its insights and indexes its
transcript (queued by the status webhook); the sweep finds calls that still lack them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import procrastinate
import pytest
from sqlalchemy import func, select, text

from accounts.models import Role
from chat_app.jobs import build_job_app
from chat_app.post_call import (
    DELAY_S,
    SWEEP_MIN_AGE,
    TASKS,
    PostCallQueue,
    after_call,
    calls_missing_post_call_work,
)
from core.db import Database
from core.settings import Settings
from insights.models import CallInsight
from retrieval.embeddings import build_embedder
from retrieval.models import TranscriptChunk
from telephony import calls
from telephony.provider import SIMULATED_FROM, Telephony, build_telephony
from telephony.simulator.carrier import Plan, SimulatedCarrier
from tests.accounts.helpers import make_member
from tests.conftest import TWILIO_TEST_TOKEN, serve_app
from tests.telephony.helpers import NOON_NY, add_contact, fund


@pytest.fixture(scope="module")
def worker_server(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `klosesales serve` with its job worker (test servers run none otherwise)."""
    with serve_app(database, tmp_path_factory.mktemp("post-call-serve"), worker=True) as base:
        yield base


async def test_a_finished_call_gets_its_insights_from_the_worker(db, worker_server):
    carrier = SimulatedCarrier(auth_token=TWILIO_TEST_TOKEN, pace_s=0)
    phone = Telephony(
        provider=carrier,
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=worker_server,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    carrier.plan_next(contact.phone_e164, Plan(persona="price_objection"))
    try:
        call = await calls.place_call(
            db, rep.actor, contact.id, phone, purpose="the spring offer", now=NOON_NY
        )
        await carrier.wait(call.twilio_sid or "")
    finally:
        await phone.aclose()
    insight = None
    for _ in range(600):  # queued 3 s out, then the worker's turn (a loaded CI box is slow)
        async with db.session() as session:
            insight = await session.get(CallInsight, call.id, populate_existing=True)
        if insight is not None:
            break
        await asyncio.sleep(0.1)
    assert insight is not None, "no insights 60 s after the call ended"
    assert insight.outcome == "callback_booked"
    assert "price" in insight.objections
    assert contact.name.split()[0] in insight.summary
    chunks = 0
    for _ in range(600):  # the server's worker loads the embedding model on first use
        async with db.session() as session:
            chunks = (
                await session.scalar(
                    select(func.count())
                    .select_from(TranscriptChunk)
                    .where(TranscriptChunk.call_id == call.id)
                )
                or 0
            )
        if chunks:
            break
        await asyncio.sleep(0.1)
    assert chunks > 0, "the transcript was not indexed 60 s after the call ended"
    # Once both are done, the sweep no longer lists the call.
    later = datetime.now(UTC) + SWEEP_MIN_AGE + timedelta(seconds=1)
    assert call.id not in await calls_missing_post_call_work(db, later)


# --- the queue the status webhook hands settled calls to -------------------------------

JOBS = text(
    "SELECT task_name, queue_name, queueing_lock, args, scheduled_at FROM procrastinate_jobs"
    " WHERE args->>'call_id' = ANY(CAST(:ids AS text[])) ORDER BY queueing_lock"
)
FORGET = text("DELETE FROM procrastinate_jobs WHERE args->>'call_id' = ANY(CAST(:ids AS text[]))")


@pytest.fixture
async def job_app(db: Database, tmp_path: Path) -> AsyncIterator[procrastinate.App]:
    """The server's job app (every task registered), opened on the test database."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    telephony = build_telephony(settings)
    app = build_job_app(db, telephony, settings, build_embedder(settings))
    async with app.open_async():
        yield app
    await telephony.aclose()


async def _jobs(db: Database, calls: list[uuid.UUID]) -> list[Any]:
    async with db.session() as session:
        return list((await session.execute(JOBS, {"ids": [str(c) for c in calls]})).all())


async def _forget(db: Database, calls: list[uuid.UUID]) -> None:
    """The calls are made up: their jobs go before the live server's worker runs them."""
    async with db.session() as session:
        await session.execute(FORGET, {"ids": [str(c) for c in calls]})
        await session.commit()


async def test_settled_calls_get_both_jobs_each_in_a_batch(db, job_app, monkeypatch):
    calls = [uuid.uuid4() for _ in range(40)]
    statements: list[int] = []
    batch_defer = job_app.job_manager.batch_defer_jobs_async

    async def counted(jobs, connection=None):
        statements.append(len(jobs))
        return await batch_defer(jobs, connection)

    monkeypatch.setattr(job_app.job_manager, "batch_defer_jobs_async", counted)
    before = datetime.now(UTC)
    try:
        async with PostCallQueue(job_app) as queue:
            for call_id in calls:
                queue.add(call_id)
            queue.add(calls[0])  # handed over twice: queued once
        jobs = await _jobs(db, calls)
    finally:
        await _forget(db, calls)
    assert statements == [len(calls) * len(TASKS)]  # handed over together: one statement
    assert len(jobs) == len(calls) * len(TASKS)
    want = {f"{task}:{call_id}" for call_id in calls for task in TASKS}
    assert {lock for _, _, lock, _, _ in jobs} == want
    queues = {task: queue for task, queue, _, _, _ in jobs}
    for task in TASKS:  # each on its task's own queue, as a plain defer would put it
        assert queues[task] == job_app.tasks[task].queue
    for task, _, lock, args, at in jobs:
        assert lock == f"{task}:{args['call_id']}"
        assert at >= before + timedelta(seconds=DELAY_S - 1)  # a few seconds out


async def test_a_job_already_queued_does_not_keep_the_batch_out(db, job_app):
    calls = [uuid.uuid4() for _ in range(5)]
    try:
        await after_call(job_app, calls[2])  # say the sweep got there first
        async with PostCallQueue(job_app) as queue:
            for call_id in calls:
                queue.add(call_id)
        jobs = await _jobs(db, calls)
    finally:
        await _forget(db, calls)
    locks = [lock for _, _, lock, _, _ in jobs]
    assert len(locks) == len(set(locks)) == len(calls) * len(TASKS)


async def test_calls_added_while_a_batch_is_queued_are_queued_next(db, job_app):
    first, later = [uuid.uuid4() for _ in range(3)], [uuid.uuid4() for _ in range(3)]
    try:
        async with PostCallQueue(job_app) as queue:
            for call_id in first:
                queue.add(call_id)
            await asyncio.sleep(0)  # the queue's task starts on the first batch
            for call_id in later:
                queue.add(call_id)
            for _ in range(100):  # queued without waiting for the context to close
                if len(await _jobs(db, first + later)) == 12:
                    break
                await asyncio.sleep(0.02)
            assert len(await _jobs(db, first + later)) == 12
    finally:
        await _forget(db, first + later)


async def test_a_queue_that_cannot_reach_the_database_logs_and_goes_on(
    db, job_app, caplog: pytest.LogCaptureFixture
):
    calls = [uuid.uuid4()]
    async with PostCallQueue(job_app) as queue:
        await job_app.job_manager.connector.close_async()  # the database is gone
        queue.add(calls[0])
    assert "could not be queued (the sweep will)" in caplog.text
    await job_app.job_manager.connector.open_async()
    assert await _jobs(db, calls) == []
