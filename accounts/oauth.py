"""Sign-in with Google (OpenID Connect) and Meta (Facebook Login, OAuth 2), via Authlib.

`build_oauth` registers the providers whose credentials are set; `fetch_identity`
finishes a provider's callback (state check, code exchange, ID token or profile) and
returns who the provider says the person is. It decides nothing about our accounts:
the pages in accounts/oauth_views.py do (and a second factor is still required).

- Google: discovery from `GOOGLE_METADATA_URL`, scope "openid email profile", PKCE
  (S256), the ID token verified against the provider's JWKS (signature, issuer,
  audience, expiry, nonce). `email_verified` comes from Google.
- Meta: authorize / token URLs and the Graph API base from settings, scope
  "email public_profile", the profile from `me?fields=id,name,email` (with an
  `appsecret_proof`). Facebook only returns an email it has confirmed, so an email
  it returns counts as verified; it may return none at all (`NoEmail`).

Authlib keeps the state, nonce and PKCE verifier in `request.session` (Starlette's
SessionMiddleware, the `ks_oauth` cookie, see chat_app/server.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.integrations.base_client import (  # type: ignore[import-untyped]
    MismatchingStateError,
    OAuthError,
)
from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]
from joserfc.errors import JoseError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from accounts import audit
from accounts.models import User, UserIdentity
from core.errors import KloseError
from core.settings import Settings

log = logging.getLogger(__name__)

# Provider name (in URLs and `user_identities.provider`) → what the button says.
LABELS: dict[str, str] = {"google": "Google", "meta": "Facebook"}
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Identity:
    provider: str
    subject: str
    email: str | None  # normalised (lower case); None when the provider gave none
    email_verified: bool
    name: str


class OAuthFailed(KloseError):
    """The sign-in could not be finished (the provider refused or answered badly)."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(failure_message(provider))
        self.provider = provider
        self.reason = reason


class CallbackRejected(OAuthFailed):
    """The callback itself is not acceptable: a bad or missing `state`, or the provider
    sent an `error` (the person declined). Audited as OAUTH_STATE_INVALID."""


class NoEmail(KloseError):
    def __init__(self, provider: str) -> None:
        label = LABELS.get(provider, provider)
        super().__init__(
            f"{label} did not share an email address with us, and an account needs one. "
            "Please sign up with your email address and a password instead."
        )
        self.provider = provider


def failure_message(provider: str) -> str:
    label = LABELS.get(provider, provider)
    return f"Sign-in with {label} could not be completed. Please try again."


def enabled_providers(settings: Settings) -> list[str]:
    """The configured providers, in the order their buttons show."""
    names = []
    if settings.google_oauth_enabled:
        names.append("google")
    if settings.meta_oauth_enabled:
        names.append("meta")
    return names


def build_oauth(settings: Settings) -> Any:
    """An Authlib registry holding the configured providers (possibly none).

    Authlib opens an httpx client for every call to a provider; they share one TLS
    context, made here, so that no request loads the CA bundle on the event loop."""
    oauth = OAuth()
    tls = httpx.create_ssl_context()
    if settings.google_oauth_enabled:
        assert settings.google_client_secret is not None
        oauth.register(
            name="google",
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret.get_secret_value(),
            server_metadata_url=settings.google_metadata_url,
            client_kwargs={
                "scope": "openid email profile",
                "code_challenge_method": "S256",
                "timeout": HTTP_TIMEOUT_S,
                "verify": tls,
            },
        )
    if settings.meta_oauth_enabled:
        assert settings.meta_client_secret is not None
        oauth.register(
            name="meta",
            client_id=settings.meta_client_id,
            client_secret=settings.meta_client_secret.get_secret_value(),
            authorize_url=settings.meta_authorize_url,
            access_token_url=settings.meta_token_url,
            api_base_url=settings.meta_api_base,
            client_kwargs={
                "scope": "email public_profile",
                # Facebook takes the app secret as a parameter of the token request.
                "token_endpoint_auth_method": "client_secret_post",
                "timeout": HTTP_TIMEOUT_S,
                "verify": tls,
            },
        )
    return oauth


def client_for(oauth: Any, provider: str) -> Any | None:
    """The registered client for a provider name, or None (unknown or not configured)."""
    if provider not in LABELS:
        return None
    return oauth.create_client(provider)


def _email(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    from accounts.flows import FormInvalid, normalise_email_address

    try:
        return normalise_email_address(raw)
    except FormInvalid:
        log.warning("an OAuth provider returned an email address that is not valid")
        return None


def _truthy(value: Any) -> bool:
    # Google sends a JSON boolean; some older tokens carried the string "true".
    return value is True or (isinstance(value, str) and value.lower() == "true")


async def authorize_redirect(
    oauth: Any, provider: str, request: Request, redirect_uri: str
) -> Response:
    """The redirect to the provider's consent page (state, nonce, PKCE kept in the
    session). Raises OAuthFailed if the provider's configuration cannot be read."""
    client = client_for(oauth, provider)
    if client is None:
        raise OAuthFailed(provider, "provider not configured")
    try:
        response: Response = await client.authorize_redirect(request, redirect_uri)
    except (AuthlibBaseError, httpx.HTTPError, ValueError, KeyError, RuntimeError) as exc:
        log.warning("%s sign-in could not start: %s: %s", provider, type(exc).__name__, exc)
        raise OAuthFailed(provider, type(exc).__name__) from exc
    return response


async def fetch_identity(oauth: Any, provider: str, request: Request) -> Identity:
    """Finish the callback request of `provider` and return the person's identity.

    Raises CallbackRejected (bad/missing state, or an `error` from the provider) or
    OAuthFailed (the code exchange, the ID token or the profile failed)."""
    client = client_for(oauth, provider)
    if client is None:
        raise OAuthFailed(provider, "provider not configured")
    error = request.query_params.get("error")
    if error:
        raise CallbackRejected(provider, f"provider error: {error[:60]}")
    try:
        if provider == "google":
            return await _google(client, request)
        return await _meta(client, request)
    except MismatchingStateError as exc:
        raise CallbackRejected(provider, "state missing or not matching") from exc
    except (OAuthError, AuthlibBaseError, JoseError) as exc:
        log.warning("%s sign-in failed: %s", provider, exc)
        raise OAuthFailed(provider, f"{type(exc).__name__}: {exc}"[:200]) from exc
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s sign-in failed: %s: %s", provider, type(exc).__name__, exc)
        raise OAuthFailed(provider, type(exc).__name__) from exc


async def _google(client: Any, request: Request) -> Identity:
    metadata = await client.load_server_metadata()
    issuer = metadata.get("issuer")
    issuers = [issuer] if isinstance(issuer, str) else []
    if issuer in GOOGLE_ISSUERS:
        # Google's ID tokens carry either form of its issuer.
        issuers = list(GOOGLE_ISSUERS)
    # Authlib checks the issuer only; an ID token must also be meant for us (`aud`).
    options: dict[str, Any] = {"aud": {"essential": True, "value": client.client_id}}
    if issuers:
        options["iss"] = {"essential": True, "values": issuers}
    token = await client.authorize_access_token(request, claims_options=options)
    claims: dict[str, Any] = dict(token.get("userinfo") or {})
    if not claims:
        raise OAuthFailed("google", "no ID token in the token response")
    if not claims.get("email"):
        # The ID token may leave the email out; the userinfo endpoint has it.
        extra = await client.userinfo(token=token)
        if str(extra.get("sub")) == str(claims.get("sub")):
            claims.update({k: v for k, v in extra.items() if k not in ("sub", "iss", "aud")})
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OAuthFailed("google", "ID token has no subject")
    email = _email(claims.get("email"))
    return Identity(
        provider="google",
        subject=subject,
        email=email,
        email_verified=email is not None and _truthy(claims.get("email_verified")),
        name=_name(claims.get("name"), email),
    )


async def _meta(client: Any, request: Request) -> Identity:
    token = await client.authorize_access_token(request)
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise OAuthFailed("meta", "no access token in the token response")
    proof = hmac.new(
        str(client.client_secret).encode(), access_token.encode(), hashlib.sha256
    ).hexdigest()
    response = await client.get(
        "me", token=token, params={"fields": "id,name,email", "appsecret_proof": proof}
    )
    response.raise_for_status()
    profile = response.json()
    if not isinstance(profile, dict):
        raise OAuthFailed("meta", "profile is not an object")
    subject = profile.get("id")
    if not isinstance(subject, (str, int)) or not str(subject):
        raise OAuthFailed("meta", "profile has no id")
    email = _email(profile.get("email"))
    return Identity(
        provider="meta",
        subject=str(subject),
        email=email,
        # Facebook returns only a confirmed email address, or none.
        email_verified=email is not None,
        name=_name(profile.get("name"), email),
    )


def _name(raw: Any, email: str | None) -> str:
    name = " ".join(raw.split())[:200] if isinstance(raw, str) else ""
    return name or (email.split("@")[0] if email else "")


async def link_identity(
    session: AsyncSession, user: User, provider: str, subject: str
) -> UserIdentity | None:
    """Link a provider account to `user` (after the user's code checked). Does nothing
    if it is already linked to them; refuses (None) if it belongs to someone else."""
    if provider not in LABELS or not subject:
        return None
    from accounts.flows import user_by_identity

    owner = await user_by_identity(session, provider, subject)
    if owner is not None:
        if owner.id != user.id:
            log.warning("%s identity is already linked to another user; not linked", provider)
        return None
    identity = UserIdentity(
        id=uuid.uuid4(), user_id=user.id, provider=provider, subject=subject, email=user.email
    )
    session.add(identity)
    await session.flush()
    await audit.record(
        session,
        audit.IDENTITY_LINKED,
        actor_id=user.id,
        actor_label=user.email,
        workspace_id=user.workspace_id,
        detail={"provider": provider},
    )
    log.info("linked a %s identity to user %s", provider, user.id)
    return identity
