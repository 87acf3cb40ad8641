"""What every browser-facing response and request passes through, for the whole app.

Two ASGI middlewares, installed outermost by `install` (chat_app/server.py), so they
run before any route, any other middleware and the mounted Chainlit app:

`SameOrigin` — the app's one cross-site request check (no route checks its own).
A request is *checked* when it can change state: every HTTP method but GET, HEAD and
OPTIONS, on every path (billing, accounts, Chainlit's REST routes, webhooks), plus
every request to Chainlit's socket.io endpoint and every websocket handshake under
/chat. A checked request is refused with 403, before anything reads it, when

* it has an `Origin` header that is not the origin of `PUBLIC_BASE_URL` (scheme,
  host and port; `Origin: null` included), or
* it has no `Origin` but a `Sec-Fetch-Site` of `cross-site` or `same-site`.

A request with neither header is allowed, on webhook paths and everywhere else:
browsers send `Origin` on every cross-origin POST, fetch and websocket handshake
(and `Sec-Fetch-Site` on every request), so a request without either is not from a
browser and carries no victim's cookies; Twilio and Paddle (signed, server to server)
and the CLI are such clients. `Sec-Fetch-Site: same-origin` or `none` without an
`Origin` is allowed too.

`SecurityHeaders` — every HTTP response gets a Content-Security-Policy (with
`frame-ancestors 'none'`), `X-Frame-Options: DENY`, `X-Content-Type-Options:
nosniff` and `Referrer-Policy: strict-origin-when-cross-origin`, unless the route set
its own. The policy allows scripts from our origin, Chainlit's own inline scripts (by
hash) and inline scripts carrying the request's nonce (`request.state.csp_nonce`);
images only from our origin, `data:` and `blob:` — so Markdown that slipped through
unescaped still cannot make a reader's browser fetch another site. The live Paddle
checkout page also may load Paddle.js and frame Paddle's checkout.

It also bounds Chainlit's upload endpoint: a body larger than the configured upload
size (plus room for the multipart framing), or of unknown length, is refused (413 /
411) before it is read.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED_FETCH_SITES = frozenset({"cross-site", "same-site"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Paths a policy may widen: Paddle's hosted checkout runs Paddle.js in a frame.
PADDLE_CHECKOUT_PREFIX = "/billing/checkout/"
PADDLE_SOURCES = "https://cdn.paddle.com https://*.paddle.com"
# Chainlit's page links Google Fonts and KaTeX's stylesheet (and their fonts).
CHAINLIT_STYLE_SOURCES = "https://fonts.googleapis.com https://cdn.jsdelivr.net"
CHAINLIT_FONT_SOURCES = "https://fonts.gstatic.com https://cdn.jsdelivr.net"
# Multipart framing around one uploaded file (boundaries, part headers, the name).
UPLOAD_FRAMING_BYTES = 64 * 1024
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, default ports dropped: the form
    browsers send in `Origin`. Raises ValueError for a URL with no scheme or host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not scheme or not host:
        raise ValueError(f"not an absolute URL: {url!r}")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    port = parts.port
    return (
        f"{scheme}://{host}"
        if port in (None, _DEFAULT_PORTS.get(scheme))
        else (f"{scheme}://{host}:{port}")
    )


def cross_site_reason(origin: str | None, fetch_site: str | None, allowed: str) -> str | None:
    """Why a state-changing request with these headers is refused, or None to allow it
    (the rule in the module docstring). `allowed` is an `origin_of` result."""
    if origin is not None:
        if origin.strip().lower() == "null":
            return "it came from an opaque origin (Origin: null)"
        try:
            same = origin_of(origin) == allowed
        except ValueError:
            same = False
        return None if same else f"it came from {origin[:200]}"
    if fetch_site is not None and fetch_site.strip().lower() in REFUSED_FETCH_SITES:
        return f"the browser marked it {fetch_site.strip().lower()}"
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


@dataclass(frozen=True)
class Paths:
    """The mounted chat's paths the middlewares treat specially."""

    chat: str = "/chat"

    @property
    def socket_io(self) -> str:
        return f"{self.chat}/ws/socket.io"

    @property
    def upload(self) -> str:
        return f"{self.chat}/project/file"

    def in_chat(self, path: str) -> bool:
        return path == self.chat or path.startswith(self.chat + "/")


class SameOrigin:
    """Refuses cross-site state-changing requests with 403 (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origin: str,
        paths: Paths,
        upload_max_bytes: int,
    ) -> None:
        self.app = app
        self.allowed = origin_of(allowed_origin)
        self.paths = paths
        self.upload_max_bytes = upload_max_bytes

    def checked(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if scope["type"] == "websocket":
            return self.paths.in_chat(path)
        if scope["type"] != "http":
            return False
        return scope.get("method", "GET") not in SAFE_METHODS or path.startswith(
            self.paths.socket_io
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.checked(scope):
            await self.app(scope, receive, send)
            return
        reason = cross_site_reason(
            _header(scope, b"origin"), _header(scope, b"sec-fetch-site"), self.allowed
        )
        if reason is not None:
            path = str(scope.get("path", ""))[:200]
            log.info("refused a cross-site %s to %s: %s", scope["type"], path, reason)
            await self._refuse(scope, send, reason)
            return
        if self.is_upload(scope) and not await self._upload_fits(scope, send):
            return
        await self.app(scope, receive, send)

    def is_upload(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path") == self.paths.upload
        )

    async def _refuse(self, scope: Scope, send: Send, reason: str) -> None:
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 4403})
            return
        body = (
            f"Refused: {reason}. This site accepts changes only from its own pages at "
            f"{self.allowed} (PUBLIC_BASE_URL)."
        ).encode()
        await _plain(send, 403, body)

    async def _upload_fits(self, scope: Scope, send: Send) -> bool:
        length = _header(scope, b"content-length")
        if length is None or not length.strip().isdecimal():
            await _plain(send, 411, b"An upload must state its Content-Length.")
            return False
        if int(length) > self.upload_max_bytes:
            limit_mb = (self.upload_max_bytes - UPLOAD_FRAMING_BYTES) / (1024 * 1024)
            await _plain(send, 413, f"The file is larger than {limit_mb:g} MB.".encode())
            return False
        return True


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def script_hashes(html: str) -> list[str]:
    """CSP sources (`'sha256-…'`) for each inline `<script>` in `html`."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


@dataclass(frozen=True)
class Policy:
    """Builds the Content-Security-Policy for one response."""

    script_hashes: tuple[str, ...] = ()

    def for_path(self, path: str, nonce: str) -> str:
        paddle = path.startswith(PADDLE_CHECKOUT_PREFIX)
        extra = f" {PADDLE_SOURCES}" if paddle else ""
        scripts = " ".join(("'self'", f"'nonce-{nonce}'", *self.script_hashes))
        directives = [
            "default-src 'self'",
            f"script-src {scripts}{extra}",
            f"style-src 'self' 'unsafe-inline' {CHAINLIT_STYLE_SOURCES}{extra}",
            f"font-src 'self' data: {CHAINLIT_FONT_SOURCES}",
            f"img-src 'self' data: blob:{extra}",
            f"connect-src 'self'{extra}",
            "media-src 'self' data: blob:",
            "worker-src 'self' blob:",
            f"frame-src 'self'{extra}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
        return "; ".join(directives)


class SecurityHeaders:
    """Adds the CSP and the other protective headers to every HTTP response, and puts a
    fresh CSP nonce in `request.state.csp_nonce` for templates' inline scripts."""

    def __init__(self, app: ASGIApp, *, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        csp = self.policy.for_path(str(scope.get("path", "")), nonce)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k, v) for k, v in _headers(csp) if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _headers(csp: str) -> Iterable[tuple[bytes, bytes]]:
    yield b"content-security-policy", csp.encode()
    yield b"x-frame-options", b"DENY"
    yield b"x-content-type-options", b"nosniff"
    yield b"referrer-policy", b"strict-origin-when-cross-origin"


def install(
    add_middleware: Callable[..., None],
    *,
    public_base_url: str,
    chat_path: str,
    chainlit_html: str,
    upload_max_mb: float,
) -> None:
    """Add both middlewares through `app.add_middleware`, after every other middleware
    (so they wrap all of them): headers outermost, then the same-origin check.
    `chainlit_html` is Chainlit's served page (its inline scripts are hashed)."""
    add_middleware(
        SameOrigin,
        allowed_origin=public_base_url,
        paths=Paths(chat=chat_path),
        upload_max_bytes=int(upload_max_mb * 1024 * 1024) + UPLOAD_FRAMING_BYTES,
    )
    add_middleware(SecurityHeaders, policy=Policy(tuple(script_hashes(chainlit_html))))


DOCS_PATHS = ("docs_url", "redoc_url", "openapi_url", "swagger_ui_oauth2_redirect_url")


def secure_chainlit(*, api_docs: bool) -> tuple[str, float]:
    """Checks and trims the mounted Chainlit app; returns its page (for the CSP's script
    hashes) and the upload size limit in MB (0 when uploads are off).

    Chainlit wraps its app in Starlette's CORSMiddleware with `allow_credentials=True`
    and `.chainlit/config.toml`'s `allow_origins`: with `"*"` there, any site's origin
    is reflected with credentials, so that refuses to start. Its own FastAPI docs
    (/chat/docs, /chat/openapi.json) are dropped unless `api_docs`."""
    from chainlit.config import config
    from chainlit.server import app as chainlit_app
    from chainlit.server import get_html_template

    if "*" in config.project.allow_origins:
        raise RuntimeError(
            '.chainlit/config.toml: allow_origins must not contain "*" (Chainlit would '
            "let any site read the chat with the user's cookies); the chat needs no CORS."
        )
    if not api_docs:
        drop = {getattr(chainlit_app, name) for name in DOCS_PATHS} - {None}
        chainlit_app.router.routes[:] = [
            r for r in chainlit_app.router.routes if getattr(r, "path", None) not in drop
        ]
        for name in DOCS_PATHS:
            setattr(chainlit_app, name, None)
    upload = config.features.spontaneous_file_upload
    limit_mb = float(upload.max_size_mb or 0) if upload is not None and upload.enabled else 0.0
    return get_html_template(""), limit_mb  # type: ignore[no-untyped-call]
