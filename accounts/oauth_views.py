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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit, flows, ratelimit, terms
from accounts.deps import (
    LOGIN_PATH,
    AccountPage,
    CookieJar,
    Cookies,
    Otp,
    SignerDep,
    expired_step,
    redirect_with_pending,
)
from accounts.forms import FormView, OAuthSignupFields
from accounts.models import User, Workspace, WorkspaceStatus
from accounts.oauth import (
    CallbackRejected,
    Identity,
    NoEmail,
    OAuthFailed,
    authorize_redirect,
    build_oauth,
    client_for,
    failure_message,
    fetch_identity,
)
from accounts.otp import Flow, OtpError
from accounts.phones import signup_countries
from accounts.ratelimit import RateLimited
from accounts.service import get_user_by_email
from accounts.sessions import PENDING_COOKIE, Pending, Signer, read_pending
from core.web.deps import ClientIp, DbSession, SettingsDep, app_cached
from core.web.pages import Page
from core.web.routes import PageRoute, Refusal

log = logging.getLogger(__name__)

router = APIRouter(prefix="/account/oauth", route_class=PageRoute, include_in_schema=False)

SIGNUP_PATH = "/account/oauth/signup"
# signup.html posts to the password sign-up; the OAuth variant posts here instead.


def get_oauth(request: Request, settings: SettingsDep) -> Any:
    """The app's Authlib registry of the configured providers (made once)."""
    return app_cached(request, "oauth", lambda: build_oauth(settings))


OAuthClients = Annotated[Any, Depends(get_oauth)]


def configured_provider(provider: str, oauth: OAuthClients, page: AccountPage) -> str:
    """The `{provider}` of the path when it is configured; else a 404 page."""
    if client_for(oauth, provider) is None:
        raise Refusal(
            page.message(
                404,
                "Not found",
                "This sign-in option is not available.",
                link=LOGIN_PATH,
                link_label="Back to sign in",
            )
        )
    return provider


Provider = Annotated[str, Depends(configured_provider)]


def failed(page: Page, provider: str, status: int = 400) -> HTMLResponse:
    return page.message(
        status,
        "Sign-in not completed",
        failure_message(provider),
        link=LOGIN_PATH,
        link_label="Back to sign in",
    )


def login_refused(page: Page, status: int, message: str) -> HTMLResponse:
    return page("login.html", status, email="", next="/chat", message=message, oauth_providers=[])


# --- start and callback ----------------------------------------------------------------


@router.get("/{provider}/start")
async def start(
    request: Request,
    provider: Provider,
    oauth: OAuthClients,
    settings: SettingsDep,
    page: AccountPage,
) -> Response:
    redirect_uri = f"{settings.public_base_url.rstrip('/')}/account/oauth/{provider}/callback"
    try:
        response: Response = await authorize_redirect(oauth, provider, request, redirect_uri)
    except OAuthFailed:
        return failed(page, provider, 502)
    return response


@router.get("/{provider}/callback")
async def callback(
    request: Request,
    provider: Provider,
    oauth: OAuthClients,
    session: DbSession,
    otp: Otp,
    signer: SignerDep,
    cookies: Cookies,
    page: AccountPage,
    ip: ClientIp,
) -> Response:
    try:
        identity = await fetch_identity(oauth, provider, request)
    except CallbackRejected as exc:
        await audit.record(
            session,
            audit.OAUTH_STATE_INVALID,
            actor_label=f"oauth:{provider}",
            target=provider,
            ip=ip,
            detail={"provider": provider, "reason": exc.reason},
        )
        await session.commit()
        return failed(page, provider, 400)
    except OAuthFailed:
        return failed(page, provider, 400)
    user, link = await known_user(session, provider, identity)
    if user is not None:
        return await send_login_code(
            session,
            otp,
            signer,
            cookies,
            page,
            user,
            provider,
            link_subject=identity.subject if link else None,
            ip=ip,
        )
    if identity.email is None:
        return page.message(
            400,
            "An email address is needed",
            str(NoEmail(provider)),
            link="/account/signup",
            link_label="Sign up with email",
        )
    # Someone new: the sign-up form, with what the provider told us.
    extra = {"provider": provider, "email": identity.email, "name": identity.name}
    pending = Pending("oauth", identity.subject, None, extra)
    return redirect_with_pending(SIGNUP_PATH, cookies, signer, pending)


async def known_user(
    session: AsyncSession, provider: str, identity: Identity
) -> tuple[User | None, bool]:
    """The user this identity signs in, and whether it still has to be linked (the
    provider-verified email matched a user that has no link to it yet)."""
    user = await flows.user_by_identity(session, provider, identity.subject)
    if user is None and identity.email is not None and identity.email_verified:
        user = await get_user_by_email(session, identity.email)
        return user, user is not None
    return user, False


def can_sign_in(user: User, workspace: Workspace | None) -> bool:
    return (
        user.status == "active"
        and workspace is not None
        and workspace.status == WorkspaceStatus.ACTIVE.value
        and user.mobile_e164 is not None
        and user.mobile_verified_at is not None
    )


async def send_login_code(
    session: AsyncSession,
    otp: Otp,
    signer: Signer,
    cookies: CookieJar,
    page: Page,
    user: User,
    provider: str,
    *,
    link_subject: str | None,
    ip: str | None,
) -> Response:
    """As after a right password: a code to the verified mobile, then the code page."""
    try:
        await ratelimit.allow(
            session,
            [(ratelimit.LOGIN_PER_IP, ip or "?"), (ratelimit.LOGIN_PER_EMAIL, user.email)],
        )
    except RateLimited as exc:
        return login_refused(page, 429, str(exc))
    workspace = await session.get(Workspace, user.workspace_id)
    if not can_sign_in(user, workspace) or user.mobile_e164 is None:
        await audit.record(
            session,
            audit.SIGNIN_FAILED,
            actor_id=user.id,
            actor_label=user.email,
            workspace_id=user.workspace_id,
            ip=ip,
            detail={"step": "oauth", "provider": provider},
        )
        await session.commit()
        return login_refused(page, 401, failure_message(provider))
    try:
        await otp.send(user.mobile_e164, flow=Flow.LOGIN)
    except OtpError as exc:
        return login_refused(page, 503, str(exc))
    extra: dict[str, Any] = {"next": "/chat", "method": provider}
    if link_subject is not None:
        extra.update({"link": provider, "sub": link_subject})
    pending = Pending("login", str(user.id), user.mobile_e164, extra)
    return redirect_with_pending("/account/login/code", cookies, signer, pending)


# --- sign-up for someone new -----------------------------------------------------------


def oauth_pending(
    request: Request, signer: SignerDep, oauth: OAuthClients, page: AccountPage
) -> Pending:
    """The signed cookie the callback left for someone new; else "expired"."""
    pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "oauth")
    if (
        pending is None
        or not isinstance(pending.extra.get("email"), str)
        or client_for(oauth, str(pending.extra.get("provider"))) is None
    ):
        raise Refusal(expired_step(page))
    return pending


OAuthStep = Annotated[Pending, Depends(oauth_pending)]


async def signup_form(
    page: Page,
    session: AsyncSession,
    pending: Pending,
    shown: dict[str, Any],
    status: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    current = await terms.current(session)
    form = FormView(
        {
            "name": shown.get("name", str(pending.extra.get("name") or "")),
            "email": str(pending.extra["email"]),
            "mobile": shown.get("mobile", ""),
            "country": shown.get("country", ""),
            "age": shown.get("age", ""),
            "terms": shown.get("terms", ""),
        }
    )
    return page(
        "signup.html",
        status,
        **signup_countries(shown.get("country"), page.request.headers.get("accept-language")),
        oauth_providers=[],
        form=form,
        terms_version=current.version,
        invitation=None,
        oauth_pending=True,
        form_action=SIGNUP_PATH,
        **ctx,
    )


@router.get("/signup")
async def signup_get(pending: OAuthStep, session: DbSession, page: AccountPage) -> Response:
    return await signup_form(page, session, pending, {})


@router.post("/signup")
async def signup_post(
    pending: OAuthStep,
    fields: Annotated[OAuthSignupFields, Form()],
    session: DbSession,
    otp: Otp,
    signer: SignerDep,
    cookies: Cookies,
    page: AccountPage,
    ip: ClientIp,
) -> Response:
    provider = str(pending.extra["provider"])
    if await flows.user_by_identity(session, provider, pending.subject) is not None:
        # Linked meanwhile (another tab): sign in instead.
        return RedirectResponse(f"/account/oauth/{provider}/start", status_code=303)
    form = flows.SignupForm(
        name=fields.name or str(pending.extra.get("name") or ""),
        email=str(pending.extra["email"]),  # from the provider, never from the form
        password=None,
        mobile=fields.mobile,
        country=fields.country,
        age_confirmed=fields.age == "yes",
        terms_accepted=fields.terms == "yes",
        terms_version=fields.terms_version,
        oauth_provider=provider,
        oauth_subject=pending.subject,
    )
    try:
        signup = await flows.start_signup(session, otp, form, ip=ip)
    except flows.FormInvalid as exc:
        await session.rollback()
        return await signup_form(page, session, pending, fields.shown(), 400, errors=exc.errors)
    except (RateLimited, OtpError) as exc:
        await session.rollback()
        status = 429 if isinstance(exc, RateLimited) else 400
        return await signup_form(page, session, pending, fields.shown(), status, message=str(exc))
    pending_code = Pending("signup", str(signup.id), signup.mobile_e164, {})
    return redirect_with_pending("/account/signup/verify", cookies, signer, pending_code)
