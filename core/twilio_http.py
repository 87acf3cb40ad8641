"""The HTTP client every Twilio API (Calls, Verify) is reached with."""

from __future__ import annotations

import httpx


def twilio_client(
    *,
    account_sid: str,
    auth_token: str,
    base_url: str,
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Basic auth with the account SID and auth token (kept only inside httpx's auth
    object: never on an instance, in a repr or a log), JSON answers, no redirects."""
    return httpx.AsyncClient(
        base_url=base_url,
        auth=httpx.BasicAuth(account_sid, auth_token),
        headers={"Accept": "application/json"},
        timeout=httpx.Timeout(timeout_s),
        transport=transport,
        follow_redirects=False,
    )
