"""The one ASGI application: FastAPI with Chainlit mounted at /chat."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.middleware.sessions import SessionMiddleware

from accounts import oauth_views, ratelimit
from accounts import views as account_views
from accounts.suspension import register_suspend_hook
from billing import views as billing_views
from chat_app import balance as balance_view
from chat_app import security, settings_views
from chat_app import views as chat_views
from chat_app.guard import ChatGuard
from chat_app.lifespan import lifespan_for
from chat_app.runtime import Runtime
from chat_app.views import CHAT_PATH
from core import __version__
from core.db import Database, database_unreachable
from core.secrets import persistent_secret
from core.settings import Settings
from telephony import recording_views
from telephony import views as telephony_views
from telephony.calls import suspension_hook

log = logging.getLogger(__name__)

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
    ratelimit.configure(ip_multiplier=settings.rate_limit_ip_multiplier)
    docs = settings.api_docs  # /docs, /redoc and /openapi.json only when enabled
    app = FastAPI(
        title="Klosesales",
        version=__version__,
        lifespan=lifespan_for(runtime, owns_db=owns_db),
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.runtime = runtime
    for outage in (psycopg.OperationalError, sa_exc.OperationalError, sa_exc.DBAPIError):
        app.add_exception_handler(outage, database_outage)

    # The routers' dependencies find the runtime on app.state (core/web/deps.py).
    app.include_router(billing_views.router)
    app.include_router(telephony_views.router)  # Twilio's webhooks and the relay socket
    app.include_router(recording_views.router)  # recordings and call pages (+ simulated store)
    app.include_router(account_views.router)
    app.include_router(oauth_views.router)
    app.include_router(chat_views.router)  # /, /healthz, the chat's files
    app.include_router(settings_views.router)  # /settings/automation
    app.include_router(balance_view.router)  # the balance badge's JSON
    register_suspend_hook(suspension_hook(runtime.telephony))
    secure_cookies = settings.public_base_url.startswith("https://")
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

    os.environ["CHAINLIT_AUTH_SECRET"] = persistent_secret(
        settings.data_dir, "chainlit_auth_secret", settings.chainlit_auth_secret
    )
    from chainlit.utils import mount_chainlit

    mount_chainlit(app=app, target=str(Path(__file__).with_name("app.py")), path=CHAT_PATH)
    chainlit_html, upload_max_mb = security.secure_chainlit(api_docs=settings.api_docs)
    # Twilio's status callbacks skip the middlewares above and the routing (not the
    # two below): telephony/views.py `StatusLane`.
    app.add_middleware(telephony_views.StatusLane)
    # Added last, so they run first: the same-origin check and the security headers.
    security.install(
        app.add_middleware,
        public_base_url=settings.public_base_url,
        chat_path=CHAT_PATH,
        chainlit_html=chainlit_html,
        upload_max_mb=upload_max_mb,
    )
    return app
