"""The account and billing routers served in process, for HTTP tests that need no
websocket, simulated carrier or browser: `httpx.ASGITransport` against the routers on
a bare FastAPI, their services given through `app.dependency_overrides`, on the
test's own event loop (so tests/stall.py sees every request path).

`web` (fixture) is such an app with every provider simulated; `client(web)` in
tests/accounts/helpers.py opens a client on it (or on a real server's base URL).
Each client comes from an IP of its own, so per-IP limits do not add up across tests.
Requests to other hosts (a provider double) go over real HTTP.
"""

from __future__ import annotations

import gc
import itertools
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import configure_mappers
from starlette.middleware.sessions import SessionMiddleware

from accounts import oauth_views
from accounts import views as account_views
from accounts.deps import get_otp, get_signer
from accounts.otp.factory import build_otp
from accounts.sessions import Signer
from billing import views as billing_views
from billing.deps import PaymentsDep, Send, get_event_sender, get_payments
from billing.paddle import events, tax_table
from billing.paddle.signature import sign
from billing.payments import build_payments
from core.db import Database
from core.settings import Settings
from core.web.deps import get_database, get_settings
from tests.stall import StallMonitor

BASE = "http://test"
SESSION_SECRET = "in-process-test-session-secret-0123456789"
_ips = itertools.count(random.randrange(1, 1 << 20))


def _next_ip() -> str:
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@dataclass
class InProcess:
    """An app served in process; `client()` opens an httpx client on it."""

    app: FastAPI
    settings: Settings
    base: str = BASE
    monitor: StallMonitor | None = field(default=None)

    def client(self, *, ip: str | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip or _next_ip(), 50000))
        # Other hosts (a provider double) over real HTTP; no TLS in tests, so no CA
        # bundle to load (loading one blocks the loop for ~100 ms per client).
        return httpx.AsyncClient(
            base_url=self.base,
            mounts={f"{self.base}/": transport},
            follow_redirects=False,
            timeout=30,
            verify=False,  # noqa: S501 - plain http only: no TLS to check
        )


def build_web_app(db: Database, settings: Settings) -> FastAPI:
    """The routers `create_app` includes, with the middleware they rely on (Authlib's
    state cookie), and the runtime's services as dependency overrides."""
    app = FastAPI()
    otp, payments = build_otp(settings, db), build_payments(settings, db)
    signer = Signer(SESSION_SECRET, session_days=settings.session_days)

    def send_in_process(payments: PaymentsDep) -> Send:
        """The simulated checkout's events, signed, to this app's own webhook."""

        async def send(event: dict[str, Any]) -> int:
            body = events.dumps(event)
            headers = {
                "Content-Type": "application/json",
                "Paddle-Signature": sign(body, [payments.webhook_secret]),
            }
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
                response = await http.post(
                    billing_views.WEBHOOK_PATH, content=body, headers=headers
                )
            return response.status_code

        return send

    app.dependency_overrides.update(
        {
            get_settings: lambda: settings,
            get_database: lambda: db,
            get_otp: lambda: otp,
            get_signer: lambda: signer,
            get_payments: lambda: payments,
            get_event_sender: send_in_process,
        }
    )
    for router in (billing_views.router, account_views.router, oauth_views.router):
        app.include_router(router)
    app.add_middleware(
        SessionMiddleware,
        secret_key=SESSION_SECRET,
        session_cookie="ks_oauth",
        max_age=600,
        same_site="lax",
        https_only=False,
    )
    return app


def web_settings(data_dir: Path, **extra: Any) -> Settings:
    from tests.conftest import PADDLE_TEST_SECRET

    return Settings(
        _env_file=None,
        public_base_url=BASE,
        data_dir=data_dir,
        paddle_webhook_secret=PADDLE_TEST_SECRET,
        **extra,
    )


async def warm_up(web: InProcess) -> None:
    """What a process does once, on its first requests (SQLAlchemy configures its
    mappers, FastAPI builds each router's routes, the form parser is imported, the
    first connections open): done here, before any test watches the loop. Then, as
    the server's lifespan does, the start-up heap is frozen out of the collector."""
    configure_mappers()
    tax_table.load()  # as the server's lifespan does
    async with web.client() as http:
        await http.get("/account/login")
        await http.post("/account/login", data={"email": "warm@example.test", "password": "x"})
        await http.get("/account/oauth/none/start")
        await http.get("/billing/buy")
        await http.post("/webhooks/paddle", content=b"{}")
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session")
async def web_app(database: Database, tmp_path_factory: pytest.TempPathFactory) -> InProcess:
    settings = web_settings(tmp_path_factory.mktemp("web-data"))
    web = InProcess(build_web_app(database, settings), settings)
    await warm_up(web)
    return web


@pytest.fixture
def web(web_app: InProcess, db: Database, stall_monitor: StallMonitor) -> InProcess:
    """The in-process app, for one test, with the event loop watched for stalls."""
    return InProcess(web_app.app, web_app.settings, monitor=stall_monitor)
