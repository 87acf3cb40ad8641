"""Sending webhook deliveries: signed, retried with backoff for a day, never blocking.

`deliver_due` (the worker's periodic job, and callable directly) claims due
deliveries with `FOR UPDATE SKIP LOCKED` and a lease (their next try is pushed
`LEASE` ahead in the claiming transaction), so any number of workers share the work
and a worker that dies mid-send only delays a delivery. Each delivery is then sent
outside any transaction:

- the URL is checked again and its host resolved again (`integrations.urls.check`);
  the request goes to the checked address, so DNS rebinding cannot reach a private
  address; a refused URL is a failed try like any other;
- the body is the event JSON, signed (`integrations.signing`), with the event id in
  `Klosesales-Event-Id` (the receiver's de-duplication key: retries reuse it);
- no redirects are followed, and a try gives up after `timeout_s` in all (the DNS
  lookup, connecting, sending and the whole answer);
- a 2xx answer delivers it; anything else (timeout, connection error, 3xx/4xx/5xx)
  is logged as an attempt and tried again after `RETRY_DELAYS` — until a day after
  the event, then the delivery is marked failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx
from sqlalchemy import select, update

from core.db import Database
from integrations import signing, urls
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

# The wait before each retry (after try 1, 2, …): about 23 h in all, then one last try.
RETRY_DELAYS: Final = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=8),
)
GIVE_UP_AFTER: Final = timedelta(days=1)
LEASE: Final = timedelta(minutes=2)
BATCH: Final = 50
CONCURRENCY: Final = 8
MAX_ERROR_CHARS: Final = 300
USER_AGENT: Final = "Klosesales-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    delivery_id: uuid.UUID
    status: str  # delivered, pending (retry scheduled), failed
    status_code: int | None
    error: str | None


def next_try(created_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed tries, or None: give up (a day gone)."""
    if attempts > len(RETRY_DELAYS):
        return None
    at = now + RETRY_DELAYS[attempts - 1]
    return at if at <= created_at + GIVE_UP_AFTER else None


async def _claim(
    db: Database, now: datetime, limit: int, workspace_id: uuid.UUID | None
) -> list[uuid.UUID]:
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if workspace_id is not None:
        due = due.where(WebhookDelivery.workspace_id == workspace_id)
    async with db.session() as session:
        claimed = list(
            (
                await session.scalars(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(due.scalar_subquery()))
                    .values(next_attempt_at=now + LEASE)
                    .returning(WebhookDelivery.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        await session.commit()
    return claimed


async def post(
    target: urls.Target, body: bytes, headers: dict[str, str], *, timeout_s: float
) -> int:
    """POST `body` to the checked address of `target` (Host and TLS name: its host);
    the HTTP status, or an httpx error."""
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, trust_env=False)
    # Only the status matters: the answer's body is never read (nor held in memory).
    async with (
        client,
        client.stream(
            "POST",
            target.connect_url,
            content=body,
            headers={**headers, "Host": target.host_header},
            extensions=extensions,
        ) as response,
    ):
        return response.status_code


async def send_one(
    db: Database,
    delivery_id: uuid.UUID,
    *,
    timeout_s: float,
    allow_loopback: bool,
    now: datetime | None = None,
) -> Outcome:
    """Try one claimed delivery and record the attempt and what follows from it."""
    async with db.session() as session:
        row = (
            await session.execute(
                select(WebhookDelivery, WebhookEvent.payload, WebhookEndpoint)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).one()
    delivery, payload, endpoint = row
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    status_code: int | None = None
    error: str | None = None
    started = time.monotonic()
    if endpoint.removed_at is not None:
        error = "receiver removed"
    else:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.HEADER: signing.sign(endpoint.secret, body),
            signing.EVENT_ID_HEADER: delivery.event_id,
            signing.EVENT_TYPE_HEADER: str(payload.get("type", "")),
        }
        try:
            # One bound for the whole try — the DNS lookup, connecting, and a receiver
            # that trickles its answer a byte at a time (httpx's own timeouts are per
            # step and per read) — so a slow receiver never holds the worker.
            async with asyncio.timeout(timeout_s):
                target = await urls.check(endpoint.url, allow_loopback=allow_loopback)
                status_code = await post(target, body, headers, timeout_s=timeout_s)
            if not 200 <= status_code < 300:
                error = f"answered HTTP {status_code}"
        except urls.WebhookUrlError as exc:
            error = str(exc)
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return await _record(db, delivery, status_code, error, elapsed_ms, now or datetime.now(UTC))


async def _record(
    db: Database,
    delivery: WebhookDelivery,
    status_code: int | None,
    error: str | None,
    elapsed_ms: int,
    now: datetime,
) -> Outcome:
    attempts = delivery.attempts + 1
    values: dict[str, object] = {
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": None if error is None else error[:MAX_ERROR_CHARS],
    }
    if error is None:
        status = "delivered"
        values.update(status=status, delivered_at=now, next_attempt_at=now)
    else:
        retry = next_try(delivery.created_at, attempts, now)
        status = "pending" if retry is not None else "failed"
        values.update(status=status, next_attempt_at=retry or now)
    async with db.session() as session:
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                at=now,
                status_code=status_code,
                error=None if error is None else error[:MAX_ERROR_CHARS],
                duration_ms=elapsed_ms,
            )
        )
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "pending")
            .values(**values)
        )
        await session.commit()
    if error is not None:
        log.info("webhook delivery %s failed (try %d): %s", delivery.id, attempts, error)
    return Outcome(delivery.id, status, status_code, error)


async def deliver_due(
    db: Database,
    *,
    timeout_s: float,
    allow_loopback: bool = False,
    now: datetime | None = None,
    limit: int = BATCH,
    workspace_id: uuid.UUID | None = None,
) -> list[Outcome]:
    """Send the deliveries due now (at most `limit`, `CONCURRENCY` at a time; only one
    workspace's if `workspace_id`). Each try is bounded by `timeout_s`, so one slow
    receiver never holds the worker long."""
    at = now or datetime.now(UTC)
    claimed = await _claim(db, at, limit, workspace_id)
    if not claimed:
        return []
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(delivery_id: uuid.UUID) -> Outcome | None:
        async with gate:
            try:
                return await send_one(
                    db, delivery_id, timeout_s=timeout_s, allow_loopback=allow_loopback, now=now
                )
            except Exception:
                log.exception("webhook delivery %s could not be tried", delivery_id)
                return None

    results = await asyncio.gather(*(one(d) for d in claimed))
    return [r for r in results if r is not None]
