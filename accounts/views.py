"""Account pages: sign-up, login with its second factor, password reset, terms, the
team, and (simulated mode only) the dev inbox. Server-rendered forms, each posted as
a pydantic model (accounts/forms.py); the dependencies in accounts/deps.py say who is
asking and turn away whoever may not. Every POST is rate-limited in the services
(cross-site POSTs never get here: chat_app/security.py)."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from accounts import flows, ratelimit, teams, terms
from accounts.deps import (
    LOGIN_PATH,
    AccountPage,
    CookieJar,
    Cookies,
    ManagerActor,
    OptionalActor,
    Otp,
    ResetDecoy,
    SignerDep,
    expired_step,
    pending_step,
    redirect_with_pending,
    sign_in_first,
)
from accounts.forms import (
    CodeFields,
    FormView,
    InviteFields,
    LoginFields,
    NewPasswordFields,
    ResetFields,
    RoleFields,
    SignupFields,
    TermsFields,
    TimeZoneFields,
)
from accounts.models import Role, User, Workspace
from accounts.otp import Flow, OtpError
from accounts.phones import country_names, mask, signup_countries
from accounts.ratelimit import RateLimited
from accounts.service import Actor, set_time_zone
from accounts.sessions import (
    PENDING_COOKIE,
    SESSION_COOKIE,
    Pending,
    Signer,
    check_session,
    end_session,
    start_session,
)
from core.errors import KloseError
from core.timezones import COMMON_ZONES, describe_zone, user_zone
from core.web.deps import ClientIp, DbSession, UserAgent
from core.web.pages import Page
from core.web.routes import PageRoute

log = logging.getLogger(__name__)

router = APIRouter(prefix="/account", route_class=PageRoute, include_in_schema=False)

RESET_NOTICE = "If an account exists for that email, we texted a code to its mobile."
SignupStep = Annotated[Pending, Depends(pending_step("signup"))]
LoginStep = Annotated[Pending, Depends(pending_step("login"))]
ResetStep = Annotated[Pending, Depends(pending_step("reset"))]


def safe_next(value: str | None) -> str:
    """Only local paths: never redirect off-site after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/chat"


def code_page(
    page: Page, pending: Pending, *, purpose: str, status: int = 200, **ctx: Any
) -> HTMLResponse:
    """The "enter the code" page of `purpose` (signup, login or reset)."""
    headings = {
        "signup": "Confirm your mobile",
        "login": "Enter your sign-in code",
        "reset": "Choose a new password",
    }
    # A reset never names the number: it would say that the email has an account.
    masked = mask(pending.to) if pending.to and purpose != "reset" else None
    action = "/account/login/code" if purpose == "login" else f"/account/{purpose}/verify"
    return page(
        "code.html",
        status,
        heading=headings[purpose],
        masked=masked,
        action=action,
        resend_action=f"/account/{purpose}/resend",
        new_password=purpose == "reset",
        **ctx,
    )


async def finish_login(
    session: AsyncSession,
    signer: Signer,
    cookies: CookieJar,
    user_id: uuid.UUID,
    *,
    method: str,
    next_path: str,
    ip: str | None,
    user_agent: str | None,
) -> Response:
    """Start the session (both factors passed) and send the browser on."""
    user = await session.get(User, user_id)
    assert user is not None
    token = await start_session(session, signer, user, method=method, ip=ip, user_agent=user_agent)
    await session.commit()
    response = RedirectResponse(next_path, status_code=303)
    cookies.set(response, SESSION_COOKIE, token, signer.session_days * 86400)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


async def resend_code(
    session: AsyncSession, otp: Otp, page: Page, pending: Pending, purpose: str, ip: str | None
) -> Response:
    """Send `purpose`'s code again (sign-up or login), within the code limits."""
    if not pending.to:
        return expired_step(page)
    flow = Flow.SIGNUP if purpose == "signup" else Flow.LOGIN
    try:
        await ratelimit.allow(
            session,
            [
                (ratelimit.CODE_PER_IP, ip or "?"),
                (ratelimit.code_per_requester(flow), ratelimit.requester(pending.to, ip)),
            ],
        )
        await otp.send(pending.to, flow=flow)
    except (OtpError, RateLimited) as exc:
        return code_page(page, pending, purpose=purpose, status=429, message=str(exc))
    return code_page(page, pending, purpose=purpose, notice="We sent the code again.")


# --- sign-up ---------------------------------------------------------------------------


async def signup_page(
    page: Page,
    session: AsyncSession,
    shown: dict[str, Any],
    token: str | None,
    status: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    """The sign-up form; with an invitation, its email and mobile are the invitation's."""
    current = await terms.current(session)
    invitation = await teams.find_invitation(session, token) if token else None
    ws = await session.get(Workspace, invitation.workspace_id) if invitation else None
    if invitation is not None:
        shown = {**shown, "email": invitation.email, "mobile": invitation.mobile_e164}
    languages = page.request.headers.get("accept-language")
    return page(
        "signup.html",
        status,
        **signup_countries(shown.get("country"), languages),
        form=FormView(shown),
        terms_version=current.version,
        invitation=invitation,
        invite_token=token,
        invitation_workspace=ws.name if ws else None,
        **ctx,
    )


@router.get("/signup")
async def signup_get(
    session: DbSession, page: AccountPage, invite: Annotated[str | None, Query()] = None
) -> Response:
    if invite and await teams.find_invitation(session, invite) is None:
        return page.message(
            404,
            "Invitation not valid",
            "This invitation has expired, was used, or was withdrawn. Ask for a new one.",
            link=LOGIN_PATH,
            link_label="Sign in",
        )
    return await signup_page(page, session, {}, invite)


@router.post("/signup")
async def signup_post(
    fields: Annotated[SignupFields, Form()],
    session: DbSession,
    otp: Otp,
    signer: SignerDep,
    cookies: Cookies,
    page: AccountPage,
    ip: ClientIp,
    invite: Annotated[str | None, Query()] = None,
) -> Response:
    form = flows.SignupForm(
        name=fields.name,
        email=fields.email,
        password=fields.password,
        mobile=fields.mobile,
        country=fields.country,
        age_confirmed=fields.age == "yes",
        terms_accepted=fields.terms == "yes",
        terms_version=fields.terms_version,
        invitation_token=fields.invite or None,
    )
    token = fields.invite or invite
    try:
        signup = await flows.start_signup(session, otp, form, ip=ip)
    except flows.FormInvalid as exc:
        await session.rollback()
        return await signup_page(page, session, fields.shown(), token, 400, errors=exc.errors)
    except (RateLimited, OtpError) as exc:
        await session.rollback()
        status = 429 if isinstance(exc, RateLimited) else 400
        return await signup_page(page, session, fields.shown(), token, status, message=str(exc))
    pending = Pending("signup", str(signup.id), signup.mobile_e164, {})
    return redirect_with_pending("/account/signup/verify", cookies, signer, pending)


@router.get("/signup/verify")
async def signup_verify_get(pending: SignupStep, page: AccountPage) -> Response:
    return code_page(page, pending, purpose="signup")


@router.post("/signup/verify")
async def signup_verify_post(
    pending: SignupStep,
    fields: Annotated[CodeFields, Form()],
    session: DbSession,
    otp: Otp,
    signer: SignerDep,
    cookies: Cookies,
    page: AccountPage,
    ip: ClientIp,
    user_agent: UserAgent,
) -> Response:
    try:
        user = await flows.complete_signup(
            session, otp, uuid.UUID(pending.subject), fields.code, ip=ip, user_agent=user_agent
        )
    except flows.FlowExpired:
        return expired_step(page)
    except (flows.CodeRejected, RateLimited) as exc:
        return code_page(page, pending, purpose="signup", status=400, message=str(exc))
    except KloseError as exc:
        return page.message(
            400, "Sign-up not completed", str(exc), link=LOGIN_PATH, link_label="Sign in"
        )
    return await finish_login(
        session,
        signer,
        cookies,
        user.id,
        method="signup",
        next_path="/chat",
        ip=ip,
        user_agent=user_agent,
    )


@router.post("/signup/resend")
async def signup_resend(
    pending: SignupStep, session: DbSession, otp: Otp, page: AccountPage, ip: ClientIp
) -> Response:
    return await resend_code(session, otp, page, pending, "signup", ip)


# --- login -----------------------------------------------------------------------------


@router.get("/login")
async def login_get(
    page: AccountPage,
    status: Annotated[str, Query()] = "",
    next_path: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    notice = {
        "signed-out": "You are signed out.",
        "reset": "Your password was changed: sign in with the new one.",
    }.get(status)
    return page("login.html", email="", next=safe_next(next_path), notice=notice)


def login_refusal_status(exc: KloseError) -> int:
    """429 too many attempts, 503 codes cannot be sent, 403 suspended, else 401."""
    if isinstance(exc, RateLimited):
        return 429
    if isinstance(exc, OtpError):
        return 503
    return 403 if isinstance(exc, flows.AccountSuspended) else 401


@router.post("/login")
async def login_post(
    fields: Annotated[LoginFields, Form()],
    session: DbSession,
    otp: Otp,
    signer: SignerDep,
    cookies: Cookies,
    page: AccountPage,
    ip: ClientIp,
) -> Response:
    next_path = safe_next(fields.next)
    try:
        user = await flows.password_step(session, otp, fields.email, fields.password, ip=ip)
    except KloseError as exc:
        return page(
            "login.html",
            login_refusal_status(exc),
            email=fields.email,
            next=next_path,
            message=str(exc),
        )
    pending = Pending("login", str(user.id), user.mobile_e164, {"next": next_path})
    return redirect_with_pending("/account/login/code", cookies, signer, pending)


@router.get("/login/code")
async def login_code_get(pending: LoginStep, page: AccountPage) -> Response:
    return code_page(page, pending, purpose="login")


async def second_factor(
    session: AsyncSession, otp: Otp, pending: Pending, code: str, ip: str | None
) -> User:
    """Check the login code; a Google/Meta sign-in that matched this user by email is
    linked to the user here, only after the code checked."""
    user = await flows.code_step(session, otp, uuid.UUID(pending.subject), code, ip=ip)
    if pending.extra.get("link"):
        from accounts.oauth import link_identity

        link, sub = str(pending.extra["link"]), str(pending.extra.get("sub") or "")
        await link_identity(session, user, link, sub)
    await session.commit()
    return user


@router.post("/login/code")
async def login_code_post(
    pending: LoginStep,
    fields: Annotated[CodeFields, Form()],
    session: DbSession,
    otp: Otp,
    signer: SignerDep,
    cookies: Cookies,
    page: AccountPage,
    ip: ClientIp,
    user_agent: UserAgent,
) -> Response:
    try:
        user = await second_factor(session, otp, pending, fields.code, ip)
    except flows.FlowExpired:
        return expired_step(page)
    except (flows.CodeRejected, RateLimited) as exc:
        return code_page(page, pending, purpose="login", status=400, message=str(exc))
    except KloseError as exc:
        status = 403 if isinstance(exc, flows.AccountSuspended) else 401
        return page("login.html", status, email="", next="/chat", message=str(exc))
    return await finish_login(
        session,
        signer,
        cookies,
        user.id,
        method=str(pending.extra.get("method") or "password"),
        next_path=safe_next(str(pending.extra.get("next") or "")),
        ip=ip,
        user_agent=user_agent,
    )


@router.post("/login/resend")
async def login_resend(
    pending: LoginStep, session: DbSession, otp: Otp, page: AccountPage, ip: ClientIp
) -> Response:
    return await resend_code(session, otp, page, pending, "login", ip)


@router.get("/logout")
async def logout_get(page: AccountPage) -> Response:
    return page.message(
        200,
        "Sign out?",
        "Use the button below to sign out of Klosesales on this browser.",
        logout=True,
    )


@router.post("/logout")
async def logout_post(request: Request, session: DbSession, signer: SignerDep) -> Response:
    check = await check_session(session, signer, request.cookies.get(SESSION_COOKIE), touch=False)
    if check.session_id is not None:
        await end_session(session, check.session_id)
        await session.commit()
    response = RedirectResponse("/account/login?status=signed-out", status_code=303)
    for name in (SESSION_COOKIE, PENDING_COOKIE, "access_token"):
        response.delete_cookie(name, path="/")
    return response


# --- password reset --------------------------------------------------------------------


@router.get("/reset")
async def reset_get(page: AccountPage) -> Response:
    return page("reset.html")


async def reset_delivery(
    session: AsyncSession, otp: Otp, decoy: ResetDecoy, email: str, ip: str | None
) -> flows.Delivery:
    """Count a reset request and get what sends its code (after the response)."""
    return await flows.start_reset(session, otp, decoy, email, ip=ip)


@router.post("/reset")
async def reset_post(
    fields: Annotated[ResetFields, Form()],
    session: DbSession,
    otp: Otp,
    decoy: ResetDecoy,
    signer: SignerDep,
    cookies: Cookies,
    page: AccountPage,
    ip: ClientIp,
) -> Response:
    """The same redirect and cookie whether or not the email has an account: the
    cookie names the email only (never the number), and the code is sent after the
    response, to the account's mobile or to the email's decoy."""
    email = fields.email.strip().lower()[:320]
    try:
        deliver = await reset_delivery(session, otp, decoy, email, ip)
    except RateLimited as exc:
        return page("reset.html", 429, message=str(exc))
    response = redirect_with_pending(
        "/account/reset/verify", cookies, signer, Pending("reset", email, None, {})
    )
    response.background = BackgroundTask(deliver)
    return response


@router.get("/reset/verify")
async def reset_verify_get(pending: ResetStep, page: AccountPage) -> Response:
    return code_page(page, pending, purpose="reset", notice=RESET_NOTICE)


@router.post("/reset/verify")
async def reset_verify_post(
    pending: ResetStep,
    fields: Annotated[NewPasswordFields, Form()],
    session: DbSession,
    otp: Otp,
    decoy: ResetDecoy,
    page: AccountPage,
    ip: ClientIp,
) -> Response:
    try:
        await flows.finish_reset(
            session, otp, decoy, pending.subject, fields.code, fields.password, ip=ip
        )
    except flows.FormInvalid as exc:
        message = " ".join(exc.errors.values())
        return code_page(page, pending, purpose="reset", status=400, message=message)
    except (flows.CodeRejected, RateLimited) as exc:
        return code_page(page, pending, purpose="reset", status=400, message=str(exc))
    response = RedirectResponse("/account/login?status=reset", status_code=303)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


@router.post("/reset/resend")
async def reset_resend(
    pending: ResetStep,
    session: DbSession,
    otp: Otp,
    decoy: ResetDecoy,
    page: AccountPage,
    ip: ClientIp,
) -> Response:
    try:
        deliver = await reset_delivery(session, otp, decoy, pending.subject, ip)
    except RateLimited as exc:
        return page("reset.html", 429, message=str(exc))
    response = code_page(page, pending, purpose="reset", notice=RESET_NOTICE)
    response.background = BackgroundTask(deliver)
    return response


# --- terms -----------------------------------------------------------------------------


@router.get("/terms")
@router.get("/terms/accept")
async def terms_get(session: DbSession, page: AccountPage, actor: OptionalActor) -> Response:
    current = await terms.current(session)
    upcoming = await terms.upcoming(session)
    must_accept = (
        actor is not None and await terms.needs_acceptance(session, actor.user_id) is not None
    )
    return page(
        "terms.html",
        current=current,
        current_html=terms.render_html(current),
        upcoming=upcoming,
        upcoming_html=terms.render_html(upcoming) if upcoming else "",
        accept=must_accept,
    )


@router.post("/terms/accept")
async def terms_accept_post(
    actor: Annotated[Actor, Depends(sign_in_first("/account/terms/accept"))],
    fields: Annotated[TermsFields, Form()],
    session: DbSession,
    ip: ClientIp,
    user_agent: UserAgent,
) -> Response:
    current = await terms.current(session)
    if fields.version != current.version:
        return RedirectResponse("/account/terms/accept", status_code=303)
    await terms.accept(
        session,
        user_id=actor.user_id,
        terms_version_id=current.id,
        ip=ip,
        user_agent=user_agent,
    )
    await session.commit()
    return RedirectResponse("/chat", status_code=303)


# --- the account page: who you are, and your own time zone ----------------------------

SignedIn = Annotated[Actor, Depends(sign_in_first("/account/settings"))]


async def account_page(
    page: Page, session: AsyncSession, actor: Actor, status: int = 200, **ctx: Any
) -> Response:
    user = await session.get(User, actor.user_id)
    zone = user_zone(user.time_zone if user else None, user.mobile_e164 if user else None)
    return page(
        "account.html",
        status,
        user=user,
        mobile=mask(user.mobile_e164) if user and user.mobile_e164 else "none",
        zone=zone,
        zone_text=describe_zone(zone),
        zone_names=COMMON_ZONES,
        **ctx,
    )


@router.get("/settings")
async def account_get(actor: SignedIn, session: DbSession, page: AccountPage) -> Response:
    return await account_page(page, session, actor)


@router.post("/settings/time-zone")
async def account_time_zone(
    actor: SignedIn,
    fields: Annotated[TimeZoneFields, Form()],
    session: DbSession,
    page: AccountPage,
) -> Response:
    try:
        zone = await set_time_zone(session, actor.user_id, fields.time_zone)
        await session.commit()
    except KloseError as exc:
        await session.rollback()
        return await account_page(page, session, actor, 400, message=str(exc))
    return await account_page(page, session, actor, notice=f"Your time zone is now {zone}.")


# --- team ------------------------------------------------------------------------------


async def team_page(
    page: Page, session: AsyncSession, actor: Actor, status: int = 200, **ctx: Any
) -> Response:
    ws = await session.get(Workspace, actor.workspace_id)
    rows = await teams.members(session, actor)
    invitations = await teams.pending_invitations(session, actor)
    return page(
        "team.html",
        status,
        workspace=ws.name if ws else "",
        members=rows,
        invitations=invitations,
        me=actor.user_id,
        home_country=country_names().get(actor.region, actor.region),
        **ctx,
    )


@router.get("/team")
async def team_get(actor: ManagerActor, session: DbSession, page: AccountPage) -> Response:
    return await team_page(page, session, actor)


@router.post("/team/invite")
async def team_invite(
    request: Request,
    actor: ManagerActor,
    fields: Annotated[InviteFields, Form()],
    session: DbSession,
    page: AccountPage,
    ip: ClientIp,
) -> Response:
    role = Role(fields.role) if fields.role in ("rep", "manager") else Role.REP
    try:
        made = await teams.invite(
            session, actor, email=fields.email, mobile=fields.mobile, role=role, ip=ip
        )
        await session.commit()
    except KloseError as exc:
        await session.rollback()
        return await team_page(page, session, actor, 400, message=str(exc))
    return await team_page(
        page,
        session,
        actor,
        notice=f"Invitation created for {made.invitation.email}.",
        link=made.link(str(request.base_url)),
    )


@router.post("/team/{user_id}/role")
async def team_role(
    user_id: uuid.UUID,
    actor: ManagerActor,
    fields: Annotated[RoleFields, Form()],
    session: DbSession,
    page: AccountPage,
    ip: ClientIp,
) -> Response:
    try:
        if fields.role not in ("rep", "manager"):
            raise KloseError("A member is a rep or a manager.")
        user = await teams.change_role(session, actor, user_id, Role(fields.role), ip=ip)
        await session.commit()
    except KloseError as exc:
        await session.rollback()
        return await team_page(page, session, actor, 400, message=str(exc))
    return await team_page(page, session, actor, notice=f"{user.name} is now a {user.role}.")


@router.post("/team/{user_id}/remove")
async def team_remove(
    user_id: uuid.UUID, actor: ManagerActor, session: DbSession, page: AccountPage, ip: ClientIp
) -> Response:
    try:
        user = await teams.remove_member(session, actor, user_id, ip=ip)
        await session.commit()
    except KloseError as exc:
        await session.rollback()
        return await team_page(page, session, actor, 400, message=str(exc))
    return await team_page(page, session, actor, notice=f"{user.name} was removed.")


@router.get("/invite/{token}")
async def invite_link(token: str) -> Response:
    return RedirectResponse(f"/account/signup?invite={token}", status_code=303)


# --- simulated Verify's inbox ----------------------------------------------------------


@router.get("/dev-inbox")
async def dev_inbox(otp: Otp, page: AccountPage) -> Response:
    """Simulated codes, for development: it bypasses the second factor, so it exists
    only when every provider is simulated (accounts/otp/factory.py)."""
    inbox = getattr(otp, "inbox", None)
    if not page.defaults["dev_inbox"] or inbox is None:
        return HTMLResponse("Not found", status_code=404)
    return page("dev_inbox.html", messages=await inbox(limit=30))
