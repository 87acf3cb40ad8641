"""Where a webhook may be sent: no server-side request forgery.

A receiver URL must be `https://`, name a host (no user:password@), and every address
that host resolves to must be a public one: loopback, private (RFC 1918, fc00::/7),
link-local (169.254/16 — cloud metadata — and fe80::/10), carrier-grade NAT,
multicast, reserved and unspecified addresses are refused. This is checked when a
manager configures the URL *and again on every delivery*, on the addresses resolved
for that very request, which is then sent to the checked address (the Host header and
TLS server name stay the URL's host), so a DNS answer that changes in between (DNS
rebinding) cannot steer a delivery inside.

`allow_loopback` (the `WEBHOOK_TEST_ALLOW_LOOPBACK` setting, for tests only) lets a
receiver on 127.0.0.1 / ::1 through, over http too; private and link-local addresses
stay refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from core.errors import KloseError

MAX_URL_CHARS: Final = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookUrlError(KloseError, ValueError):
    """A receiver URL we will not send to (the message says why, in plain words)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the public address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # with the query, if any
    address: IPAddress

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def _plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped or NAT64-free IPv6 address as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_allowed(address: IPAddress, *, allow_loopback: bool) -> bool:
    """Whether we may connect to `address`: public only (loopback when allowed)."""
    plain = _plain(address)
    if allow_loopback and plain.is_loopback:
        return True
    return bool(plain.is_global) and not (plain.is_multicast or plain.is_reserved)


def parse(url: str, *, allow_loopback: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a receiver URL, or WebhookUrlError."""
    url = (url or "").strip()
    if not url:
        raise WebhookUrlError("Give the receiver's URL, e.g. https://hooks.example.com/klosesales.")
    if len(url) > MAX_URL_CHARS or any(ord(c) < 33 or ord(c) == 127 or c in '`<>"\\' for c in url):
        raise WebhookUrlError(
            "That webhook URL is too long or has spaces, quotes, backticks or control characters."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlError(f"That is not a valid URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme != "https" and not (allow_loopback and scheme == "http"):
        raise WebhookUrlError(
            "Webhook URLs must start with https:// — events carry customer data and are "
            "only sent encrypted."
        )
    if not host:
        raise WebhookUrlError("That webhook URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("Webhook URLs cannot carry a user name or password.")
    if parts.fragment:
        raise WebhookUrlError("Webhook URLs cannot have a #fragment.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to now (an IP literal: itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookUrlError(f"The host {host!r} does not resolve: {exc}.") from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise WebhookUrlError(f"The host {host!r} does not resolve to any address.")
    return found


async def check(url: str, *, allow_loopback: bool) -> Target:
    """The URL's target, if every address its host resolves to now is allowed; else
    WebhookUrlError (nothing is sent)."""
    scheme, host, port, path = parse(url, allow_loopback=allow_loopback)
    addresses = await resolve(host, port)
    refused = [a for a in addresses if not address_allowed(a, allow_loopback=allow_loopback)]
    if refused:
        raise WebhookUrlError(
            f"Refused: {host} points at a private, loopback or link-local address "
            f"({refused[0]}). Webhooks only go to public internet addresses."
        )
    if scheme == "http" and not all(_plain(a).is_loopback for a in addresses):
        raise WebhookUrlError("Webhook URLs must start with https://.")
    return Target(url.strip(), scheme, host, port, path, addresses[0])
