"""The app's own routes: `/` (to the chat), `/healthz`, and the chat's files.

- `GET /` — a redirect to the chat (`/chat`).
- `GET /healthz` — the database (503 while it cannot be reached), this process's job
  worker (`running`, `last_job_at`; not running here when `RUN_WORKER_IN_SERVE` is
  off), the event listener and the providers.
- `GET /chat-files/<key>` (chat_app/history.py `FILES_PATH`) — a chart or CSV from a
  chat, to its author only (anyone else: 404; nobody signed in: 401).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text
from starlette.requests import HTTPConnection

from accounts.deps import CurrentActor
from chat_app.history import FILES_PATH
from chat_app.jobs import JobWorker
from chat_app.runtime import Runtime
from core import __version__
from core.db import Database
from core.web.deps import DatabaseDep, runtime_of

CHAT_PATH: Final = "/chat"
HEALTH_DB_TIMEOUT_S: Final = 3.0  # /healthz reports the database down rather than hang on it

router = APIRouter()


def get_runtime(conn: HTTPConnection) -> Runtime:
    runtime: Runtime = runtime_of(conn)
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse(CHAT_PATH)


@router.get(FILES_PATH + "/{object_key:path}", include_in_schema=False)
async def chat_file(object_key: str, actor: CurrentActor, runtime: RuntimeDep) -> Response:
    """A chart or CSV from a chat, to its author only."""
    found = await runtime.chat_files.read(object_key, actor.email)
    if found is None:
        return JSONResponse({"detail": "Not found."}, status_code=404)
    data, mime = found
    return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=3600"})


async def database_health(db: Database) -> dict[str, object]:
    """`ok`, `embedded` and `latency_ms`, or the error's name: reported, not raised."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(HEALTH_DB_TIMEOUT_S), db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # reported, not raised: this is the health check
        return {"ok": False, "embedded": db.embedded, "error": type(exc).__name__}
    return {
        "ok": True,
        "embedded": db.embedded,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


def worker_health(job_worker: JobWorker | None) -> dict[str, object]:
    if job_worker is None:
        return {"running": False, "last_job_at": None, "in_process": False}
    return job_worker.status()


@router.get("/healthz")
async def healthz(request: Request, db: DatabaseDep, runtime: RuntimeDep) -> JSONResponse:
    """The database, the job worker of this process, the events listener, the
    providers; 503 while the database cannot be reached."""
    database = await database_health(db)
    job_worker: JobWorker | None = getattr(request.app.state, "job_worker", None)
    events = getattr(request.app.state, "events", None)
    healthy = database["ok"] and (job_worker is None or job_worker.running)
    body = {
        "status": "ok" if healthy else "degraded",
        "version": __version__,
        "database": database,
        "worker": worker_health(job_worker),
        "events": events.status() if events else None,
        "providers": runtime.providers(),
    }
    return JSONResponse(body, status_code=200 if database["ok"] else 503)
