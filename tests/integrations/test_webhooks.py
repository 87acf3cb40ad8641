"""Outbound webhooks end to end against a real local receiver: signed, de-duplicated
by event id, retried with backoff for a day, logged, and never held up by a receiver
that is slow or failing."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from core.db import Database
from integrations import signing
from integrations.delivery import GIVE_UP_AFTER, deliver_due, next_try
from integrations.models import WebhookAttempt, WebhookDelivery
from integrations.webhooks import add_endpoint, delivery_log, emit
from tests.integrations.receiver import receiver

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


async def _endpoint(db: Database, workspace_id: uuid.UUID, url: str, types=None) -> str:
    async with db.session() as session:
        _, secret = await add_endpoint(
            session, workspace_id, url, event_types=types, allow_loopback=True
        )
        await session.commit()
    return secret


async def _emit(db: Database, workspace_id: uuid.UUID, type_: str, data: dict) -> str | None:
    async with db.session() as session:
        event_id = await emit(session, workspace_id, type_, data)
        await session.commit()
    return event_id


async def test_signed_delivery_verifies_with_documented_code(db, make_workspace) -> None:
    ws = await make_workspace()
    with receiver() as rx:
        secret = await _endpoint(db, ws, rx.url())
        event_id = await _emit(db, ws, "call.completed", {"id": "call-1", "duration_s": 42})
        assert event_id is not None
        done = await deliver_due(db, timeout_s=5, allow_loopback=True, workspace_id=ws)
        assert [o.status for o in done] == ["delivered"]
        assert len(rx.got) == 1
        got = rx.got[0]
    # What docs/webhooks.md tells a receiver to do.
    assert signing.verify(secret, got.headers["klosesales-signature"], got.body)
    assert not signing.verify("whsec_wrong", got.headers["klosesales-signature"], got.body)
    assert not signing.verify(secret, got.headers["klosesales-signature"], got.body + b" ")
    body = json.loads(got.body)
    assert body["id"] == event_id == got.headers["klosesales-event-id"]
    assert body["type"] == "call.completed" and body["data"]["duration_s"] == 42


async def test_same_fact_emitted_twice_is_one_event(db, make_workspace) -> None:
    ws = await make_workspace()
    with receiver() as rx:
        await _endpoint(db, ws, rx.url())
        first = await _emit(db, ws, "contact.opted_out", {"id": "c-1"})
        again = await _emit(db, ws, "contact.opted_out", {"id": "c-1"})
        assert first is not None and again is None
        await deliver_due(db, timeout_s=5, allow_loopback=True, workspace_id=ws)
        assert await deliver_due(db, timeout_s=5, allow_loopback=True, workspace_id=ws) == []
        assert len(rx.got) == 1


async def test_only_subscribed_receivers_get_an_event(db, make_workspace) -> None:
    ws = await make_workspace()
    with receiver() as rx:
        await _endpoint(db, ws, rx.url("/insights"), ["call.insights_ready"])
        assert await _emit(db, ws, "call.completed", {"id": "x"}) is None
        assert await _emit(db, ws, "call.insights_ready", {"id": "x"}) is not None


async def test_500_is_retried_with_backoff_and_logged(db, make_workspace) -> None:
    ws = await make_workspace()
    with receiver() as rx:
        rx.answers = [500, 503]
        await _endpoint(db, ws, rx.url())
        await _emit(db, ws, "call.completed", {"id": "call-500"})
        now = datetime.now(UTC)
        first = await deliver_due(db, timeout_s=5, allow_loopback=True, now=now, workspace_id=ws)
        assert [(o.status, o.status_code) for o in first] == [("pending", 500)]
        # Not due again before the backoff.
        assert (
            await deliver_due(db, timeout_s=5, allow_loopback=True, now=now, workspace_id=ws) == []
        )
        later = now + timedelta(minutes=1, seconds=1)
        second = await deliver_due(db, timeout_s=5, allow_loopback=True, now=later, workspace_id=ws)
        assert [(o.status, o.status_code) for o in second] == [("pending", 503)]
        third = await deliver_due(
            db,
            timeout_s=5,
            allow_loopback=True,
            now=later + timedelta(minutes=5, seconds=1),
            workspace_id=ws,
        )
        assert [o.status for o in third] == ["delivered"]
        assert len(rx.got) == 3
        ids = {r.headers["klosesales-event-id"] for r in rx.got}
        assert len(ids) == 1  # retries carry the same event id: the receiver de-duplicates
    async with db.session() as session:
        log = await delivery_log(session, ws)
        attempts = (
            await session.scalars(
                select(WebhookAttempt.status_code)
                .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                .where(WebhookDelivery.workspace_id == ws)
                .order_by(WebhookAttempt.id)
            )
        ).all()
    assert [(r.status, r.attempts, r.last_status_code) for r in log] == [("delivered", 3, 200)]
    assert list(attempts) == [500, 503, 200]


async def test_slow_receiver_times_out_without_holding_up_others(db, make_workspace) -> None:
    ws = await make_workspace()
    with receiver() as slow, receiver() as quick:
        slow.hang_s = 3.0
        await _endpoint(db, ws, slow.url())
        await _endpoint(db, ws, quick.url())
        await _emit(db, ws, "call.completed", {"id": "slow-and-quick"})
        done = await deliver_due(db, timeout_s=0.5, allow_loopback=True, workspace_id=ws)
        by_status = {o.status: o for o in done}
        assert set(by_status) == {"pending", "delivered"}
        assert "no answer within" in (by_status["pending"].error or "")
        assert len(quick.got) == 1
    async with db.session() as session:
        log = await delivery_log(session, ws)
    slow_row = next(r for r in log if r.status == "pending")
    assert slow_row.next_attempt_at is not None and slow_row.attempts == 1
    assert "no answer" in (slow_row.last_error or "")


def test_retries_stop_a_day_after_the_event() -> None:
    created = datetime(2026, 12, 1, tzinfo=UTC)
    at, attempts, tries = created, 0, []
    while True:
        attempts += 1
        tries.append(at)
        retry = next_try(created, attempts, at)
        if retry is None:
            break
        at = retry
    assert tries[-1] <= created + GIVE_UP_AFTER
    assert tries[-1] > created + timedelta(hours=20)  # it does keep trying for a day
    assert 6 <= len(tries) <= 10


async def test_the_receiver_code_in_the_docs_verifies_a_real_delivery(db, make_workspace) -> None:
    """docs/webhooks.md's few lines, run as written, accept our delivery and refuse a
    tampered one."""
    doc = DOC.read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "def klosesales" in b)
    namespace: dict = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own docs
    check = namespace["klosesales_event_is_authentic"]
    ws = await make_workspace()
    with receiver() as rx:
        secret = await _endpoint(db, ws, rx.url())
        await _emit(db, ws, "call.completed", {"id": "doc-check"})
        await deliver_due(db, timeout_s=5, allow_loopback=True, workspace_id=ws)
        got = rx.got[0]
    header = got.headers["klosesales-signature"]
    assert check(secret, header, got.body) is True
    assert check(secret, header, got.body.replace(b"doc-check", b"doc-chock")) is False
    assert check("whsec_other", header, got.body) is False


async def test_a_receiver_trickling_its_answer_is_cut_off(db, make_workspace) -> None:
    """A receiver that keeps the connection alive with a byte of its status line now
    and then (each read inside httpx's per-read timeout) still counts as no answer
    after `timeout_s`. (The body of an answer is never read at all.)"""
    import socket
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def drip() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.25)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    ws = await make_workspace()
    try:
        await _endpoint(db, ws, f"http://127.0.0.1:{port}/hook")
        await _emit(db, ws, "call.completed", {"id": "trickle"})
        done = await deliver_due(db, timeout_s=1.0, allow_loopback=True, workspace_id=ws)
    finally:
        server.close()
    assert [o.status for o in done] == ["pending"]
    assert "no answer within 1 s" in (done[0].error or "")
