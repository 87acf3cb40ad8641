"""A workspace's webhook receivers and the events sent to them.

- `add_endpoint` checks the URL (https, public addresses only: `integrations.urls`)
  and makes its signing secret, shown to the manager once;
- `emit(session, workspace_id, type, data)` records an event and one delivery per
  receiver subscribed to its type, in the caller's transaction (so an event exists
  exactly when what it reports was committed). `dedupe_key` (default: the type and
  `data["id"]`) makes emitting the same fact twice a no-op: one event id, ever;
- `delivery_log` is what a manager sees: each delivery's status, tries, last answer.

Deliveries are sent by the worker (`integrations.delivery`). Role checks (managers
only) are the caller's: this package knows no users.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import KloseError, NotFound
from integrations import signing, urls
from integrations.models import (
    EVENT_TYPES,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

MAX_ENDPOINTS: Final = 10


class WebhookError(KloseError, ValueError):
    pass


@dataclass(frozen=True)
class Endpoint:
    id: uuid.UUID
    url: str
    event_types: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class LogRow:
    event_id: str
    event_type: str
    url: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def event_types_of(names: Iterable[str] | None) -> tuple[str, ...]:
    """The event types asked for (None or empty: all); an unknown one is refused."""
    wanted = [n.strip().lower() for n in (names or ()) if n and n.strip()]
    if not wanted or "all" in wanted or "*" in wanted:
        return EVENT_TYPES
    unknown = [n for n in wanted if n not in EVENT_TYPES]
    if unknown:
        raise WebhookError(
            f"Unknown event type {unknown[0]!r}: choose from {', '.join(EVENT_TYPES)}."
        )
    return tuple(t for t in EVENT_TYPES if t in wanted)


async def add_endpoint(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    url: str,
    *,
    event_types: Iterable[str] | None = None,
    created_by: uuid.UUID | None = None,
    allow_loopback: bool = False,
) -> tuple[Endpoint, str]:
    """Add a receiver; returns it and its signing secret (shown once). Refuses a URL
    that is not https or resolves to a private address (`urls.WebhookUrlError`)."""
    types = event_types_of(event_types)
    target = await urls.check(url, allow_loopback=allow_loopback)
    existing = list(
        (
            await session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.workspace_id == workspace_id,
                    WebhookEndpoint.removed_at.is_(None),
                )
            )
        ).all()
    )
    if any(e.url == target.url for e in existing):
        raise WebhookError("That URL is already a webhook receiver of this workspace.")
    if len(existing) >= MAX_ENDPOINTS:
        raise WebhookError(f"A workspace can have at most {MAX_ENDPOINTS} webhook receivers.")
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        url=target.url,
        secret=secret,
        event_types=list(types),
        created_by=created_by,
    )
    session.add(endpoint)
    await session.flush()
    return _endpoint(endpoint), secret


def _endpoint(row: WebhookEndpoint) -> Endpoint:
    return Endpoint(row.id, row.url, tuple(row.event_types), row.created_at or datetime.now(UTC))


async def list_endpoints(session: AsyncSession, workspace_id: uuid.UUID) -> list[Endpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.removed_at.is_(None))
        .order_by(WebhookEndpoint.created_at)
    )
    return [_endpoint(r) for r in rows.all()]


async def find_endpoint(session: AsyncSession, workspace_id: uuid.UUID, ref: str) -> Endpoint:
    """A receiver of the workspace by id (or its first 8 characters) or exact URL."""
    ref = (ref or "").strip()
    for endpoint in await list_endpoints(session, workspace_id):
        if ref and (ref == endpoint.url or str(endpoint.id).startswith(ref.lower())):
            return endpoint
    raise NotFound("No such webhook receiver in this workspace.")


async def remove_endpoint(
    session: AsyncSession, workspace_id: uuid.UUID, endpoint_id: uuid.UUID
) -> bool:
    """Stop sending to a receiver (its pending deliveries are dropped as failed)."""
    now = datetime.now(UTC)
    done = await session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.workspace_id == workspace_id,
            WebhookEndpoint.removed_at.is_(None),
        )
        .values(removed_at=now)
    )
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="failed", last_error="receiver removed")
    )
    return bool(getattr(done, "rowcount", 0))


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(16)


async def emit(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    type: str,
    data: Mapping[str, Any],
    *,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Record event `type` with `data` for the workspace's receivers subscribed to it,
    in the caller's transaction (commit is the caller's). Returns the event id, or None
    when nobody listens or the same event (`dedupe_key`) was emitted before."""
    if type not in EVENT_TYPES:
        raise WebhookError(f"unknown webhook event type {type!r}")
    endpoints = (
        await session.scalars(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.workspace_id == workspace_id,
                WebhookEndpoint.removed_at.is_(None),
                WebhookEndpoint.event_types.contains([type]),
            )
        )
    ).all()
    if not endpoints:
        return None
    at = now or datetime.now(UTC)
    key = dedupe_key or f"{type}:{data.get('id', new_event_id())}"
    event_id = new_event_id()
    payload = {
        "id": event_id,
        "type": type,
        "created_at": at.isoformat(),
        "workspace_id": str(workspace_id),
        "data": dict(data),
    }
    stored = await session.scalar(
        insert(WebhookEvent)
        .values(
            id=event_id,
            workspace_id=workspace_id,
            type=type,
            dedupe_key=key[:200],
            payload=payload,
            created_at=at,
        )
        .on_conflict_do_nothing(constraint="uq_webhook_events_dedupe")
        .returning(WebhookEvent.id)
    )
    if stored is None:
        return None
    await session.execute(
        insert(WebhookDelivery).values(
            [
                {
                    "id": uuid.uuid4(),
                    "event_id": event_id,
                    "endpoint_id": endpoint_id,
                    "workspace_id": workspace_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
                for endpoint_id in endpoints
            ]
        )
    )
    return event_id


async def delivery_log(
    session: AsyncSession, workspace_id: uuid.UUID, *, limit: int = 20
) -> list[LogRow]:
    """The workspace's latest deliveries, newest first."""
    rows = await session.execute(
        select(WebhookDelivery, WebhookEvent.type, WebhookEndpoint.url)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.workspace_id == workspace_id)
        .order_by(WebhookDelivery.created_at.desc())
        .limit(max(1, min(limit, 200)))
    )
    return [
        LogRow(
            event_id=d.event_id,
            event_type=event_type,
            url=url,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            delivered_at=d.delivered_at,
        )
        for d, event_type, url in rows.all()
    ]
