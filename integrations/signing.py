"""The signature on every webhook we send, and how a receiver checks it.

Header `Klosesales-Signature: ts=<unix seconds>;h1=<hex>`, where `h1` is
HMAC-SHA256, keyed with the receiver's secret, over `"<ts>.<raw body>"` (Paddle's
scheme with a dot). A receiver recomputes it over the raw bytes it received, compares
in constant time and refuses a timestamp older than a few minutes (replays); the
`Klosesales-Event-Id` header (also `id` in the body) is its de-duplication key.
docs/webhooks.md has the receiver's code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Final

HEADER: Final = "Klosesales-Signature"
EVENT_ID_HEADER: Final = "Klosesales-Event-Id"
EVENT_TYPE_HEADER: Final = "Klosesales-Event-Type"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE_S: Final = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value for `body`, signed now (or at `timestamp`)."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"ts={ts};h1={mac}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether `header` signs `body` with `secret`, within `tolerance_s` of now."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(";") if "=" in p)
    try:
        ts = int(parts.get("ts", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("h1", ""))
