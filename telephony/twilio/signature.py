"""`X-Twilio-Signature`: how Twilio signs the webhooks it sends us.

As Twilio documents it (and twilio-python's `RequestValidator` implements it):

- Form-encoded POSTs: take the full URL Twilio requested, query string included, and
  append every POST parameter sorted by name, each as name immediately followed by
  value (no separators). Repeated names contribute each value, values sorted.
  The signature is base64(HMAC-SHA1(auth token, that string)).
- JSON bodies: the URL carries `bodySHA256=<hex SHA-256 of the raw body>` in its query
  string and only the URL is signed; the body hash is checked separately.
- Validation accepts the URL both without a port and with the scheme's default port
  (`:443` / `:80`), as twilio-python does.

The URL must be the public one Twilio called, rebuilt from `PUBLIC_BASE_URL` with
`public_url` — never from the request's Host header, which differs behind a proxy
or tunnel (and is attacker-controlled).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import parse_qs, urlsplit, urlunsplit

HEADER: Final = "X-Twilio-Signature"
BODY_HASH_PARAM: Final = "bodySHA256"

Params = Mapping[str, str] | Iterable[tuple[str, str]]

_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def public_url(public_base_url: str, path: str, query: str = "") -> str:
    """The URL Twilio signed: our configured public base URL, the request path and the
    raw (still percent-encoded) query string, exactly as received."""
    base = public_base_url.rstrip("/")
    url = base + (path if path.startswith("/") else "/" + path)
    query = query.lstrip("?")
    return f"{url}?{query}" if query else url


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    return [(str(k), str(v)) for k, v in items]


def signing_string(url: str, params: Params | None = None) -> str:
    """The URL followed by the POST parameters sorted by name (then value)."""
    pairs = sorted(_pairs(params or {}))
    return url + "".join(k + v for k, v in pairs)


def compute(url: str, params: Params | None, auth_token: str) -> str:
    """base64(HMAC-SHA1(auth_token, url + sorted params)) — the header's value."""
    mac = hmac.new(
        auth_token.encode("utf-8"), signing_string(url, params).encode("utf-8"), hashlib.sha1
    )
    return base64.b64encode(mac.digest()).decode("ascii")


def body_sha256(body: bytes | str) -> str:
    """The hex SHA-256 Twilio puts in `bodySHA256` for a JSON body."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hashlib.sha256(raw).hexdigest()


def _url_variants(url: str) -> list[str]:
    """The URL without a port and with the scheme's default port (twilio-python's rule)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    without_port = urlunsplit(parts._replace(netloc=prefix + host))
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    variants = [without_port]
    if port is not None:
        with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}"))
        variants.append(with_port)
    if url not in variants:
        variants.append(url)
    return variants


def _matches(expected: str, header: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), header.encode("utf-8"))


def verify(url: str, params: Params | None, header: str | None, auth_token: str) -> bool:
    """Whether `header` is Twilio's signature of a form-encoded request to `url`.

    Compares in constant time; a missing header or empty token never verifies.
    """
    if not header or not auth_token:
        return False
    pairs = _pairs(params or {})
    # Check every variant, so timing does not reveal which one matched.
    results = [_matches(compute(u, pairs, auth_token), header) for u in _url_variants(url)]
    return any(results)


def verify_json(url: str, body: bytes | str, header: str | None, auth_token: str) -> bool:
    """Whether `header` signs a JSON-body request: `bodySHA256` in the URL's query must
    be the body's SHA-256, and the signature covers the URL alone."""
    if not header or not auth_token:
        return False
    hashes = parse_qs(urlsplit(url).query).get(BODY_HASH_PARAM)
    if not hashes or len(hashes) != 1:
        return False
    body_ok = _matches(body_sha256(body), hashes[0].lower())
    return verify(url, None, header, auth_token) and body_ok
