"""Every response of a real `klosesales serve` carries the protective headers (a CSP
that forbids framing and off-site images, X-Frame-Options, nosniff, a referrer
policy), and the API docs are off unless a setting turns them on."""

from __future__ import annotations

import re

import httpx
import pytest

from chat_app.security import Policy, cross_site_reason, origin_of, script_hashes
from core.settings import Settings
from tests.accounts.helpers import client, make_member, sign_in


def _directives(csp: str) -> dict[str, list[str]]:
    return {name: rest for name, *rest in (part.split() for part in csp.split(";") if part.strip())}


def _assert_protected(response: httpx.Response) -> None:
    headers = response.headers
    where = f"{response.request.method} {response.request.url.path}"
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "strict-origin-when-cross-origin", where
    csp = _directives(headers.get("content-security-policy", ""))
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("img-src") == ["'self'", "data:", "blob:"], where
    assert "'unsafe-inline'" not in csp.get("script-src", []), where
    assert "'unsafe-eval'" not in csp.get("script-src", []), where


async def test_every_kind_of_page_carries_the_headers(live_server, db):
    member = await make_member(db)
    async with client(live_server) as http:
        anonymous = [
            await http.get("/account/login"),
            await http.get("/account/signup"),
            await http.get("/healthz"),
            await http.get("/"),
            await http.get("/no/such/page"),
            await http.get("/chat/", headers={"accept": "text/html"}),
            await http.post("/account/login", data={"email": "x@y.test", "password": "z"}),
        ]
        await sign_in(http, db, member)
        chat = await http.get("/chat/", headers={"accept": "text/html"})
        signed_in = [chat, await http.get("/billing/buy"), await http.get("/chat/project/settings")]
        asset = re.search(r'src="(/chat/assets/[^"]+\.js)"', chat.text)
        assert asset is not None, chat.text[:500]
        signed_in.append(await http.get(asset.group(1)))
    assert chat.status_code == 200
    for response in anonymous + signed_in:
        _assert_protected(response)


async def test_each_response_gets_its_own_nonce(live_server):
    async with client(live_server) as http:
        first = (await http.get("/account/login")).headers["content-security-policy"]
        second = (await http.get("/account/login")).headers["content-security-policy"]
    nonce = re.compile(r"'nonce-([^']+)'")
    one, two = nonce.search(first), nonce.search(second)
    assert one and two and one.group(1) != two.group(1)


async def test_chainlits_own_inline_scripts_are_allowed_by_hash(live_server, db):
    member = await make_member(db)
    async with client(live_server) as http:
        await sign_in(http, db, member)
        page = await http.get("/chat/", headers={"accept": "text/html"})
    scripts = _directives(page.headers["content-security-policy"])["script-src"]
    hashes = script_hashes(page.text)
    assert hashes and all(h in scripts for h in hashes)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
async def test_api_docs_are_off_by_default(live_server, db, path):
    assert Settings(_env_file=None).api_docs is False  # type: ignore[call-arg]
    async with client(live_server) as http:
        assert (await http.get(path)).status_code == 404
        member = await make_member(db)
        await sign_in(http, db, member)
        chainlit = await http.get("/chat" + path)
    assert "openapi" not in chainlit.text.lower()[:2000]


def test_only_the_paddle_checkout_may_use_paddle():
    policy = Policy(("'sha256-abc'",))
    chat = _directives(policy.for_path("/chat/", "n1"))
    checkout = _directives(policy.for_path("/billing/checkout/txn_1", "n2"))
    assert not any("paddle" in s for v in chat.values() for s in v)
    assert "https://cdn.paddle.com" in checkout["script-src"]
    assert "https://*.paddle.com" in checkout["frame-src"]
    assert checkout["frame-ancestors"] == ["'none'"]
    assert chat["script-src"] == ["'self'", "'nonce-n1'", "'sha256-abc'"]


@pytest.mark.parametrize(
    ("origin", "site", "refused"),
    [
        (None, None, False),
        (None, "none", False),
        (None, "same-origin", False),
        (None, "cross-site", True),
        (None, "same-site", True),
        ("null", None, True),
        ("http://app.test", None, False),
        ("HTTP://APP.TEST:80", "cross-site", False),
        ("http://app.test:8080", None, True),
        ("https://app.test", None, True),
        ("http://app.test.evil.example", None, True),
        ("not a url", None, True),
    ],
)
def test_the_same_origin_rule(origin, site, refused):
    allowed = origin_of("http://App.test/some/path")
    assert allowed == "http://app.test"
    assert (cross_site_reason(origin, site, allowed) is not None) is refused
