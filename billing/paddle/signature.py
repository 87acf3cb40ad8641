"""`Paddle-Signature` webhooks headers: `ts=<unix seconds>;h1=<hex HMAC-SHA256>`.

The HMAC is keyed with the notification destination's secret over `"{ts}:{raw body}"`.
While a secret is rotated Paddle sends one `h1` per active secret; any match passes.
Comparisons are constant-time and made on the raw bytes, never on re-serialised JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

from core.errors import KloseError


class SignatureError(KloseError):
    """The webhook's signature is missing, malformed, stale or wrong."""


def compute(body: bytes, secret: str, ts: int) -> str:
    return hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: Iterable[str], *, ts: int | None = None) -> str:
    """The header Paddle would send for `body` (one h1 per secret)."""
    stamp = int(time.time()) if ts is None else ts
    parts = [f"ts={stamp}"] + [f"h1={compute(body, s, stamp)}" for s in secrets]
    return ";".join(parts)


def verify(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    tolerance_s: int,
    now: float | None = None,
) -> int:
    """Check the header against the raw body; returns the signed timestamp.

    Raises SignatureError with the reason (which is safe to log: it never holds the
    secret or the expected digest)."""
    if not header:
        raise SignatureError("missing Paddle-Signature header")
    ts_values: list[str] = []
    digests: list[str] = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed Paddle-Signature header")
        if key == "ts":
            ts_values.append(value)
        elif key == "h1":
            digests.append(value)
    if len(ts_values) != 1 or not digests:
        raise SignatureError("Paddle-Signature needs one ts and at least one h1")
    if not ts_values[0].isdigit():
        raise SignatureError("Paddle-Signature timestamp is not a unix time")
    ts = int(ts_values[0])
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        raise SignatureError(f"Paddle-Signature timestamp is {int(current - ts)} s off")
    expected = compute(body, secret, ts)
    # Check every h1 (no early exit) so the time taken does not depend on which matched.
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(expected.encode(), digest.strip().lower().encode())
    if not matched:
        raise SignatureError("Paddle-Signature does not match the body")
    return ts
