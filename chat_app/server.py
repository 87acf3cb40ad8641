"""The one ASGI application: FastAPI with Chainlit mounted at /chat."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.middleware.sessions import SessionMiddleware

from accounts import oauth_views, ratelimit
from accounts import views as account_views
from accounts.deps import CurrentActor
from accounts.suspension import register_suspend_hook
from billing import views as billing_views
from chat_app import security
from chat_app.guard import ChatGuard
from chat_app.history import FILES_PATH
from chat_app.jobs import JobWorker, build_job_app
from chat_app.post_call import PostCallQueue
from chat_app.runtime import Runtime, set_runtime
from core import __version__
from core.db import Database, database_unreachable
from core.events import EventListener
from core.secrets import persistent_secret
from core.settings import Settings
from telephony import recording_views
from telephony.calls import suspension_hook
from telephony.views import build_router as telephony_router

log = logging.getLogger(__name__)

CHAT_PATH = "/chat"
HEALTH_DB_TIMEOUT_S = 3.0  # /healthz reports the database down rather than hang on it


RETRY_AFTER_S = 5  # what a client is told to wait while the database is unreachable


async def database_outage(request: Request, exc: Exception) -> Response:
    """A request that could not reach the database is answered 503 with Retry-After —
    never 2xx, so a webhook sender retries what was not stored — and logged as one
    line, not a traceback per request. Any other database error is not ours to hide."""
    if not database_unreachable(exc):
        raise exc
    log.warning("database unreachable: %s %s answered 503", request.method, request.url.path)
    return JSONResponse(
        {"detail": "The service is briefly unavailable; try again shortly."},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def create_app(settings: Settings, db: Database, *, owns_db: bool = True) -> FastAPI:
    """Build the app around an opened database. Call once per process (Chainlit's
    own app is a module-level singleton)."""
    runtime = Runtime(settings=settings, db=db)
    runtime.build_providers()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        set_runtime(runtime)
        db.engine(pool_size=settings.db_pool_size)
        job_app = build_job_app(db, runtime.telephony, settings, runtime.embedder)
        # Both run supervised: a database restart ends neither for good (core.supervisor).
        worker = JobWorker(job_app) if settings.run_worker_in_serve else None
        async with contextlib.AsyncExitStack() as stack:
            # Events from the other processes (core/events.py): AMD results for this
            # process's relay sockets, call progress and notices for its chats.
            runtime.events = await stack.enter_async_context(EventListener(db.libpq_url))
            runtime.telephony.sessions.attach(runtime.events, db)
            app.state.events = runtime.events
            await stack.enter_async_context(job_app.open_async())
            runtime.post_calls = await stack.enter_async_context(PostCallQueue(job_app))
            if worker is not None:
                app.state.job_worker = await stack.enter_async_context(worker)
            # What start-up made (modules, Chainlit, LangChain, models) lives as long as
            # the process: freeze it out of the collector, so a full collection under
            # load walks only what requests allocate, not the whole heap each time.
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                runtime.post_calls = None
                runtime.events = app.state.events = None
                app.state.job_worker = None
        await runtime.telephony.aclose()
        await runtime.payments.provider.aclose()
        await runtime.otp.aclose()
        await db.dispose()
        set_runtime(None)
        if owns_db:
            # uvicorn's SIGTERM path skips atexit: stop the embedded server here.
            db.close()

    ratelimit.configure(ip_multiplier=settings.rate_limit_ip_multiplier)
    docs = settings.api_docs  # /docs, /redoc and /openapi.json only when enabled
    app = FastAPI(
        title="Klosesales", version=__version__, lifespan=lifespan,
        docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )  # fmt: skip
    app.state.runtime = runtime
    for outage in (psycopg.OperationalError, sa_exc.OperationalError, sa_exc.DBAPIError):
        app.add_exception_handler(outage, database_outage)

    # The routers' dependencies find the runtime on app.state (core/web/deps.py).
    app.include_router(billing_views.router)

    async def call_ended(call_id: uuid.UUID) -> None:
        """Hand the call's post-call work to the queue: Twilio's callback does not wait
        for the job queue (under load, its connections were the callback's slowest
        part); what a crash loses in between, the post-call sweep queues again."""
        if runtime.post_calls is not None:
            runtime.post_calls.add(call_id)

    app.include_router(telephony_router(db, runtime.telephony, settings, on_call_ended=call_ended))
    app.include_router(recording_views.router)  # recordings and call pages (+ simulated store)
    register_suspend_hook(suspension_hook(runtime.telephony))
    secure_cookies = settings.public_base_url.startswith("https://")
    app.include_router(account_views.router)
    app.include_router(oauth_views.router)
    # Authlib keeps the OAuth state, nonce and PKCE verifier here for the round trip.
    app.add_middleware(
        SessionMiddleware,
        secret_key=runtime.signer.secret,
        session_cookie="ks_oauth",
        max_age=600,
        same_site="lax",
        https_only=secure_cookies,
    )
    app.add_middleware(ChatGuard, db=db, signer=runtime.signer, prefix=CHAT_PATH)

    @app.get(FILES_PATH + "/{object_key:path}", include_in_schema=False)
    async def chat_file(object_key: str, actor: CurrentActor) -> Response:
        """A chart or CSV from a chat, to its author only (anyone else: 404; nobody
        signed in: 401)."""
        found = await runtime.chat_files.read(object_key, actor.email)
        if found is None:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        data, mime = found
        return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(CHAT_PATH)

    app.state.job_worker = None
    app.state.events = None

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """The database (503 while it cannot be reached), the job worker of this process
        (`running`, `last_job_at`; not running here when RUN_WORKER_IN_SERVE is off),
        the providers."""
        started = time.perf_counter()
        database: dict[str, object]
        try:
            async with asyncio.timeout(HEALTH_DB_TIMEOUT_S), db.session() as session:
                await session.execute(text("SELECT 1"))
            database = {
                "ok": True,
                "embedded": db.embedded,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        except Exception as exc:  # reported, not raised: this is the health check
            database = {"ok": False, "embedded": db.embedded, "error": type(exc).__name__}
        job_worker: JobWorker | None = app.state.job_worker
        worker = (
            job_worker.status()
            if job_worker is not None
            else {"running": False, "last_job_at": None, "in_process": False}
        )
        healthy = database["ok"] and (job_worker is None or job_worker.running)
        body = {
            "status": "ok" if healthy else "degraded",
            "version": __version__,
            "database": database,
            "worker": worker,
            "events": events.status() if (events := app.state.events) else None,
            "providers": runtime.providers(),
        }
        return JSONResponse(body, status_code=200 if database["ok"] else 503)

    os.environ["CHAINLIT_AUTH_SECRET"] = persistent_secret(
        settings.data_dir, "chainlit_auth_secret", settings.chainlit_auth_secret
    )
    from chainlit.utils import mount_chainlit

    mount_chainlit(app=app, target=str(Path(__file__).with_name("app.py")), path=CHAT_PATH)
    chainlit_html, upload_max_mb = security.secure_chainlit(api_docs=settings.api_docs)
    # Added last, so they run first: the same-origin check and the security headers.
    security.install(
        app.add_middleware, public_base_url=settings.public_base_url, chat_path=CHAT_PATH,
        chainlit_html=chainlit_html, upload_max_mb=upload_max_mb,
    )  # fmt: skip
    return app
