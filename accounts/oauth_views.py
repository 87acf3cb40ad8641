"""Pages for "Continue with Google / Facebook": start, callback, and the sign-up form
for a person new to us. A provider's word is never enough on its own: every path
ends in a code sent to a verified mobile, exactly like a password login.

- linked identity → code to the user's mobile → /account/login/code
- not linked, a user has the (provider-verified) email → the same code step; the
  identity is linked only once the code checked (accounts/views.py login_code_post)
- anyone else → the sign-up form (name and email from the provider, no password;
  mobile, 18+ and terms still required) → the normal /account/signup/verify step

The provider, subject and email travel in the signed `ks_pending` cookie, never in
the form. Authlib's state lives in the `ks_oauth` session cookie (SessionMiddleware).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit, flows, ratelimit, terms
from accounts.models import User, Workspace, WorkspaceStatus
from accounts.oauth import (
    CallbackRejected,
    NoEmail,
    OAuthFailed,
    authorize_redirect,
    build_oauth,
    client_for,
    failure_message,
    fetch_identity,
)
from accounts.otp import Flow, OtpError, OtpProvider
from accounts.ratelimit import RateLimited
from accounts.service import get_user_by_email
from accounts.sessions import (
    PENDING_COOKIE,
    PENDING_MAX_AGE_S,
    Pending,
    Signer,
    pending_token,
    read_pending,
)
from accounts.views import client_ip
from core.db import Database
from core.settings import Settings
from core.templates import TEMPLATES_DIR

log = logging.getLogger(__name__)

SIGNUP_PATH = "/account/oauth/signup"
# signup.html posts to the password sign-up; the OAuth variant posts here instead.


def build_oauth_router(
    db: Database,
    otp: OtpProvider,
    signer: Signer,
    settings: Settings,
    *,
    secure_cookies: bool,
) -> APIRouter:
    router = APIRouter(prefix="/account/oauth")
    oauth = build_oauth(settings)
    templates = Jinja2Templates(
        directory=[str(Path(__file__).with_name("templates")), str(TEMPLATES_DIR)]
    )
    simulated = not otp.live
    base_url = settings.public_base_url.rstrip("/")

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("errors", {})
        ctx.setdefault("oauth_providers", [])
        ctx.setdefault("simulated", simulated)
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    def set_pending(response: Response, pending: Pending) -> None:
        response.set_cookie(
            PENDING_COOKIE, pending_token(signer, pending), max_age=PENDING_MAX_AGE_S,
            httponly=True, secure=secure_cookies, samesite="lax", path="/",
        )  # fmt: skip

    def not_found(request: Request) -> HTMLResponse:
        return page(
            request, "message.html", 404, heading="Not found",
            message="This sign-in option is not available.", link="/account/login",
            link_label="Back to sign in",
        )  # fmt: skip

    def failed(request: Request, provider: str, status: int = 400) -> HTMLResponse:
        return page(
            request, "message.html", status, heading="Sign-in not completed",
            message=failure_message(provider), link="/account/login",
            link_label="Back to sign in",
        )  # fmt: skip

    def expired(request: Request) -> HTMLResponse:
        return page(
            request, "message.html", 400, heading="This step has expired",
            message="Codes and the steps around them last 10 minutes. Please start again.",
            link="/account/login", link_label="Back to sign in",
        )  # fmt: skip

    def login_refused(request: Request, status: int, message: str) -> HTMLResponse:
        return page(request, "login.html", status, email="", next="/chat", message=message)

    # --- start and callback ----------------------------------------------------------

    @router.get("/{provider}/start", include_in_schema=False)
    async def start(request: Request, provider: str) -> Response:
        if client_for(oauth, provider) is None:
            return not_found(request)
        redirect_uri = f"{base_url}/account/oauth/{provider}/callback"
        try:
            return await authorize_redirect(oauth, provider, request, redirect_uri)
        except OAuthFailed:
            return failed(request, provider, 502)

    @router.get("/{provider}/callback", include_in_schema=False)
    async def callback(request: Request, provider: str) -> Response:
        if client_for(oauth, provider) is None:
            return not_found(request)
        ip = client_ip(request)
        try:
            identity = await fetch_identity(oauth, provider, request)
        except CallbackRejected as exc:
            async with db.session() as session:
                await audit.record(
                    session, audit.OAUTH_STATE_INVALID, actor_label=f"oauth:{provider}",
                    target=provider, ip=ip, detail={"provider": provider, "reason": exc.reason},
                )  # fmt: skip
                await session.commit()
            return failed(request, provider, 400)
        except OAuthFailed:
            return failed(request, provider, 400)

        async with db.session() as session:
            user = await flows.user_by_identity(session, provider, identity.subject)
            link = False
            if user is None and identity.email is not None and identity.email_verified:
                user = await get_user_by_email(session, identity.email)
                link = user is not None
            if user is not None:
                return await second_factor(
                    request, session, user, provider, identity.subject if link else None
                )
        if identity.email is None:
            return page(
                request, "message.html", 400, heading="An email address is needed",
                message=str(NoEmail(provider)), link="/account/signup",
                link_label="Sign up with email",
            )  # fmt: skip
        # Someone new: the sign-up form, with what the provider told us.
        response = RedirectResponse(SIGNUP_PATH, status_code=303)
        set_pending(
            response,
            Pending(
                "oauth",
                identity.subject,
                None,
                {"provider": provider, "email": identity.email, "name": identity.name},
            ),
        )
        return response

    async def second_factor(
        request: Request,
        session: AsyncSession,
        user: User,
        provider: str,
        link_subject: str | None,
    ) -> Response:
        """As after a right password: a code to the verified mobile, then the code page."""
        ip = client_ip(request)
        try:
            await ratelimit.allow(
                session, [(ratelimit.LOGIN_PER_IP, ip or "?"),
                          (ratelimit.LOGIN_PER_EMAIL, user.email)],
            )  # fmt: skip
        except RateLimited as exc:
            return login_refused(request, 429, str(exc))
        workspace = await session.get(Workspace, user.workspace_id)
        usable = (
            user.status == "active"
            and workspace is not None
            and workspace.status == WorkspaceStatus.ACTIVE.value
            and user.mobile_e164 is not None
            and user.mobile_verified_at is not None
        )
        if not usable or user.mobile_e164 is None:
            await audit.record(
                session, audit.SIGNIN_FAILED, actor_id=user.id, actor_label=user.email,
                workspace_id=user.workspace_id, ip=ip,
                detail={"step": "oauth", "provider": provider},
            )  # fmt: skip
            await session.commit()
            return login_refused(request, 401, failure_message(provider))
        try:
            await otp.send(user.mobile_e164, flow=Flow.LOGIN)
        except OtpError as exc:
            return login_refused(request, 503, str(exc))
        extra: dict[str, Any] = {"next": "/chat", "method": provider}
        if link_subject is not None:
            extra.update({"link": provider, "sub": link_subject})
        response = RedirectResponse("/account/login/code", status_code=303)
        set_pending(response, Pending("login", str(user.id), user.mobile_e164, extra))
        return response

    # --- sign-up for someone new ------------------------------------------------------

    def oauth_pending(request: Request) -> Pending | None:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "oauth")
        if pending is None or not isinstance(pending.extra.get("email"), str):
            return None
        if client_for(oauth, str(pending.extra.get("provider"))) is None:
            return None
        return pending

    async def signup_form(
        request: Request,
        pending: Pending,
        data: dict[str, str],
        status: int = 200,
        **ctx: Any,
    ) -> HTMLResponse:
        async with db.session() as session:
            current = await terms.current(session)
        form = _FormView(
            {
                "name": data.get("name", str(pending.extra.get("name") or "")),
                "email": str(pending.extra["email"]),
                "mobile": data.get("mobile", ""),
                "age": data.get("age", ""),
                "terms": data.get("terms", ""),
            }
        )
        context: dict[str, Any] = {
            "request": request,
            "errors": {},
            "oauth_providers": [],
            "simulated": simulated,
            "form": form,
            "terms_version": current.version,
            "invitation": None,
            "oauth_pending": True,
            "form_action": SIGNUP_PATH,
            **ctx,
        }
        html = templates.get_template("signup.html").render(context)
        return HTMLResponse(html, status_code=status)

    @router.get("/signup", include_in_schema=False)
    async def signup_get(request: Request) -> Response:
        pending = oauth_pending(request)
        if pending is None:
            return expired(request)
        return await signup_form(request, pending, {})

    @router.post("/signup", include_in_schema=False)
    async def signup_post(request: Request) -> Response:
        pending = oauth_pending(request)
        if pending is None:
            return expired(request)
        raw = await request.form()
        data = {k: v for k, v in raw.items() if isinstance(v, str)}
        provider = str(pending.extra["provider"])
        async with db.session() as session:
            if await flows.user_by_identity(session, provider, pending.subject) is not None:
                # Linked meanwhile (another tab): sign in instead.
                return RedirectResponse(f"/account/oauth/{provider}/start", status_code=303)
        form = flows.SignupForm(
            name=data.get("name") or str(pending.extra.get("name") or ""),
            email=str(pending.extra["email"]),  # from the provider, never from the form
            password=None,
            mobile=data.get("mobile", ""),
            age_confirmed=data.get("age") == "yes",
            terms_accepted=data.get("terms") == "yes",
            terms_version=data.get("terms_version"),
            oauth_provider=provider,
            oauth_subject=pending.subject,
        )
        try:
            async with db.session() as session:
                signup = await flows.start_signup(session, otp, form, ip=client_ip(request))
        except flows.FormInvalid as exc:
            return await signup_form(request, pending, data, 400, errors=exc.errors)
        except (RateLimited, OtpError) as exc:
            status = 429 if isinstance(exc, RateLimited) else 400
            return await signup_form(request, pending, data, status, message=str(exc))
        response = RedirectResponse("/account/signup/verify", status_code=303)
        set_pending(response, Pending("signup", str(signup.id), signup.mobile_e164, {}))
        return response

    return router


class _FormView:
    """Lets the template read the form's values (the checkboxes as booleans)."""

    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name, "")
        return value == "yes" if name in ("age", "terms") else value
