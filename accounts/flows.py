"""Sign-up, login with a second factor, and password reset, as services.

Every flow ends in a code sent to a verified mobile through the OTP provider (Twilio
Verify, or the simulated one), each flow in its own verification (`Flow`; see
accounts/otp/__init__.py for why and how that holds for live Verify too). Rate limits
are per flow and per requester (accounts/ratelimit.py).

Nothing here says whether an email is registered. Login failures are one message
until the password is right (only then does a suspended account hear that it is
suspended). A sign-up for a taken email fails only after its code checked, with a
message that does not say why. A password reset for an unknown email runs the same
code path as for a known one, through a *decoy* verification of a number nobody
owns (`decoy_number`): the same rate limits, the same Verify state machine (sends,
5 checks, 10-minute life), the same messages and pages; the code is sent after the
response either way, so the response's timing does not wait on Twilio. Pages live
in accounts/views.py.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
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
from accounts.otp import Flow, OtpError, OtpProvider, TooManyChecks
from accounts.passwords import hash_password, strength_problem, verify_password
from accounts.phones import InvalidMobile, check_region, normalise_mobile
from accounts.service import get_user_by_email
from accounts.sessions import end_all_sessions
from core.errors import KloseError
from core.timezones import zone_for_phone

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
SUSPENDED = (
    "This account is suspended, so it cannot sign in. "
    "If you think this is a mistake, write to support@klosesales.com."
)
WRONG_CODE = "That code is not right. Check the text message and try again."
_PURPOSE_FLOWS = {
    "signup": Flow.SIGNUP,
    "login": Flow.LOGIN,
    "reset": Flow.RESET,
    "change_mobile": Flow.MOBILE,
}


class FormInvalid(KloseError):
    """Field → message, for a form to show beside each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


class CodeRejected(KloseError):
    pass


class AccountSuspended(KloseError):
    """The password (and code) were right, but the user or workspace is suspended."""

    def __init__(self) -> None:
        super().__init__(SUSPENDED)


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
    country: str = ""  # the country picked on the form: a national number is read in it
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
        problem = await strength_problem(form.password or "", user_inputs=[name, email])
        if problem:
            errors["password"] = problem
    invitation = await _invitation(session, form.invitation_token)
    if form.invitation_token and invitation is None:
        errors["invitation"] = "This invitation is no longer valid: ask for a new one."
    mobile = ""
    try:
        region = check_region(form.country)
    except InvalidMobile as exc:
        errors["country"] = str(exc)
    else:
        try:
            mobile = normalise_mobile(form.mobile, default_region=region)
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
        session,
        [
            (ratelimit.SIGNUP_PER_IP, ip or "?"),
            (ratelimit.SIGNUP_PER_REQUESTER, ratelimit.requester(mobile, ip)),
            (ratelimit.SIGNUP_PER_NUMBER, mobile),
        ],
    )
    now = datetime.now(UTC)
    request = SignupRequest(
        id=uuid.uuid4(),
        name=name,
        email=email,
        password_hash=await hash_password(form.password) if form.password else None,
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
    await otp.send(mobile, flow=Flow.SIGNUP)
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
    """Rate-limit (per requester, in `purpose`'s flow), check `purpose`'s verification,
    audit a failure; returns only when the code is approved."""
    flow = _PURPOSE_FLOWS.get(purpose, Flow.MOBILE)
    await ratelimit.allow(
        session,
        [
            (ratelimit.CODE_PER_IP, ip or "?"),
            (ratelimit.code_per_requester(flow), ratelimit.requester(to, ip)),
        ],
    )
    try:
        result = await otp.check(to, code, flow=flow)
    except OtpError as exc:
        await audit.record(
            session,
            audit.OTP_FAILED,
            actor_id=actor_id,
            actor_label=purpose,
            workspace_id=workspace_id,
            ip=ip,
            detail={"reason": type(exc).__name__},
        )
        await session.commit()
        raise CodeRejected(str(exc)) from exc
    if not result.approved:
        await audit.record(
            session,
            audit.OTP_FAILED,
            actor_id=actor_id,
            actor_label=purpose,
            workspace_id=workspace_id,
            ip=ip,
            detail={"status": result.status},
        )
        await session.commit()
        raise CodeRejected(WRONG_CODE)


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
        session,
        otp,
        request.mobile_e164,
        code,
        ip=ip,
        actor_id=None,
        workspace_id=None,
        purpose="signup",
    )
    request = await session.get(SignupRequest, request_id, with_for_update=True)
    assert request is not None
    request.completed_at = now
    if await get_user_by_email(session, request.email) is not None:
        await audit.record(
            session,
            audit.SIGNUP_COMPLETED,
            actor_label="signup",
            ip=ip,
            target=request.email,
            detail={"outcome": "email already registered"},
        )
        await session.commit()
        raise KloseError(NOT_POSSIBLE)
    invitation = await _open_invitation(session, request)
    workspace, role = await _joined_workspace(session, request, invitation, now)
    user = await _new_user(session, request, workspace, role, now)
    if request.terms_version_id is not None:
        await terms.accept(
            session,
            user_id=user.id,
            terms_version_id=request.terms_version_id,
            ip=ip,
            user_agent=user_agent,
        )
    await audit.record(
        session,
        audit.SIGNUP_COMPLETED,
        actor_id=user.id,
        actor_label=user.email,
        workspace_id=workspace.id,
        ip=ip,
        detail={
            "role": role.value,
            "invited": invitation is not None,
            "oauth": request.oauth_provider,
        },
    )
    await session.commit()
    return user


async def _open_invitation(session: AsyncSession, request: SignupRequest) -> Invitation | None:
    """The invitation the signup came with (locked), or None; one accepted or revoked
    meanwhile ends the signup (the request stays completed)."""
    if not request.invitation_id:
        return None
    invitation = await session.get(Invitation, request.invitation_id, with_for_update=True)
    if invitation is not None and (invitation.accepted_at or invitation.revoked_at):
        await session.commit()
        raise KloseError("This invitation is no longer valid: ask for a new one.")
    return invitation


async def _joined_workspace(
    session: AsyncSession, request: SignupRequest, invitation: Invitation | None, now: datetime
) -> tuple[Workspace, Role]:
    """The inviting workspace and the invited role (the invitation is accepted), or a
    new workspace of the person's own, which they manage."""
    if invitation is not None:
        workspace = await session.get(Workspace, invitation.workspace_id)
        assert workspace is not None
        invitation.accepted_at = now
        return workspace, Role(invitation.role)
    workspace = Workspace(name=f"{request.name}'s workspace")
    session.add(workspace)
    await session.flush()
    return workspace, Role.MANAGER


async def _new_user(
    session: AsyncSession, request: SignupRequest, workspace: Workspace, role: Role, now: datetime
) -> User:
    """The user the request describes, its mobile verified now, in the time zone of its
    mobile number; with the Google/Meta identity it signed up with, if any."""
    user = User(
        workspace_id=workspace.id,
        email=request.email,
        name=request.name,
        password_hash=request.password_hash,
        role=role.value,
        mobile_e164=request.mobile_e164,
        mobile_verified_at=now,
        age_attested_at=request.age_attested_at,
        time_zone=zone_for_phone(request.mobile_e164),
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
    return user


# --- login -------------------------------------------------------------------------


async def password_step(
    session: AsyncSession, otp: OtpProvider, email: str, password: str, *, ip: str | None
) -> User:
    """Check the password; on success send a code to the verified mobile.

    Refusals read the same ("wrong email or password") whatever was wrong — unknown
    email, wrong password, no verified mobile — except that once the password *is*
    right, a suspended user or workspace is told so (`AccountSuspended`): the
    password already proved who is asking. Limits: per IP, per requester (email and
    IP), and a per-email backstop far above one requester's allowance."""
    cleaned = email.strip().lower()[:320]
    await ratelimit.allow(
        session,
        [
            (ratelimit.LOGIN_PER_IP, ip or "?"),
            (ratelimit.LOGIN_PER_REQUESTER, ratelimit.requester(cleaned, ip)),
            (ratelimit.LOGIN_PER_EMAIL, cleaned),
        ],
    )
    user = await get_user_by_email(session, cleaned)
    ok = await verify_password(user.password_hash if user else None, password)
    workspace = await session.get(Workspace, user.workspace_id) if user else None
    suspended = ok and user is not None and _suspended(user, workspace)
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
            session,
            audit.SIGNIN_FAILED,
            actor_id=user.id if user else None,
            actor_label=cleaned,
            workspace_id=user.workspace_id if user else None,
            ip=ip,
            detail={"step": "password", **({"reason": "suspended"} if suspended else {})},
        )
        await session.commit()
        raise AccountSuspended() if suspended else KloseError(LOGIN_FAILED)
    assert user.mobile_e164 is not None
    await otp.send(user.mobile_e164, flow=Flow.LOGIN)
    return user


def _suspended(user: User, workspace: Workspace | None) -> bool:
    return user.status == "suspended" or (
        workspace is not None and workspace.status == WorkspaceStatus.SUSPENDED.value
    )


async def code_step(
    session: AsyncSession, otp: OtpProvider, user_id: uuid.UUID, code: str, *, ip: str | None
) -> User:
    user = await session.get(User, user_id)
    if user is None or user.mobile_e164 is None or user.status not in ("active", "suspended"):
        raise FlowExpired()
    await check_code(
        session,
        otp,
        user.mobile_e164,
        code,
        ip=ip,
        actor_id=user.id,
        workspace_id=user.workspace_id,
        purpose="login",
    )
    workspace = await session.get(Workspace, user.workspace_id)
    if _suspended(user, workspace):  # suspended between the password and the code
        raise AccountSuspended()
    if workspace is None or workspace.status != WorkspaceStatus.ACTIVE.value:
        raise KloseError(LOGIN_FAILED)
    await audit.record(
        session,
        audit.SIGNIN,
        actor_id=user.id,
        actor_label=user.email,
        workspace_id=user.workspace_id,
        ip=ip,
    )
    return user


# --- password reset ----------------------------------------------------------------

Delivery = Callable[[], Awaitable[None]]


def decoy_number(email: str) -> str:
    """The number an unknown email's reset "texts": +999 (a country code no one has,
    so phonenumbers and Twilio never take it for a real mobile) and 12 digits derived
    from the email, so that every request for that email meets the same decoy."""
    digest = hashlib.sha256(f"klosesales-reset-decoy:{email}".encode()).digest()
    return "+999" + f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


@dataclass(frozen=True)
class _ResetTarget:
    """Whom a reset for an email works on: the account's verified mobile through the
    real provider, or the email's decoy number through the decoy."""

    user: User | None
    number: str


async def _reset_target(session: AsyncSession, email: str) -> _ResetTarget:
    user = await get_user_by_email(session, email)
    if (
        user is not None
        and user.status == "active"
        and user.mobile_e164 is not None
        and user.mobile_verified_at is not None
    ):
        return _ResetTarget(user, user.mobile_e164)
    return _ResetTarget(None, decoy_number(email))


async def start_reset(
    session: AsyncSession, otp: OtpProvider, decoy: OtpProvider, email: str, *, ip: str | None
) -> Delivery:
    """Count the request (per IP, per requester, per-email backstop) and return what
    sends the code, to run after the response: to the account's verified mobile if
    there is such an account, else to the email's decoy (`decoy`, which texts no
    one). Known and unknown emails take the same steps here; a send that fails is
    logged, never shown (the page is the same either way). Also serves "send the
    code again", which Verify treats as a re-send of the same verification."""
    cleaned = email.strip().lower()[:320]
    await ratelimit.allow(
        session,
        [
            (ratelimit.RESET_PER_IP, ip or "?"),
            (ratelimit.RESET_PER_REQUESTER, ratelimit.requester(cleaned, ip)),
            (ratelimit.RESET_PER_EMAIL, cleaned),
        ],
    )
    target = await _reset_target(session, cleaned)
    provider = otp if target.user is not None else decoy

    async def deliver() -> None:
        try:
            await provider.send(target.number, flow=Flow.RESET)
        except OtpError as exc:
            log.warning("a password reset code could not be sent (%s)", type(exc).__name__)

    return deliver


async def finish_reset(
    session: AsyncSession,
    otp: OtpProvider,
    decoy: OtpProvider,
    email: str,
    code: str,
    new_password: str,
    *,
    ip: str | None,
) -> User:
    """Check the code and set the new password. Known and unknown emails run the same
    steps: the strength check, the per-requester limit (3 wrong codes, fewer than
    Verify's 5, so one requester cannot use up the owner's verification), a check
    against the reset verification (the real one, or the decoy's that nobody can
    answer), and the same audit and messages for every refusal."""
    cleaned = email.strip().lower()[:320]
    problem = await strength_problem(new_password, user_inputs=[cleaned])
    if problem:
        raise FormInvalid({"password": problem})
    target = await _reset_target(session, cleaned)
    provider = otp if target.user is not None else decoy
    refusal: str | None = None
    detail: dict[str, str] = {}
    try:
        await ratelimit.allow(
            session,
            [
                (ratelimit.CODE_PER_IP, ip or "?"),
                (ratelimit.RESET_CODE_PER_REQUESTER, ratelimit.requester(cleaned, ip)),
            ],
        )
        result = await provider.check(target.number, code, flow=Flow.RESET)
    except ratelimit.RateLimited:
        refusal, detail = TooManyChecks.default_message, {"reason": "RateLimited"}
    except OtpError as exc:
        refusal, detail = str(exc), {"reason": type(exc).__name__}
    else:
        if not result.approved or target.user is None:
            refusal, detail = WRONG_CODE, {"status": result.status}
    user = target.user
    if refusal is not None or user is None:
        await audit.record(
            session,
            audit.OTP_FAILED,
            actor_id=user.id if user else None,
            actor_label="reset",
            workspace_id=user.workspace_id if user else None,
            ip=ip,
            detail=detail,
        )
        await session.commit()
        raise CodeRejected(refusal or WRONG_CODE)
    user.password_hash = await hash_password(new_password)
    await end_all_sessions(session, user)
    await audit.record(
        session,
        audit.PASSWORD_RESET,
        actor_id=user.id,
        actor_label=user.email,
        workspace_id=user.workspace_id,
        ip=ip,
    )
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
