"""Webhook URLs cannot be used for server-side request forgery: not https, or a host
that resolves to a loopback, private, link-local (cloud metadata), CGNAT, multicast or
unspecified address, is refused when a manager configures it AND on every delivery —
where the address is checked on the answer resolved for that very request (DNS
rebinding), and nothing is sent."""

from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import func, select

from core.settings import Settings
from integrations import delivery, urls
from integrations.models import WebhookEndpoint
from integrations.urls import WebhookUrlError
from integrations.webhooks import add_endpoint, delivery_log, emit

REFUSED = [
    "http://hooks.example.com/k",  # not https
    "ftp://hooks.example.com/k",
    "https://127.0.0.1/k",
    "https://127.1.2.3:8443/k",
    "https://localhost/k",  # resolves to loopback
    "https://10.0.0.5/k",
    "https://172.16.3.4/k",
    "https://192.168.1.10/k",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://100.64.0.1/k",  # carrier-grade NAT
    "https://0.0.0.0/k",
    "https://[::1]/k",
    "https://[fe80::1]/k",
    "https://[fd00::1]/k",
    "https://[::ffff:127.0.0.1]/k",  # IPv4-mapped loopback
    "https://[::ffff:169.254.169.254]/k",
    "https://224.0.0.1/k",
    "https://user:pass@hooks.example.com/k",
    "https://",
    "not a url",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_refused_at_config_time(url: str) -> None:
    with pytest.raises(WebhookUrlError):
        await urls.check(url, allow_loopback=False)


@pytest.mark.parametrize(
    "url", ["https://10.0.0.5/k", "https://169.254.169.254/k", "http://10.1.1.1/k"]
)
async def test_test_setting_lets_only_loopback_through(url: str) -> None:
    with pytest.raises(WebhookUrlError):
        await urls.check(url, allow_loopback=True)
    assert (await urls.check("http://127.0.0.1:9/k", allow_loopback=True)).address.is_loopback


def test_loopback_is_refused_unless_the_test_setting_says_so() -> None:
    assert Settings().webhook_test_allow_loopback is False


async def test_refused_url_is_not_stored(db, make_workspace) -> None:
    ws = await make_workspace()
    async with db.session() as session:
        with pytest.raises(WebhookUrlError, match="private, loopback or link-local"):
            await add_endpoint(session, ws, "https://169.254.169.254/latest/meta-data/")
        await session.rollback()
        count = await session.scalar(select(func.count()).where(WebhookEndpoint.workspace_id == ws))
    assert count == 0


async def test_dns_rebinding_is_refused_at_delivery_and_nothing_sent(
    db, make_workspace, monkeypatch
) -> None:
    """The host answered a public address when configured, then 127.0.0.1."""
    answers = [ipaddress.ip_address("93.184.216.34")]

    async def resolve(host: str, port: int) -> list[urls.IPAddress]:
        return list(answers)

    sent: list[str] = []

    async def post(target, body, headers, *, timeout_s):  # a network that records
        sent.append(target.connect_url)
        return 200

    monkeypatch.setattr(urls, "resolve", resolve)
    monkeypatch.setattr(delivery, "post", post)
    ws = await make_workspace()
    async with db.session() as session:
        await add_endpoint(session, ws, "https://rebind.example.net/hook")
        await emit(session, ws, "call.completed", {"id": "call-rebind"})
        await session.commit()
    answers[:] = [ipaddress.ip_address("127.0.0.1")]
    done = await delivery.deliver_due(db, timeout_s=2, workspace_id=ws)
    assert [o.status for o in done] == ["pending"]
    assert "private, loopback or link-local" in (done[0].error or "")
    assert sent == []
    async with db.session() as session:
        log = await delivery_log(session, ws)
    assert log[0].last_error and "127.0.0.1" in log[0].last_error
    # Once it resolves to a public address again, it goes — to that checked address.
    answers[:] = [ipaddress.ip_address("93.184.216.34")]
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(minutes=2)
    done = await delivery.deliver_due(db, timeout_s=2, workspace_id=ws, now=later)
    assert [o.status for o in done] == ["delivered"]
    assert sent == ["https://93.184.216.34:443/hook"]


async def test_redirects_are_not_followed(db, make_workspace) -> None:
    """A receiver answering 302 to an internal address is a failed try, not a hop."""
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    from tests.http_double import serve_in_thread

    hits: list[str] = []

    async def hop(request):  # type: ignore[no-untyped-def]
        hits.append(request.url.path)
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    app = Starlette(routes=[Route("/{p:path}", hop, methods=["POST", "GET"])])
    ws = await make_workspace()
    with serve_in_thread(app) as base:
        async with db.session() as session:
            await add_endpoint(session, ws, f"{base}/hook", allow_loopback=True)
            await emit(session, ws, "call.completed", {"id": "call-redirect"})
            await session.commit()
        done = await delivery.deliver_due(db, timeout_s=2, allow_loopback=True, workspace_id=ws)
    assert [(o.status, o.status_code) for o in done] == [("pending", 302)]
    assert hits == ["/hook"]
