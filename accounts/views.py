"""Account pages: sign-up, login with its second factor, password reset, terms, the
team, and (simulated mode only) the dev inbox. Server-rendered forms; every POST is
rate-limited in the services (cross-site POSTs never get here: chat_app/security.py)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask

from accounts import flows, teams, terms
from accounts.models import Role, Workspace
from accounts.otp import Flow, OtpError, OtpProvider
from accounts.otp.decoy import DecoyVerify
from accounts.phones import mask
from accounts.ratelimit import RateLimited
from accounts.service import Actor
from accounts.sessions import (
    PENDING_COOKIE,
    SESSION_COOKIE,
    Pending,
    Signer,
    check_session,
    end_session,
    pending_token,
    read_pending,
    start_session,
)
from core.db import Database
from core.errors import KloseError
from core.templates import TEMPLATES_DIR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OAuthButton:
    name: str
    label: str


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def safe_next(value: str | None) -> str:
    """Only local paths: never redirect off-site after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/chat"


def build_router(
    db: Database,
    otp: OtpProvider,
    signer: Signer,
    *,
    secure_cookies: bool,
    oauth_buttons: list[OAuthButton] | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/account")
    templates = Jinja2Templates(
        directory=[str(Path(__file__).with_name("templates")), str(TEMPLATES_DIR)]
    )
    simulated = not otp.live
    # The dev inbox hands out second factors: only when every provider is simulated.
    dev_inbox_on = simulated and bool(getattr(otp, "dev_inbox", False))
    # What a password reset for an unknown email runs instead (accounts/otp/decoy.py).
    reset_decoy = DecoyVerify(db, mirror=otp)
    buttons = oauth_buttons or []

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("errors", {})
        ctx.setdefault("oauth_providers", buttons)
        ctx.setdefault("simulated", simulated)
        ctx.setdefault("dev_inbox", dev_inbox_on)
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, secure=secure_cookies,
            samesite="lax", path="/",
        )  # fmt: skip

    async def form_of(request: Request) -> dict[str, str]:
        data = await request.form()
        return {k: v for k, v in data.items() if isinstance(v, str)}

    # --- sign-up -------------------------------------------------------------------

    async def signup_page(
        request: Request, form: dict[str, Any], status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        async with db.session() as session:
            current = await terms.current(session)
            token = form.get("invite") or request.query_params.get("invite")
            invitation = await teams.find_invitation(session, token) if token else None
            ws = await session.get(Workspace, invitation.workspace_id) if invitation else None
        if invitation is not None:
            form = {**form, "email": invitation.email, "mobile": invitation.mobile_e164}
        return page(
            request, "signup.html", status, form=_FormView(form), terms_version=current.version,
            invitation=invitation, invite_token=token,
            invitation_workspace=ws.name if ws else None, **ctx,
        )  # fmt: skip

    @router.get("/signup", include_in_schema=False)
    async def signup_get(request: Request) -> Response:
        token = request.query_params.get("invite")
        if token:
            async with db.session() as session:
                if await teams.find_invitation(session, token) is None:
                    return page(
                        request, "message.html", 404, heading="Invitation not valid",
                        message="This invitation has expired, was used, or was withdrawn. "
                        "Ask for a new one.", link="/account/login", link_label="Sign in",
                    )  # fmt: skip
        return await signup_page(request, {})

    @router.post("/signup", include_in_schema=False)
    async def signup_post(request: Request) -> Response:
        data = await form_of(request)
        form = flows.SignupForm(
            name=data.get("name", ""),
            email=data.get("email", ""),
            password=data.get("password", ""),
            mobile=data.get("mobile", ""),
            age_confirmed=data.get("age") == "yes",
            terms_accepted=data.get("terms") == "yes",
            terms_version=data.get("terms_version"),
            invitation_token=data.get("invite") or None,
        )
        try:
            async with db.session() as session:
                signup = await flows.start_signup(session, otp, form, ip=client_ip(request))
        except flows.FormInvalid as exc:
            return await signup_page(request, data, 400, errors=exc.errors)
        except (RateLimited, OtpError) as exc:
            status = 429 if isinstance(exc, RateLimited) else 400
            return await signup_page(request, data, status, message=str(exc))
        response = RedirectResponse("/account/signup/verify", status_code=303)
        pending = Pending("signup", str(signup.id), signup.mobile_e164, {})
        set_cookie(response, PENDING_COOKIE, pending_token(signer, pending), 600)
        return response

    def code_page(
        request: Request, pending: Pending, *, purpose: str, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        headings = {
            "signup": "Confirm your mobile",
            "login": "Enter your sign-in code",
            "reset": "Choose a new password",
        }
        # A reset never names the number: it would say that the email has an account.
        masked = mask(pending.to) if pending.to and purpose != "reset" else None
        return page(
            request, "code.html", status, heading=headings[purpose],
            masked=masked, action=f"/account/{purpose}/verify"
            if purpose != "login" else "/account/login/code",
            resend_action=f"/account/{purpose}/resend", new_password=purpose == "reset", **ctx,
        )  # fmt: skip

    def expired(request: Request) -> HTMLResponse:
        return page(
            request, "message.html", 400, heading="This step has expired",
            message="Codes and the steps around them last 10 minutes. Please start again.",
            link="/account/login", link_label="Back to sign in",
        )  # fmt: skip

    @router.get("/signup/verify", include_in_schema=False)
    async def signup_verify_get(request: Request) -> Response:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "signup")
        if pending is None:
            return expired(request)
        return code_page(request, pending, purpose="signup")

    async def finish_login(
        request: Request, user_id: uuid.UUID, method: str, next_path: str
    ) -> Response:
        async with db.session() as session:
            from accounts.models import User

            user = await session.get(User, user_id)
            assert user is not None
            token = await start_session(
                session, signer, user, method=method, ip=client_ip(request),
                user_agent=request.headers.get("user-agent"),
            )  # fmt: skip
            await session.commit()
        response = RedirectResponse(next_path, status_code=303)
        set_cookie(response, SESSION_COOKIE, token, signer.session_days * 86400)
        response.delete_cookie(PENDING_COOKIE, path="/")
        return response

    @router.post("/signup/verify", include_in_schema=False)
    async def signup_verify_post(request: Request) -> Response:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "signup")
        if pending is None:
            return expired(request)
        code = (await form_of(request)).get("code", "")
        try:
            async with db.session() as session:
                user = await flows.complete_signup(
                    session, otp, uuid.UUID(pending.subject), code, ip=client_ip(request),
                    user_agent=request.headers.get("user-agent"),
                )  # fmt: skip
        except flows.FlowExpired:
            return expired(request)
        except (flows.CodeRejected, RateLimited) as exc:
            return code_page(request, pending, purpose="signup", status=400, message=str(exc))
        except KloseError as exc:
            return page(
                request, "message.html", 400, heading="Sign-up not completed",
                message=str(exc), link="/account/login", link_label="Sign in",
            )  # fmt: skip
        return await finish_login(request, user.id, "signup", "/chat")

    async def resend(request: Request, purpose: str) -> Response:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), purpose)
        if pending is None or not pending.to:
            return expired(request)
        flow = Flow.SIGNUP if purpose == "signup" else Flow.LOGIN
        try:
            async with db.session() as session:
                from accounts import ratelimit

                ip = client_ip(request)
                await ratelimit.allow(
                    session, [(ratelimit.CODE_PER_IP, ip or "?"),
                              (ratelimit.code_per_requester(flow),
                               ratelimit.requester(pending.to, ip))],
                )  # fmt: skip
            await otp.send(pending.to, flow=flow)
        except (OtpError, RateLimited) as exc:
            return code_page(request, pending, purpose=purpose, status=429, message=str(exc))
        return code_page(request, pending, purpose=purpose, notice="We sent the code again.")

    @router.post("/signup/resend", include_in_schema=False)
    async def signup_resend(request: Request) -> Response:
        return await resend(request, "signup")

    # --- login ---------------------------------------------------------------------

    @router.get("/login", include_in_schema=False)
    async def login_get(request: Request) -> Response:
        notice = {
            "signed-out": "You are signed out.",
            "reset": "Your password was changed: sign in with the new one.",
        }.get(request.query_params.get("status", ""))
        return page(
            request, "login.html", email="", next=safe_next(request.query_params.get("next")),
            notice=notice,
        )  # fmt: skip

    @router.post("/login", include_in_schema=False)
    async def login_post(request: Request) -> Response:
        data = await form_of(request)
        email, next_path = data.get("email", ""), safe_next(data.get("next"))
        try:
            async with db.session() as session:
                user = await flows.password_step(
                    session, otp, email, data.get("password", ""), ip=client_ip(request)
                )
        except RateLimited as exc:
            return page(request, "login.html", 429, email=email, next=next_path, message=str(exc))
        except OtpError as exc:
            return page(request, "login.html", 503, email=email, next=next_path, message=str(exc))
        except flows.AccountSuspended as exc:
            return page(request, "login.html", 403, email=email, next=next_path, message=str(exc))
        except KloseError as exc:
            return page(request, "login.html", 401, email=email, next=next_path, message=str(exc))
        response = RedirectResponse("/account/login/code", status_code=303)
        pending = Pending("login", str(user.id), user.mobile_e164, {"next": next_path})
        set_cookie(response, PENDING_COOKIE, pending_token(signer, pending), 600)
        return response

    @router.get("/login/code", include_in_schema=False)
    async def login_code_get(request: Request) -> Response:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "login")
        if pending is None:
            return expired(request)
        return code_page(request, pending, purpose="login")

    @router.post("/login/code", include_in_schema=False)
    async def login_code_post(request: Request) -> Response:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "login")
        if pending is None:
            return expired(request)
        code = (await form_of(request)).get("code", "")
        try:
            async with db.session() as session:
                user = await flows.code_step(
                    session, otp, uuid.UUID(pending.subject), code, ip=client_ip(request)
                )
                if pending.extra.get("link"):
                    # A Google/Meta sign-in matched this user by email: link it now,
                    # only after the code checked.
                    from accounts.oauth import link_identity

                    link, sub = str(pending.extra["link"]), str(pending.extra.get("sub") or "")
                    await link_identity(session, user, link, sub)
                await session.commit()
        except flows.FlowExpired:
            return expired(request)
        except (flows.CodeRejected, RateLimited) as exc:
            return code_page(request, pending, purpose="login", status=400, message=str(exc))
        except KloseError as exc:
            status = 403 if isinstance(exc, flows.AccountSuspended) else 401
            return page(request, "login.html", status, email="", next="/chat", message=str(exc))
        return await finish_login(
            request, user.id, str(pending.extra.get("method") or "password"),
            safe_next(str(pending.extra.get("next") or "")),
        )  # fmt: skip

    @router.post("/login/resend", include_in_schema=False)
    async def login_resend(request: Request) -> Response:
        return await resend(request, "login")

    @router.get("/logout", include_in_schema=False)
    async def logout_get(request: Request) -> Response:
        return page(
            request, "message.html", heading="Sign out?",
            message="Use the button below to sign out of Klosesales on this browser.",
            link=None, logout=True,
        )  # fmt: skip

    @router.post("/logout", include_in_schema=False)
    async def logout_post(request: Request) -> Response:
        async with db.session() as session:
            check = await check_session(
                session, signer, request.cookies.get(SESSION_COOKIE), touch=False
            )
            if check.session_id is not None:
                await end_session(session, check.session_id)
                await session.commit()
        response = RedirectResponse("/account/login?status=signed-out", status_code=303)
        for name in (SESSION_COOKIE, PENDING_COOKIE, "access_token"):
            response.delete_cookie(name, path="/")
        return response

    # --- password reset ------------------------------------------------------------

    @router.get("/reset", include_in_schema=False)
    async def reset_get(request: Request) -> Response:
        return page(request, "reset.html")

    async def reset_started(request: Request, email: str) -> Response | flows.Delivery:
        """Count a reset request and get its delivery; a refusal is the reset page."""
        try:
            async with db.session() as session:
                return await flows.start_reset(
                    session, otp, reset_decoy, email, ip=client_ip(request)
                )
        except RateLimited as exc:
            return page(request, "reset.html", 429, message=str(exc))

    @router.post("/reset", include_in_schema=False)
    async def reset_post(request: Request) -> Response:
        """The same redirect and cookie whether or not the email has an account: the
        cookie names the email only (never the number), and the code is sent after
        the response, to the account's mobile or to the email's decoy."""
        email = (await form_of(request)).get("email", "").strip().lower()[:320]
        deliver = await reset_started(request, email)
        if isinstance(deliver, Response):
            return deliver
        response = RedirectResponse(
            "/account/reset/verify", status_code=303, background=BackgroundTask(deliver)
        )
        pending = Pending("reset", email, None, {})
        set_cookie(response, PENDING_COOKIE, pending_token(signer, pending), 600)
        return response

    reset_notice = "If an account exists for that email, we texted a code to its mobile."

    @router.get("/reset/verify", include_in_schema=False)
    async def reset_verify_get(request: Request) -> Response:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "reset")
        if pending is None:
            return expired(request)
        return code_page(request, pending, purpose="reset", notice=reset_notice)

    @router.post("/reset/verify", include_in_schema=False)
    async def reset_verify_post(request: Request) -> Response:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "reset")
        if pending is None:
            return expired(request)
        data = await form_of(request)
        try:
            async with db.session() as session:
                await flows.finish_reset(
                    session, otp, reset_decoy, pending.subject, data.get("code", ""),
                    data.get("password", ""), ip=client_ip(request),
                )  # fmt: skip
        except flows.FormInvalid as exc:
            return code_page(
                request, pending, purpose="reset", status=400, message=" ".join(exc.errors.values())
            )
        except (flows.CodeRejected, RateLimited) as exc:
            return code_page(request, pending, purpose="reset", status=400, message=str(exc))
        response = RedirectResponse("/account/login?status=reset", status_code=303)
        response.delete_cookie(PENDING_COOKIE, path="/")
        return response

    @router.post("/reset/resend", include_in_schema=False)
    async def reset_resend(request: Request) -> Response:
        pending = read_pending(signer, request.cookies.get(PENDING_COOKIE), "reset")
        if pending is None:
            return expired(request)
        deliver = await reset_started(request, pending.subject)
        if isinstance(deliver, Response):
            return deliver
        response = code_page(request, pending, purpose="reset", notice=reset_notice)
        response.background = BackgroundTask(deliver)
        return response

    # --- terms ---------------------------------------------------------------------

    async def signed_in(request: Request) -> Actor | None:
        async with db.session() as session:
            check = await check_session(session, signer, request.cookies.get(SESSION_COOKIE))
            return Actor.of(check.user) if check.user is not None else None

    @router.get("/terms", include_in_schema=False)
    async def terms_get(request: Request) -> Response:
        actor = await signed_in(request)
        async with db.session() as session:
            current = await terms.current(session)
            upcoming = await terms.upcoming(session)
            must_accept = (
                actor is not None
                and await terms.needs_acceptance(session, actor.user_id) is not None
            )
        return page(
            request, "terms.html", current=current, current_html=terms.render_html(current),
            upcoming=upcoming, upcoming_html=terms.render_html(upcoming) if upcoming else "",
            accept=must_accept,
        )  # fmt: skip

    @router.get("/terms/accept", include_in_schema=False)
    async def terms_accept_get(request: Request) -> Response:
        return await terms_get(request)

    @router.post("/terms/accept", include_in_schema=False)
    async def terms_accept_post(request: Request) -> Response:
        actor = await signed_in(request)
        if actor is None:
            return RedirectResponse("/account/login?next=/account/terms/accept", status_code=303)
        version = (await form_of(request)).get("version")
        async with db.session() as session:
            current = await terms.current(session)
            if version != current.version:
                return RedirectResponse("/account/terms/accept", status_code=303)
            await terms.accept(
                session, user_id=actor.user_id, terms_version_id=current.id,
                ip=client_ip(request), user_agent=request.headers.get("user-agent"),
            )  # fmt: skip
            await session.commit()
        return RedirectResponse("/chat", status_code=303)

    # --- team ----------------------------------------------------------------------

    async def team_page(request: Request, actor: Actor, status: int = 200, **ctx: Any) -> Response:
        async with db.session() as session:
            ws = await session.get(Workspace, actor.workspace_id)
            rows = await teams.members(session, actor)
            invitations = await teams.pending_invitations(session, actor)
        return page(
            request, "team.html", status, workspace=ws.name if ws else "", members=rows,
            invitations=invitations, me=actor.user_id, **ctx,
        )  # fmt: skip

    async def manager(request: Request) -> Actor | Response:
        actor = await signed_in(request)
        if actor is None:
            return RedirectResponse("/account/login?next=/account/team", status_code=303)
        if actor.role not in (Role.MANAGER, Role.ADMIN):
            return page(
                request, "message.html", 403, heading="Managers only",
                message="Only a manager can manage the team.", link="/chat",
                link_label="Back to chat",
            )  # fmt: skip
        return actor

    @router.get("/team", include_in_schema=False)
    async def team_get(request: Request) -> Response:
        actor = await manager(request)
        return actor if isinstance(actor, Response) else await team_page(request, actor)

    @router.post("/team/invite", include_in_schema=False)
    async def team_invite(request: Request) -> Response:
        actor = await manager(request)
        if isinstance(actor, Response):
            return actor
        data = await form_of(request)
        try:
            async with db.session() as session:
                made = await teams.invite(
                    session, actor, email=data.get("email", ""), mobile=data.get("mobile", ""),
                    role=Role(data.get("role", "rep")) if data.get("role") in ("rep", "manager")
                    else Role.REP, ip=client_ip(request),
                )  # fmt: skip
                await session.commit()
        except KloseError as exc:
            return await team_page(request, actor, 400, message=str(exc))
        link = made.link(str(request.base_url))
        return await team_page(
            request, actor, notice=f"Invitation created for {made.invitation.email}.", link=link
        )

    @router.post("/team/{user_id}/role", include_in_schema=False)
    async def team_role(request: Request, user_id: uuid.UUID) -> Response:
        actor = await manager(request)
        if isinstance(actor, Response):
            return actor
        role = (await form_of(request)).get("role", "")
        try:
            async with db.session() as session:
                if role not in ("rep", "manager"):
                    raise KloseError("A member is a rep or a manager.")
                user = await teams.change_role(
                    session, actor, user_id, Role(role), ip=client_ip(request)
                )
                await session.commit()
        except KloseError as exc:
            return await team_page(request, actor, 400, message=str(exc))
        return await team_page(request, actor, notice=f"{user.name} is now a {user.role}.")

    @router.post("/team/{user_id}/remove", include_in_schema=False)
    async def team_remove(request: Request, user_id: uuid.UUID) -> Response:
        actor = await manager(request)
        if isinstance(actor, Response):
            return actor
        try:
            async with db.session() as session:
                user = await teams.remove_member(session, actor, user_id, ip=client_ip(request))
                await session.commit()
        except KloseError as exc:
            return await team_page(request, actor, 400, message=str(exc))
        return await team_page(request, actor, notice=f"{user.name} was removed.")

    @router.get("/invite/{token}", include_in_schema=False)
    async def invite_link(request: Request, token: str) -> Response:
        return RedirectResponse(f"/account/signup?invite={token}", status_code=303)

    # --- simulated Verify's inbox ----------------------------------------------------

    @router.get("/dev-inbox", include_in_schema=False)
    async def dev_inbox(request: Request) -> Response:
        """Simulated codes, for development: it bypasses the second factor, so it
        exists only when every provider is simulated (accounts/otp/factory.py)."""
        inbox = getattr(otp, "inbox", None)
        if not dev_inbox_on or inbox is None:
            return HTMLResponse("Not found", status_code=404)
        return page(request, "dev_inbox.html", messages=await inbox(limit=30))

    return router


class _FormView:
    """Lets templates read submitted values without echoing the password back."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = {k: v for k, v in data.items() if k != "password"}

    def __getattr__(self, name: str) -> Any:
        value = self._data.get(name, "")
        return value == "yes" if name in ("age", "terms") else value
