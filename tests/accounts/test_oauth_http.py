"""Sign-in with Google and Meta over HTTP: the routers served in process (tests/web.py)
with the providers pointed at local doubles of Google's OpenID provider and Facebook
Login, which serve real HTTP.

The doubles answer the way the providers document: Google's discovery document,
/authorize (which here 302s straight back with a code and the state), /token
(client_secret_basic, PKCE S256, an RS256 ID token signed with a key from its JWKS)
and /userinfo; Facebook's /dialog/oauth, /oauth/access_token (the secret posted in
the form) and /me?fields=id,name,email (with `appsecret_proof`). Whatever the
provider says, a code to the verified mobile comes before any session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from accounts.models import AuditEvent, SignupRequest, User, UserIdentity, UserSession
from core.db import Database
from tests.accounts.helpers import (
    client,
    current_terms_version,
    field_error,
    latest_code,
    make_member,
    unique_mobile,
)
from tests.http_double import serve_in_thread
from tests.stall import StallMonitor
from tests.web import InProcess, build_web_app, warm_up, web_settings

GOOGLE_ID = "1234567890-klosesales.apps.googleusercontent.test"
GOOGLE_SECRET = "GOCSPX-test-google-secret"
META_ID = "987654321012345"
META_SECRET = "meta-app-secret-for-tests"
KID = "google-test-1"
CALLER_IP = "198.51.100.23"  # where the browser of the tampered-state test comes from
FAILED = "Sign-in with Google could not be completed. Please try again."


# --- the doubles -----------------------------------------------------------------------


@dataclass
class Person:
    sub: str
    email: str | None
    name: str = "Robin Example"
    email_verified: bool = True


@dataclass
class Grant:
    person: Person
    redirect_uri: str
    nonce: str | None = None
    code_challenge: str | None = None


@dataclass
class ProviderDouble:
    base: str = ""
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"}
        )
    )
    google_next: Person | None = None
    meta_next: Person | None = None
    id_token_mode: str = "ok"  # ok | wrong_key | wrong_aud
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Person] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.google_next = self.meta_next = None
        self.id_token_mode = "ok"
        self.token_requests.clear()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/google/.well-known/openid-configuration", self.discovery),
                Route("/google/jwks", self.jwks),
                Route("/google/authorize", self.google_authorize),
                Route("/google/token", self.google_token, methods=["POST"]),
                Route("/google/userinfo", self.google_userinfo),
                Route("/facebook/v19.0/dialog/oauth", self.meta_authorize),
                Route("/facebook/v19.0/oauth/access_token", self.meta_token, methods=["POST"]),
                Route("/facebook/v19.0/me", self.meta_me),
            ]
        )

    # -- shared

    def _issue_code(self, request: Request, person: Person | None, **extra: Any) -> Response:
        q = request.query_params
        if person is None:
            return JSONResponse({"error": "no person queued for this test"}, status_code=500)
        if q.get("response_type") != "code" or not q.get("state"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = Grant(person, q["redirect_uri"], **extra)
        # A real provider asks the person first; this one says yes at once.
        return RedirectResponse(
            _with_params(q["redirect_uri"], code=code, state=q["state"]), status_code=302
        )

    def _redeem(self, form: dict[str, str]) -> Grant | None:
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return None
        return grant

    # -- Google

    async def discovery(self, request: Request) -> Response:
        g = f"{self.base}/google"
        return JSONResponse(
            {
                "issuer": g,
                "authorization_endpoint": f"{g}/authorize",
                "token_endpoint": f"{g}/token",
                "userinfo_endpoint": f"{g}/userinfo",
                "jwks_uri": f"{g}/jwks",
                "response_types_supported": ["code", "token", "id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "code_challenge_methods_supported": ["plain", "S256"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def google_authorize(self, request: Request) -> Response:
        q = request.query_params
        scopes = set((q.get("scope") or "").split())
        if q.get("client_id") != GOOGLE_ID or not {"openid", "email", "profile"} <= scopes:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("nonce"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        return self._issue_code(
            request, self.google_next, nonce=q["nonce"], code_challenge=q.get("code_challenge")
        )

    async def google_token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        expected = base64.b64encode(f"{GOOGLE_ID}:{GOOGLE_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self._redeem(form)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if challenge != grant.code_challenge:
            return JSONResponse({"error": "invalid_grant", "detail": "PKCE"}, status_code=400)
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant.person
        now = int(time.time())
        claims = {
            "iss": f"{self.base}/google",
            "azp": GOOGLE_ID,
            "aud": "someone-else" if self.id_token_mode == "wrong_aud" else GOOGLE_ID,
            "sub": grant.person.sub,
            "email": grant.person.email,
            "email_verified": grant.person.email_verified,
            "name": grant.person.name,
            "iat": now,
            "exp": now + 3600,
            "nonce": grant.nonce,
        }
        key = self.key
        if self.id_token_mode == "wrong_key":
            key = RSAKey.generate_key(2048, parameters={"kid": KID, "alg": "RS256"})
        id_token = jwt.encode({"alg": "RS256", "kid": KID}, claims, key)
        return JSONResponse(
            {
                "access_token": access,
                "expires_in": 3599,
                "scope": "openid email profile",
                "token_type": "Bearer",
                "id_token": id_token,
            }
        )

    async def google_userinfo(self, request: Request) -> Response:
        person = self.tokens.get(request.headers.get("authorization", "")[7:])
        if person is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(
            {
                "sub": person.sub,
                "email": person.email,
                "email_verified": person.email_verified,
                "name": person.name,
            }
        )

    # -- Facebook

    async def meta_authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != META_ID or "email" not in (q.get("scope") or ""):
            return JSONResponse({"error": {"message": "Invalid app ID"}}, status_code=400)
        return self._issue_code(request, self.meta_next)

    async def meta_token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        if form.get("client_id") != META_ID or form.get("client_secret") != META_SECRET:
            return JSONResponse(
                {"error": {"message": "Error validating client secret.", "code": 1}},
                status_code=400,
            )
        grant = self._redeem(form)
        if grant is None:
            return JSONResponse(
                {"error": {"message": "Invalid verification code format.", "code": 100}},
                status_code=400,
            )
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant.person
        return JSONResponse({"access_token": access, "token_type": "bearer", "expires_in": 5183})

    async def meta_me(self, request: Request) -> Response:
        access = request.headers.get("authorization", "")[7:]
        person = self.tokens.get(access)
        if person is None:
            return JSONResponse({"error": {"message": "Invalid OAuth access token"}}, 401)
        proof = hmac.new(META_SECRET.encode(), access.encode(), hashlib.sha256).hexdigest()
        if request.query_params.get("appsecret_proof") != proof:
            return JSONResponse({"error": {"message": "Invalid appsecret_proof"}}, 400)
        fields = set((request.query_params.get("fields") or "").split(","))
        body: dict[str, Any] = {"id": person.sub}
        if "name" in fields:
            body["name"] = person.name
        if "email" in fields and person.email is not None:
            body["email"] = person.email  # Facebook leaves it out when it has none
        return JSONResponse(body)


def _with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider_server() -> Iterator[ProviderDouble]:
    double = ProviderDouble()
    with serve_in_thread(double.app(), name="provider double") as base:
        double.base = base
        yield double


@pytest.fixture
def providers(provider_server: ProviderDouble) -> ProviderDouble:
    provider_server.reset()
    return provider_server


@pytest.fixture(scope="module")
async def oauth_app(
    database: Database,
    provider_server: ProviderDouble,
    tmp_path_factory: pytest.TempPathFactory,
) -> InProcess:
    """The routers in process, with Google and Meta pointed at the doubles."""
    double = provider_server.base
    settings = web_settings(
        tmp_path_factory.mktemp("web-oauth"),
        google_client_id=GOOGLE_ID,
        google_client_secret=GOOGLE_SECRET,
        google_metadata_url=f"{double}/google/.well-known/openid-configuration",
        meta_client_id=META_ID,
        meta_client_secret=META_SECRET,
        meta_authorize_url=f"{double}/facebook/v19.0/dialog/oauth",
        meta_token_url=f"{double}/facebook/v19.0/oauth/access_token",
        meta_api_base=f"{double}/facebook/v19.0/",
    )
    web = InProcess(build_web_app(database, settings), settings)
    await warm_up(web)
    # One sign-in with each provider, before any test watches the loop: the first in a
    # process imports the OAuth client's token and ID-token code (tens of ms), which
    # is start-up, not the request path a test measures.
    provider_server.google_next, provider_server.meta_next = _person(), _person()
    async with client(web) as http:
        for provider in ("google", "meta"):
            done = await _sign_in_with(http, provider)
            assert done.headers.get("location") == "/account/oauth/signup", done.text
    provider_server.reset()
    return web


@pytest.fixture
def oauth_server(oauth_app: InProcess, stall_monitor: StallMonitor) -> InProcess:
    """`oauth_app` for one test, its event loop watched for stalls (tests/stall.py)."""
    return InProcess(oauth_app.app, oauth_app.settings, monitor=stall_monitor)


# --- helpers ---------------------------------------------------------------------------


async def _round_trip(http: httpx.AsyncClient, provider: str) -> tuple[str, httpx.Response]:
    """Start → the provider's consent page (which 302s back) → the callback URL."""
    start = await http.get(f"/account/oauth/{provider}/start")
    assert start.status_code == 302, start.text
    assert "ks_oauth" in start.headers.get("set-cookie", "")
    consent = await http.get(start.headers["location"])
    assert consent.status_code == 302, consent.text
    return consent.headers["location"], consent


async def _sign_in_with(http: httpx.AsyncClient, provider: str) -> httpx.Response:
    callback, _ = await _round_trip(http, provider)
    return await http.get(callback)


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _identity_owner(db: Database, provider: str, sub: str) -> uuid.UUID | None:
    async with db.session() as session:
        return await session.scalar(
            select(UserIdentity.user_id).where(
                UserIdentity.provider == provider, UserIdentity.subject == sub
            )
        )


def _person(**overrides: Any) -> Person:
    values: dict[str, Any] = {
        "sub": str(secrets.randbelow(10**20)),
        "email": f"robin-{uuid.uuid4().hex[:8]}@gmail.test",
        "name": "Robin Example",
    }
    values.update(overrides)
    return Person(**values)


async def _google_signup(http: httpx.AsyncClient, db: Database, person: Person) -> str:
    """A first Google sign-in through the sign-up form and the code: returns the mobile."""
    done = await _sign_in_with(http, "google")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/account/oauth/signup"
    mobile = unique_mobile()
    sent = await http.post(
        "/account/oauth/signup",
        data={
            "name": person.name,
            "email": "someone-else@evil.test",  # ignored: the email comes from Google
            "mobile": mobile,
            "age": "yes",
            "terms": "yes",
            "terms_version": await current_terms_version(db),
        },
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/account/signup/verify"
    verified = await http.post(
        "/account/signup/verify", data={"code": await latest_code(db, mobile)}
    )
    assert verified.status_code == 303, verified.text
    assert verified.headers["location"] == "/chat"
    return mobile


# --- tests -----------------------------------------------------------------------------


async def test_buttons_are_hidden_when_no_provider_is_configured(web):
    async with client(web) as http:
        login = await http.get("/account/login")
        signup = await http.get("/account/signup")
        start = await http.get("/account/oauth/google/start")
    assert login.status_code == signup.status_code == 200
    for page in (login, signup):
        assert "/account/oauth/" not in page.text
        assert "Continue with" not in page.text
    assert start.status_code == 404


async def test_buttons_are_shown_for_configured_providers(oauth_server):
    async with client(oauth_server) as http:
        login = await http.get("/account/login")
        signup = await http.get("/account/signup")
        unknown = await http.get("/account/oauth/github/start")
    for page in (login, signup):
        assert 'href="/account/oauth/google/start" id="oauth-google">Continue with Google' in (
            page.text
        )
        assert 'href="/account/oauth/meta/start" id="oauth-meta">Continue with Facebook' in (
            page.text
        )
    assert unknown.status_code == 404


async def test_first_google_sign_in_signs_up_after_the_mobile_code(oauth_server, db, providers):
    person = _person(name="Robin Google")
    providers.google_next = person
    async with client(oauth_server) as http:
        done = await _sign_in_with(http, "google")
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/account/oauth/signup"
        assert "ks_session" not in http.cookies
        # Authlib's state was used up: the round-trip cookie is cleared.
        assert "ks_oauth" not in http.cookies
        form = await http.get("/account/oauth/signup")
        assert form.status_code == 200
        assert 'action="/account/oauth/signup"' in form.text
        assert f'value="{person.email}"' in form.text
        assert "readonly" in form.text.split('id="email"')[1].split(">")[0]
        assert 'value="Robin Google"' in form.text
        assert 'name="password"' not in form.text
        assert "I am at least 18" in form.text
        # Mobile, the 18+ box and the terms are still required.
        version = await current_terms_version(db)
        missing = await http.post(
            "/account/oauth/signup",
            data={"name": person.name, "mobile": "", "terms_version": version},
        )
        assert missing.status_code == 400
        assert field_error(missing.text, "mobile")
        assert field_error(missing.text, "age")
        assert field_error(missing.text, "terms")
        assert 'action="/account/oauth/signup"' in missing.text
        assert await _count(db, SignupRequest, SignupRequest.email == person.email) == 0

        mobile = unique_mobile()
        sent = await http.post(
            "/account/oauth/signup",
            data={
                "name": person.name,
                "email": "someone-else@evil.test",
                "mobile": mobile,
                "age": "yes",
                "terms": "yes",
                "terms_version": version,
            },
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == "/account/signup/verify"
        assert await _count(db, User, User.email == person.email) == 0
        verified = await http.post(
            "/account/signup/verify", data={"code": await latest_code(db, mobile)}
        )
        assert verified.status_code == 303, verified.text
        assert verified.headers["location"] == "/chat"
        assert "ks_session" in http.cookies
        chat = await http.get("/billing/buy")
        assert chat.status_code == 200
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == person.email))
        assert user is not None
        assert (user.name, user.mobile_e164, user.password_hash) == (person.name, mobile, None)
        assert user.mobile_verified_at is not None and user.age_attested_at is not None
    assert await _identity_owner(db, "google", person.sub) == user.id
    assert await _count(db, User, User.email == "someone-else@evil.test") == 0


async def test_a_second_google_sign_in_asks_for_a_code_again(oauth_server, db, providers):
    person = _person()
    providers.google_next = person
    async with client(oauth_server) as first:
        mobile = await _google_signup(first, db, person)
    providers.google_next = person
    async with client(oauth_server) as http:
        done = await _sign_in_with(http, "google")
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/account/login/code"
        assert "ks_session" not in http.cookies
        assert (await http.get("/billing/buy")).status_code == 303
        page = await http.get("/account/login/code")
        assert page.status_code == 200
        assert mobile[-2:] in page.text and mobile not in page.text
        signed = await http.post(
            "/account/login/code", data={"code": await latest_code(db, mobile)}
        )
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == "/chat"
        assert (await http.get("/billing/buy")).status_code == 200
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == person.email))
        assert user is not None
        methods = (
            await session.scalars(
                select(UserSession.method)
                .where(UserSession.user_id == user.id)
                .order_by(UserSession.created_at)
            )
        ).all()
    assert methods == ["signup", "google"]
    assert await _count(db, UserIdentity, UserIdentity.user_id == user.id) == 1


async def test_meta_links_an_existing_account_only_after_the_code(oauth_server, db, providers):
    member = await make_member(db)
    person = _person(email=member.email, name="Casey on Facebook")
    providers.meta_next = person
    async with client(oauth_server) as http:
        done = await _sign_in_with(http, "meta")
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/account/login/code"
        assert "ks_session" not in http.cookies
        assert await _identity_owner(db, "meta", person.sub) is None
        right = await latest_code(db, member.mobile)
        wrong = await http.post(
            "/account/login/code", data={"code": "000000" if right != "000000" else "111111"}
        )
        assert wrong.status_code == 400
        assert await _identity_owner(db, "meta", person.sub) is None
        signed = await http.post("/account/login/code", data={"code": right})
        assert signed.status_code == 303, signed.text
        assert "ks_session" in http.cookies
    assert await _identity_owner(db, "meta", person.sub) == member.actor.user_id
    assert (
        await _count(
            db,
            AuditEvent,
            AuditEvent.action == "identity_linked",
            AuditEvent.actor_id == member.actor.user_id,
        )
        == 1
    )
    # Facebook's token request carried the app secret in the form.
    assert providers.token_requests[-1]["client_secret"] == META_SECRET
    # Next time the identity itself finds the account, and a code is asked again.
    providers.meta_next = _person(sub=person.sub, email=None)
    async with client(oauth_server) as http:
        again = await _sign_in_with(http, "meta")
        assert again.status_code == 303, again.text
        assert again.headers["location"] == "/account/login/code"
        assert "ks_session" not in http.cookies
    assert await _count(db, UserIdentity, UserIdentity.subject == person.sub) == 1


async def test_an_unverified_email_never_links_an_existing_account(oauth_server, db, providers):
    member = await make_member(db)
    person = _person(email=member.email, email_verified=False)
    providers.google_next = person
    async with client(oauth_server) as http:
        done = await _sign_in_with(http, "google")
    # Treated as someone new: the sign-up (which refuses a taken email only after
    # its own code, saying nothing about the account) rather than the member's code.
    assert done.status_code == 303
    assert done.headers["location"] == "/account/oauth/signup"
    assert await _identity_owner(db, "google", person.sub) is None
    async with db.session() as session:
        sent = await session.scalar(
            text("SELECT count(*) FROM otp_verifications WHERE to_e164 = :to"),
            {"to": member.mobile},
        )
    assert sent == 0


async def _state_audits(db: Database) -> int:
    return await _count(
        db,
        AuditEvent,
        AuditEvent.action == "oauth_state_invalid",
        AuditEvent.actor_label == "oauth:google",
        AuditEvent.ip == CALLER_IP,
    )


async def test_a_tampered_or_missing_state_is_refused_and_audited(oauth_server, db, providers):
    person = _person()
    providers.google_next = person
    before = await _state_audits(db)
    async with oauth_server.client(ip=CALLER_IP) as http:
        callback, _ = await _round_trip(http, "google")
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        tampered = urlunsplit(parts._replace(query=urlencode({**query, "state": "forged"})))
        missing = urlunsplit(parts._replace(query=urlencode({"code": query["code"]})))
        denied = urlunsplit(
            parts._replace(query=urlencode({"error": "access_denied", "state": query["state"]}))
        )
        responses = [await http.get(url) for url in (tampered, missing, denied)]
    # The right state, but from a browser that never started the sign-in.
    async with oauth_server.client(ip=CALLER_IP) as other:
        responses.append(await other.get(callback))
    for response in responses:
        assert response.status_code == 400
        assert FAILED in response.text
        assert "ks_session" not in response.cookies
        assert "ks_pending" not in response.cookies
    assert await _state_audits(db) == before + 4
    assert await _count(db, User, User.email == person.email) == 0
    assert await _identity_owner(db, "google", person.sub) is None
    # The code was never redeemed.
    assert providers.token_requests == []


async def test_an_id_token_that_does_not_verify_is_refused(oauth_server, db, providers):
    for mode in ("wrong_key", "wrong_aud"):
        person = _person()
        providers.google_next = person
        providers.id_token_mode = mode
        async with client(oauth_server) as http:
            done = await _sign_in_with(http, "google")
        assert done.status_code == 400, mode
        assert FAILED in done.text
        assert "ks_pending" not in done.cookies
        assert await _count(db, User, User.email == person.email) == 0


async def test_a_provider_without_an_email_gets_a_clear_error(oauth_server, db, providers):
    person = _person(email=None)
    providers.meta_next = person
    async with client(oauth_server) as http:
        done = await _sign_in_with(http, "meta")
    assert done.status_code == 400
    assert "Facebook did not share an email address with us" in done.text
    assert "sign up with your email address and a password instead" in done.text
    assert 'href="/account/signup"' in done.text
    assert "ks_pending" not in done.cookies
    assert await _identity_owner(db, "meta", person.sub) is None


async def test_the_sign_up_step_needs_the_signed_provider_cookie(oauth_server, db):
    async with client(oauth_server) as http:
        http.cookies.set("ks_pending", "forged")
        response = await http.post(
            "/account/oauth/signup",
            data={"name": "X", "mobile": unique_mobile(), "age": "yes", "terms": "yes"},
        )
        page = await http.get("/account/oauth/signup")
    assert response.status_code == page.status_code == 400
    assert "This step has expired" in response.text
