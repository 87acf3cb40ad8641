"""`X-Twilio-Signature`, made and checked by the `twilio` SDK's `RequestValidator`.

This module holds no signing code of its own: `compute` and `verify` hand the URL and
the parameters to the SDK. What it adds is the URL: the one Twilio signed is the
public URL Twilio requested, rebuilt from `PUBLIC_BASE_URL` with `public_url` (for a
ConversationRelay handshake, its `wss://` twin) — never from the request's Host
header, which differs behind a proxy or tunnel and is attacker-controlled.

The SDK signs base64(HMAC-SHA1(auth token, URL + every POST parameter sorted by name,
each as name then value)); a websocket handshake (a GET) signs the URL alone. Checking
tries the URL as rebuilt first (one HMAC), then, as the SDK does, both with and without
the scheme's default port.
Repeated parameter names are kept (a `MultiDict`), so the SDK signs every value.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Final

from multidict import MultiDict
from twilio.request_validator import RequestValidator

HEADER: Final = "X-Twilio-Signature"

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def public_url(public_base_url: str, path: str, query: str = "") -> str:
    """The URL Twilio signed: our configured public base URL, the request path and the
    raw (still percent-encoded) query string, exactly as received."""
    base = public_base_url.rstrip("/")
    url = base + (path if path.startswith("/") else "/" + path)
    query = query.lstrip("?")
    return f"{url}?{query}" if query else url


def websocket_base(public_base_url: str) -> str:
    """`https://host` → `wss://host`, `http://host` → `ws://host`: where Twilio opens
    a ConversationRelay socket, and so the URL it signs the handshake with."""
    base = public_base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://")
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://")
    raise ValueError(f"PUBLIC_BASE_URL must be an http(s) URL, not {public_base_url!r}")


def _multidict(params: Params | None) -> MultiDict[str]:
    items = params.items() if isinstance(params, Mapping) else (params or ())
    return MultiDict((str(k), str(v)) for k, v in items)


@lru_cache(maxsize=8)
def _validator(auth_token: str) -> RequestValidator:
    """One `RequestValidator` per auth token, built once rather than per request (it
    holds nothing but the token)."""
    return RequestValidator(auth_token)


def compute(url: str, params: Params | None, auth_token: str) -> str:
    """The `X-Twilio-Signature` Twilio sends for a request to `url` with form `params`
    (None for a websocket handshake). The simulated carrier signs with this."""
    return str(_validator(auth_token).compute_signature(url, _multidict(params)))


def verify(url: str, params: Params | None, header: str | None, auth_token: str) -> bool:
    """Whether `header` is Twilio's signature of a request to `url` with form `params`
    (None for a websocket handshake). A missing header or empty token never verifies."""
    if not header or not auth_token:
        return False
    validator, signed = _validator(auth_token), _multidict(params)
    # Twilio signs the URL it requested, which is `url` as rebuilt: one HMAC settles
    # nearly every request. Only a mismatch pays for the SDK's check of both port forms.
    exact = str(validator.compute_signature(url, signed))
    if hmac.compare_digest(exact.encode(), header.encode("utf-8", "surrogateescape")):
        return True
    return bool(validator.validate(url, signed, header))
