"""What a serving process starts before its first request and stops after its last.

`lifespan_for(runtime)` is the FastAPI lifespan `create_app` passes on. Start-up, in
order: the runtime is published (chat_app/runtime.py), the database pool opened, the
LISTEN/NOTIFY listener started (core/events.py: AMD results for this process's relay
sockets, call progress and notices for its chats), the job queue opened with the
post-call queue on it, and — when `RUN_WORKER_IN_SERVE` is on — the job worker
started. The listener and the worker run supervised: a database restart ends neither
for good (core/supervisor.py). Shut-down undoes it in reverse and closes the providers
and the database; an embedded PostgreSQL the app owns is stopped here, since uvicorn's
SIGTERM path skips atexit.

While serving, `app.state.events` and `app.state.job_worker` are what /healthz
reports (None when absent).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack

import procrastinate
from fastapi import FastAPI

from billing.paddle import tax_table
from chat_app.jobs import JobWorker, build_dispatcher, build_job_app
from chat_app.post_call import PostCallQueue
from chat_app.runtime import Runtime, set_runtime
from core.events import EventListener

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def lifespan_for(runtime: Runtime, *, owns_db: bool = True) -> Lifespan:
    """The app's lifespan around `runtime`; `owns_db`: stop the database at the end."""

    def lifespan(app: FastAPI) -> AbstractAsyncContextManager[None]:
        return serving(app, runtime, owns_db=owns_db)

    return lifespan


@contextlib.asynccontextmanager
async def serving(app: FastAPI, runtime: Runtime, *, owns_db: bool) -> AsyncIterator[None]:
    """Start everything, serve, stop everything."""
    start_runtime(runtime)
    job_app = build_job_app(runtime.db, runtime.telephony, runtime.settings, runtime.embedder)
    async with AsyncExitStack() as stack:
        await listen_for_events(stack, app, runtime)
        await open_job_queue(stack, runtime, job_app)
        await start_worker(stack, app, runtime, job_app)
        tax_table.load()
        freeze_start_up_heap()
        try:
            yield
        finally:
            detach(app, runtime)
    await stop_runtime(runtime, owns_db=owns_db)


def start_runtime(runtime: Runtime) -> None:
    """Publish the runtime (the Chainlit app finds it) and open the database pool."""
    set_runtime(runtime)
    runtime.db.engine(pool_size=runtime.settings.db_pool_size)


async def listen_for_events(stack: AsyncExitStack, app: FastAPI, runtime: Runtime) -> None:
    """This process's LISTEN/NOTIFY listener, with the relay sessions attached to it."""
    runtime.events = await stack.enter_async_context(EventListener(runtime.db.libpq_url))
    runtime.telephony.sessions.attach(runtime.events, runtime.db)
    app.state.events = runtime.events


async def open_job_queue(
    stack: AsyncExitStack, runtime: Runtime, job_app: procrastinate.App
) -> None:
    """The job queue, and the queue settled calls' post-call work goes through."""
    await stack.enter_async_context(job_app.open_async())
    runtime.post_calls = await stack.enter_async_context(PostCallQueue(job_app))


async def start_worker(
    stack: AsyncExitStack, app: FastAPI, runtime: Runtime, job_app: procrastinate.App
) -> None:
    """The supervised job worker, when this process runs one (`RUN_WORKER_IN_SERVE`)."""
    if runtime.settings.run_worker_in_serve:
        app.state.job_worker = await stack.enter_async_context(JobWorker(job_app))
        # The shared number's dial dispatcher runs beside it (telephony/dispatch.py).
        await stack.enter_async_context(build_dispatcher(runtime.db, runtime.telephony))


def freeze_start_up_heap() -> None:
    """What start-up made (modules, Chainlit, LangChain, models) lives as long as the
    process: freeze it out of the collector, so a full collection under load walks
    only what requests allocate, not the whole heap each time."""
    gc.collect()
    gc.freeze()


def detach(app: FastAPI, runtime: Runtime) -> None:
    """Forget the services that are about to stop (nothing queues onto them after)."""
    runtime.post_calls = None
    runtime.events = app.state.events = None
    app.state.job_worker = None


async def stop_runtime(runtime: Runtime, *, owns_db: bool) -> None:
    """Close the providers and the database pool; stop the database if it is ours."""
    await runtime.telephony.aclose()
    await runtime.payments.provider.aclose()
    await runtime.otp.aclose()
    await runtime.db.dispose()
    set_runtime(None)
    if owns_db:
        runtime.db.close()
