"""Sign-up, login with a second factor, and password reset, as services.

Every flow ends in a code sent to a verified mobile through the OTP provider (Twilio
Verify, or the simulated one). Nothing here says whether an email is registered:
login failures are one message, a reset always "sends" (to the account's mobile if
there is one), and a sign-up for a taken email fails only after its code checked,
with a message that does not say why. Pages live in accounts/views.py.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import email_validator
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit, ratelimit, terms
from accounts.models import (
    Invitation,
    Role,
    SignupRequest,
    User,
    UserIdentity,
    Workspace,
    WorkspaceStatus,
)
from accounts.otp import OtpError, OtpProvider
from accounts.passwords import hash_password, strength_problem, verify_password
from accounts.phones import InvalidMobile, normalise_mobile
from accounts.service import get_user_by_email
from accounts.sessions import end_all_sessions
from core.errors import KloseError

log = logging.getLogger(__name__)

# `.test` addresses are how demo and test accounts are named (RFC 2606 reserves the
# name, so no real inbox is ever claimed); email_validator's documented opt-in.
if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")

SIGNUP_LIFETIME = timedelta(minutes=30)
NOT_POSSIBLE = (
    "We couldn't create an account with these details. If you already have an account, "
    "sign in or reset your password."
)
LOGIN_FAILED = "Wrong email or password."


class FormInvalid(KloseError):
    """Field → message, for a form to show beside each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


class CodeRejected(KloseError):
    pass


class FlowExpired(KloseError):
    def __init__(self) -> None:
        super().__init__("This step has expired. Please start again.")


def normalise_email_address(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise FormInvalid({"email": "Enter a valid email address."}) from None


@dataclass
class SignupForm:
    name: str
    email: str
    password: str | None
    mobile: str
    age_confirmed: bool
    terms_accepted: bool
    terms_version: str | None  # the version the form showed
    invitation_token: str | None = None
    oauth_provider: str | None = None
    oauth_subject: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


async def _invitation(session: AsyncSession, token: str | None) -> Invitation | None:
    if not token:
        return None
    from accounts.teams import find_invitation

    return await find_invitation(session, token)


async def start_signup(
    session: AsyncSession, otp: OtpProvider, form: SignupForm, *, ip: str | None
) -> SignupRequest:
    """Validate the form, then send a code to the mobile. Creates no user yet."""
    errors: dict[str, str] = {}
    name = " ".join(form.name.split())
    if not 1 <= len(name) <= 200:
        errors["name"] = "Enter your name."
    email = ""
    try:
        email = normalise_email_address(form.email)
    except FormInvalid as exc:
        errors.update(exc.errors)
    if form.oauth_provider is None:
        problem = strength_problem(form.password or "", user_inputs=[name, email])
        if problem:
            errors["password"] = problem
    invitation = await _invitation(session, form.invitation_token)
    if form.invitation_token and invitation is None:
        errors["invitation"] = "This invitation is no longer valid: ask for a new one."
    mobile = ""
    try:
        mobile = normalise_mobile(form.mobile)
    except InvalidMobile as exc:
        errors["mobile"] = str(exc)
    if invitation is not None and email and email != invitation.email:
        errors["email"] = "Use the email address the invitation was sent to."
    if not form.age_confirmed:
        errors["age"] = "Confirm that you are at least 18 and authorised to accept the terms."
    current = await terms.current(session)
    if not form.terms_accepted:
        errors["terms"] = "Accept the terms of service to continue."
    elif form.terms_version != current.version:
        errors["terms"] = "The terms have changed since this page opened: please review them."
    if errors:
        raise FormInvalid(errors)

    await ratelimit.allow(
        session, [(ratelimit.SIGNUP_PER_IP, ip or "?"), (ratelimit.SIGNUP_PER_NUMBER, mobile)]
    )
    now = datetime.now(UTC)
    request = SignupRequest(
        id=uuid.uuid4(),
        name=name,
        email=email,
        password_hash=hash_password(form.password) if form.password else None,
        mobile_e164=mobile,
        age_attested_at=now,
        terms_version_id=current.id,
        invitation_id=invitation.id if invitation else None,
        oauth_provider=form.oauth_provider,
        oauth_subject=form.oauth_subject,
        ip=ip,
        expires_at=now + SIGNUP_LIFETIME,
    )
    session.add(request)
    await session.commit()
    await otp.send(mobile)
    return request


async def check_code(
    session: AsyncSession,
    otp: OtpProvider,
    to: str,
    code: str,
    *,
    ip: str | None,
    actor_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None,
    purpose: str,
) -> None:
    """Rate-limit, check, audit a failure; returns only when the code is approved."""
    await ratelimit.allow(
        session, [(ratelimit.CODE_PER_IP, ip or "?"), (ratelimit.CODE_PER_NUMBER, to)]
    )
    try:
        result = await otp.check(to, code)
    except OtpError as exc:
        await audit.record(
            session, audit.OTP_FAILED, actor_id=actor_id, actor_label=purpose,
            workspace_id=workspace_id, ip=ip, detail={"reason": type(exc).__name__},
        )  # fmt: skip
        await session.commit()
        raise CodeRejected(str(exc)) from exc
    if not result.approved:
        await audit.record(
            session, audit.OTP_FAILED, actor_id=actor_id, actor_label=purpose,
            workspace_id=workspace_id, ip=ip, detail={"status": result.status},
        )  # fmt: skip
        await session.commit()
        raise CodeRejected("That code is not right. Check the text message and try again.")


async def complete_signup(
    session: AsyncSession,
    otp: OtpProvider,
    request_id: uuid.UUID,
    code: str,
    *,
    ip: str | None,
    user_agent: str | None,
) -> User:
    request = await session.get(SignupRequest, request_id, with_for_update=True)
    now = datetime.now(UTC)
    if request is None or request.completed_at is not None or request.expires_at <= now:
        raise FlowExpired()
    await check_code(
        session, otp, request.mobile_e164, code, ip=ip, actor_id=None, workspace_id=None,
        purpose="signup",
    )  # fmt: skip
    request = await session.get(SignupRequest, request_id, with_for_update=True)
    assert request is not None
    request.completed_at = now
    if await get_user_by_email(session, request.email) is not None:
        await audit.record(
            session, audit.SIGNUP_COMPLETED, actor_label="signup", ip=ip,
            target=request.email, detail={"outcome": "email already registered"},
        )  # fmt: skip
        await session.commit()
        raise KloseError(NOT_POSSIBLE)

    invitation = (
        await session.get(Invitation, request.invitation_id, with_for_update=True)
        if request.invitation_id
        else None
    )
    if invitation is not None and (invitation.accepted_at or invitation.revoked_at):
        await session.commit()
        raise KloseError("This invitation is no longer valid: ask for a new one.")
    if invitation is not None:
        workspace = await session.get(Workspace, invitation.workspace_id)
        assert workspace is not None
        role = Role(invitation.role)
        invitation.accepted_at = now
    else:
        workspace = Workspace(name=f"{request.name}'s workspace")
        session.add(workspace)
        await session.flush()
        role = Role.MANAGER
    user = User(
        workspace_id=workspace.id,
        email=request.email,
        name=request.name,
        password_hash=request.password_hash,
        role=role.value,
        mobile_e164=request.mobile_e164,
        mobile_verified_at=now,
        age_attested_at=request.age_attested_at,
    )
    session.add(user)
    await session.flush()
    request.user_id = user.id
    if request.oauth_provider and request.oauth_subject:
        session.add(
            UserIdentity(
                user_id=user.id,
                provider=request.oauth_provider,
                subject=request.oauth_subject,
                email=request.email,
            )
        )
    if request.terms_version_id is not None:
        await terms.accept(
            session, user_id=user.id, terms_version_id=request.terms_version_id, ip=ip,
            user_agent=user_agent,
        )  # fmt: skip
    await audit.record(
        session, audit.SIGNUP_COMPLETED, actor_id=user.id, actor_label=user.email,
        workspace_id=workspace.id, ip=ip,
        detail={"role": role.value, "invited": invitation is not None,
                "oauth": request.oauth_provider},
    )  # fmt: skip
    await session.commit()
    return user


# --- login -------------------------------------------------------------------------


async def password_step(
    session: AsyncSession, otp: OtpProvider, email: str, password: str, *, ip: str | None
) -> User:
    """Check the password; on success send a code to the verified mobile. Refusals all
    read the same, whatever was wrong (unknown email, wrong password, suspended)."""
    cleaned = email.strip().lower()[:320]
    await ratelimit.allow(
        session, [(ratelimit.LOGIN_PER_IP, ip or "?"), (ratelimit.LOGIN_PER_EMAIL, cleaned)]
    )
    user = await get_user_by_email(session, cleaned)
    ok = verify_password(user.password_hash if user else None, password)
    workspace = await session.get(Workspace, user.workspace_id) if user else None
    usable = (
        user is not None
        and ok
        and user.status == "active"
        and workspace is not None
        and workspace.status == WorkspaceStatus.ACTIVE.value
        and user.mobile_e164 is not None
        and user.mobile_verified_at is not None
    )
    if not usable or user is None:
        await audit.record(
            session, audit.SIGNIN_FAILED, actor_id=user.id if user else None,
            actor_label=cleaned, workspace_id=user.workspace_id if user else None, ip=ip,
            detail={"step": "password"},
        )  # fmt: skip
        await session.commit()
        raise KloseError(LOGIN_FAILED)
    assert user.mobile_e164 is not None
    await otp.send(user.mobile_e164)
    return user


async def code_step(
    session: AsyncSession, otp: OtpProvider, user_id: uuid.UUID, code: str, *, ip: str | None
) -> User:
    user = await session.get(User, user_id)
    if user is None or user.mobile_e164 is None or user.status != "active":
        raise FlowExpired()
    await check_code(
        session, otp, user.mobile_e164, code, ip=ip, actor_id=user.id,
        workspace_id=user.workspace_id, purpose="login",
    )  # fmt: skip
    workspace = await session.get(Workspace, user.workspace_id)
    if workspace is None or workspace.status != WorkspaceStatus.ACTIVE.value:
        raise KloseError(LOGIN_FAILED)
    await audit.record(
        session, audit.SIGNIN, actor_id=user.id, actor_label=user.email,
        workspace_id=user.workspace_id, ip=ip,
    )  # fmt: skip
    return user


# --- password reset ----------------------------------------------------------------


async def start_reset(
    session: AsyncSession, otp: OtpProvider, email: str, *, ip: str | None
) -> str | None:
    """Send a code to the account's verified mobile, if there is such an account.
    Returns the number it went to (the page says the same thing either way)."""
    cleaned = email.strip().lower()[:320]
    await ratelimit.allow(
        session, [(ratelimit.RESET_PER_IP, ip or "?"), (ratelimit.RESET_PER_EMAIL, cleaned)]
    )
    user = await get_user_by_email(session, cleaned)
    if user is None or user.status != "active" or not user.mobile_verified_at:
        return None
    assert user.mobile_e164 is not None
    try:
        await otp.send(user.mobile_e164)
    except OtpError:
        log.warning("password reset code for %s could not be sent", user.id)
        return None
    return user.mobile_e164


async def finish_reset(
    session: AsyncSession,
    otp: OtpProvider,
    email: str,
    code: str,
    new_password: str,
    *,
    ip: str | None,
) -> User:
    cleaned = email.strip().lower()[:320]
    problem = strength_problem(new_password, user_inputs=[cleaned])
    if problem:
        raise FormInvalid({"password": problem})
    user = await get_user_by_email(session, cleaned)
    if user is None or user.mobile_e164 is None or not user.mobile_verified_at:
        # Same refusal as a wrong code: nothing says the account does not exist.
        await ratelimit.allow(session, [(ratelimit.CODE_PER_IP, ip or "?")])
        raise CodeRejected("That code is not right. Check the text message and try again.")
    await check_code(
        session, otp, user.mobile_e164, code, ip=ip, actor_id=user.id,
        workspace_id=user.workspace_id, purpose="reset",
    )  # fmt: skip
    user.password_hash = hash_password(new_password)
    await end_all_sessions(session, user)
    await audit.record(
        session, audit.PASSWORD_RESET, actor_id=user.id, actor_label=user.email,
        workspace_id=user.workspace_id, ip=ip,
    )  # fmt: skip
    await session.commit()
    return user


async def pending_signup(session: AsyncSession, request_id: uuid.UUID) -> SignupRequest | None:
    request = await session.get(SignupRequest, request_id)
    if request is None or request.completed_at or request.expires_at <= datetime.now(UTC):
        return None
    return request


async def user_by_identity(session: AsyncSession, provider: str, subject: str) -> User | None:
    return await session.scalar(
        select(User)
        .join(UserIdentity, UserIdentity.user_id == User.id)
        .where(UserIdentity.provider == provider, UserIdentity.subject == subject)
    )
