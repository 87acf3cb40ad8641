"""The one way this app reaches Twilio's REST APIs (Calls, Verify): the official `twilio`
SDK's `Client` on the SDK's async HTTP client (aiohttp).

`twilio_client` builds the client; `TwilioHttp` is `AsyncTwilioHttpClient` with three
additions:

- `base_url`: every request the SDK addresses to `https://<product>.twilio.com` (or an
  edge/region host) goes to this origin instead, path and query kept. Tests point it
  at a local HTTP double; production leaves it unset (`TWILIO_API_BASE`).
- a whole-request timeout (`ClientTimeout(total=…)`): the SDK's async client ignores
  the one given to its constructor;
- the aiohttp session is made on first use, inside the running event loop (and made
  again if the loop changed), so a provider can be built outside a coroutine.

No retries (a create that timed out may still have placed a call or sent a code). The
auth token lives only in the SDK client's credentials and the basic-auth header: it is
not kept elsewhere, and the SDK's request log leaves the Authorization header out.
Errors stay the SDK's: `twilio.base.exceptions.TwilioRestException` (or, for RFC 9457
answers, `TwilioServiceException`), both with `code` and `status`; `aiohttp.ClientError`
and `TimeoutError` when Twilio cannot be reached. `rest_error` reads either.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from aiohttp import ClientSession, ClientTimeout
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

# The SDK logs every request and response at INFO; ours are logged by the providers.
SDK_LOG: Final = logging.getLogger("klosesales.twilio_sdk")
SDK_LOG.setLevel(logging.WARNING)

_PREFIX_SEPARATOR: Final = ": "


class TwilioHttp(AsyncTwilioHttpClient):  # type: ignore[misc]  # the SDK ships no types
    """The SDK's async HTTP client, rebased onto `base_url` when one is given."""

    session: ClientSession | None

    def __init__(self, *, timeout_s: float, base_url: str | None = None) -> None:
        super().__init__(pool_connections=False, timeout=timeout_s, logger=SDK_LOG)
        self._timeout_s = timeout_s
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None
        if self._base is not None and (not self._base.scheme or not self._base.netloc):
            raise ValueError(f"Not an absolute base URL: {base_url!r}")
        self._loop: asyncio.AbstractEventLoop | None = None

    def rebase(self, url: str) -> str:
        """`url` with its scheme and host replaced by the base URL's (path kept)."""
        if self._base is None:
            return url
        parts = urlsplit(url)
        path = self._base.path + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK calls it so
        allow_redirects: bool = False,
    ) -> Any:
        loop = asyncio.get_running_loop()
        if self.session is None or self.session.closed or self._loop is not loop:
            # A session belongs to the loop it was made in: a new loop needs its own.
            self.session = ClientSession(timeout=ClientTimeout(total=self._timeout_s))
            self._loop = loop
        return await super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            # aiohttp reads None as "no timeout", not as "the session's timeout".
            timeout=timeout if timeout is not None else self._timeout_s,
            allow_redirects=allow_redirects,
        )

    async def close(self) -> None:
        session, self.session = self.session, None
        if session is not None and not session.closed:
            await session.close()


def twilio_client(
    *, account_sid: str, auth_token: str, timeout_s: float, base_url: str | None = None
) -> Client:
    """The SDK's `Client` for one account, on `TwilioHttp`. Call
    `await client.http_client.close()` when done."""
    if not account_sid or not auth_token:
        raise ValueError("A Twilio Account SID and Auth Token are required.")
    http = TwilioHttp(timeout_s=timeout_s, base_url=base_url)
    return Client(account_sid, auth_token, http_client=http)


@dataclass(frozen=True)
class RestError:
    """What a Twilio error answer said. `code` is Twilio's error code (None when the
    answer had none: the SDK then repeats the HTTP status there); `message` is
    Twilio's own text without the SDK's "Unable to … record:" prefix."""

    status: int | None
    code: int | None
    message: str

    @property
    def more_info(self) -> str | None:
        return f"https://www.twilio.com/docs/errors/{self.code}" if self.code else None


def rest_error(exc: TwilioException) -> RestError:
    """Read a `TwilioRestException` or `TwilioServiceException`."""
    status = getattr(exc, "status", None)
    raw_code = getattr(exc, "code", None)
    # Twilio's error codes have five digits; a smaller one is the SDK's stand-in (the
    # HTTP status) for an answer that carried no code.
    code = raw_code if isinstance(raw_code, int) and raw_code >= 10000 else None
    if isinstance(exc, TwilioServiceException):
        message = str(exc.detail or exc.title or "")
    elif isinstance(exc, TwilioRestException):
        message = str(exc.msg or "")
        prefix, sep, rest = message.partition(_PREFIX_SEPARATOR)
        if sep and prefix.startswith("Unable to "):
            message = rest
        elif message.startswith("Unable to "):
            message = ""  # the SDK's own words: Twilio sent no message
    else:
        message = ""
    return RestError(status=status if isinstance(status, int) else None, code=code, message=message)
