"""Typed dependencies for handlers in every domain's `views.py`.

The application keeps its services on `app.state.runtime` (chat_app/runtime.py builds
it; this module only needs its `settings` and `db`). A test that serves the routers
on a bare FastAPI either sets `app.state.runtime` or overrides `get_settings` /
`get_database` through `app.dependency_overrides`.

- `SettingsDep`, `DatabaseDep`: the process's settings and database.
- `DbSession`: one `AsyncSession` per request, closed as soon as the handler returns
  (before the response is sent, so a background task never holds a connection).
  Services commit; nothing here does.
- `ClientIp`, `UserAgent`: what the audit log and rate limits record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from core.db import Database
from core.settings import Settings


def runtime_of(request: HTTPConnection) -> Any:
    """The application's runtime (`app.state.runtime`); a clear error when the app
    was built without one and without dependency overrides. An HTTP request or a
    websocket."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise RuntimeError(
            "app.state.runtime is not set: build the app with chat_app.server.create_app "
            "or override this dependency (app.dependency_overrides)"
        )
    return runtime


# `async def` though they do not await: FastAPI runs a plain `def` dependency in a
# worker thread, a thread-pool round trip on every request that names it.
async def get_settings(request: HTTPConnection) -> Settings:
    settings: Settings = runtime_of(request).settings
    return settings


async def get_database(request: HTTPConnection) -> Database:
    db: Database = runtime_of(request).db
    return db


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_session(db: DatabaseDep) -> AsyncIterator[AsyncSession]:
    async with db.session() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def get_user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")


ClientIp = Annotated[str | None, Depends(get_client_ip)]
UserAgent = Annotated[str | None, Depends(get_user_agent)]


def app_cached(request: Request, key: str, make: Any) -> Any:
    """One `make()` per application, kept on `app.state` (e.g. an OAuth registry built
    from the settings): made on first use, shared by every request after."""
    cache: dict[str, Any] | None = getattr(request.app.state, "web_cache", None)
    if cache is None:
        cache = request.app.state.web_cache = {}
    if key not in cache:
        cache[key] = make()
    return cache[key]
