"""Typed dependencies for the account pages (and any domain's pages that need a
signed-in person).

- `Otp`, `SignerDep`: the OTP provider and the cookie signer, from the app's runtime
  (`app.state.runtime`; a test may override `get_otp` / `get_signer`).
- `OptionalActor`: the `ks_session` cookie's user, or None. `CurrentActor`: the same,
  but a request without one is turned away with 401 JSON (for JSON endpoints).
  `sign_in_first(next_path)` makes the page flavour: 303 to /account/login?next=….
  `ManagerActor`: signed in (else sign in first) and a manager or admin (else a 403
  page). None of them lets a handler run for someone who may not.
- `AccountPage`: a `core.web.pages.Page` with what every account page shows (the
  OAuth buttons, the "simulated" banner, the dev inbox link).
- `CookieJar`: sets and clears our cookies (HttpOnly, SameSite=Lax, Secure on https).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from accounts.models import Role
from accounts.oauth import LABELS, enabled_providers
from accounts.otp import OtpProvider
from accounts.otp.decoy import DecoyVerify
from accounts.service import Actor
from accounts.sessions import (
    PENDING_COOKIE,
    PENDING_MAX_AGE_S,
    SESSION_COOKIE,
    Pending,
    Signer,
    check_session,
    pending_token,
    read_pending,
)
from core.web.deps import DatabaseDep, DbSession, SettingsDep, runtime_of
from core.web.pages import Page, templates_for
from core.web.routes import Refusal

TEMPLATES = templates_for(__file__)
LOGIN_PATH = "/account/login"


def get_otp(request: Request) -> OtpProvider:
    otp: OtpProvider = runtime_of(request).otp
    return otp


def get_signer(request: Request) -> Signer:
    signer: Signer = runtime_of(request).signer
    return signer


Otp = Annotated[OtpProvider, Depends(get_otp)]
SignerDep = Annotated[Signer, Depends(get_signer)]


def get_reset_decoy(db: DatabaseDep, otp: Otp) -> DecoyVerify:
    """What a password reset for an unknown email runs instead (accounts/otp/decoy.py)."""
    return DecoyVerify(db, mirror=otp)


ResetDecoy = Annotated[DecoyVerify, Depends(get_reset_decoy)]


# --- who is asking ----------------------------------------------------------------------


async def optional_actor(request: Request, session: DbSession, signer: SignerDep) -> Actor | None:
    check = await check_session(session, signer, request.cookies.get(SESSION_COOKIE))
    return Actor.of(check.user) if check.user is not None else None


OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


async def current_actor(actor: OptionalActor) -> Actor:
    if actor is None:
        raise HTTPException(401, "Sign in first.")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(next_path, safe='/')}", status_code=303)


def sign_in_first(next_path: str | None = None) -> Callable[..., Awaitable[Actor]]:
    """A dependency: the signed-in actor, or a redirect to sign in that comes back to
    `next_path` (the request's own path when None)."""

    async def signed_in(request: Request, actor: OptionalActor) -> Actor:
        if actor is None:
            raise Refusal(login_redirect(next_path or request.url.path))
        return actor

    return signed_in


# --- pages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthButton:
    name: str
    label: str


def account_page(request: Request, otp: Otp, settings: SettingsDep) -> Page:
    simulated = not otp.live
    return Page(
        TEMPLATES,
        request,
        {
            "errors": {},
            "oauth_providers": [OAuthButton(n, LABELS[n]) for n in enabled_providers(settings)],
            "simulated": simulated,
            # The dev inbox hands out second factors: only when every provider is simulated.
            "dev_inbox": simulated and bool(getattr(otp, "dev_inbox", False)),
        },
    )


AccountPage = Annotated[Page, Depends(account_page)]


async def manager_actor(
    actor: Annotated[Actor, Depends(sign_in_first("/account/team"))], page: AccountPage
) -> Actor:
    if actor.role not in (Role.MANAGER, Role.ADMIN):
        raise Refusal(
            page.message(
                403,
                "Managers only",
                "Only a manager can manage the team.",
                link="/chat",
                link_label="Back to chat",
            )
        )
    return actor


ManagerActor = Annotated[Actor, Depends(manager_actor)]


# --- cookies and the pending step -----------------------------------------------------


@dataclass(frozen=True)
class CookieJar:
    secure: bool

    def set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            secure=self.secure,
            samesite="lax",
            path="/",
        )


def cookie_jar(settings: SettingsDep) -> CookieJar:
    return CookieJar(secure=settings.public_base_url.startswith("https://"))


Cookies = Annotated[CookieJar, Depends(cookie_jar)]


def redirect_with_pending(
    path: str, cookies: CookieJar, signer: Signer, pending: Pending
) -> Response:
    """A 303 to `path` carrying the signed `ks_pending` cookie of `pending`."""
    response = RedirectResponse(path, status_code=303)
    cookies.set(response, PENDING_COOKIE, pending_token(signer, pending), PENDING_MAX_AGE_S)
    return response


def expired_step(page: Page) -> Response:
    return page.message(
        400,
        "This step has expired",
        "Codes and the steps around them last 10 minutes. Please start again.",
        link=LOGIN_PATH,
        link_label="Back to sign in",
    )


def pending_step(purpose: str) -> Callable[..., Pending]:
    """A dependency: the signed `ks_pending` cookie of `purpose`'s flow; anything
    else (missing, tampered, older than 10 minutes, another flow's) is the "this step
    has expired" page."""

    def pending(request: Request, signer: SignerDep, page: AccountPage) -> Pending:
        found = read_pending(signer, request.cookies.get(PENDING_COOKIE), purpose)
        if found is None:
            raise Refusal(expired_step(page))
        return found

    return pending
