"""Fixed-window rate limits kept in PostgreSQL, so every process shares them.

`allow()` counts one attempt against each key and says whether all stayed within
their limit. Keys look like `signup:ip:203.0.113.9` or
`code:login:to+ip:+14155552671|203.0.113.9`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import KloseError


@dataclass(frozen=True)
class Limit:
    name: str
    hits: int
    window_s: int


# Lockouts are per flow and per requester (issue 15): what one requester (an IP) gets
# wrong in one flow counts against that requester in that flow, never against the
# owner of an email or number in another flow. Per-target backstops (…_PER_EMAIL,
# …_PER_NUMBER) stay well above what one requester may do, so that only a spread-out
# attack can reach them, and they bound only the flow they belong to. Verify's own
# 5 sends / 5 checks per verification apply too, per flow (accounts/otp).
SIGNUP_PER_IP = Limit("signup:ip", 10, 3600)
SIGNUP_PER_REQUESTER = Limit("signup:to+ip", 5, 3600)  # subject: requester(mobile, ip)
SIGNUP_PER_NUMBER = Limit("signup:to", 15, 3600)
LOGIN_PER_IP = Limit("login:ip", 30, 600)
LOGIN_PER_REQUESTER = Limit("login:email+ip", 10, 600)  # subject: requester(email, ip)
LOGIN_PER_EMAIL = Limit("login:email", 50, 600)
CODE_PER_IP = Limit("code:ip", 40, 600)
RESET_PER_IP = Limit("reset:ip", 10, 3600)
RESET_PER_REQUESTER = Limit("reset:email+ip", 5, 3600)  # subject: requester(email, ip)
RESET_PER_EMAIL = Limit("reset:email", 20, 3600)
# Fewer wrong reset codes per requester than Verify's 5 checks: no single requester can
# use up the reset verification that the owner's code belongs to.
RESET_CODE_PER_REQUESTER = Limit("code:reset:email+ip", 3, 600)


def code_per_requester(flow: str) -> Limit:
    """Code checks and re-sends one requester may make in one flow for one number."""
    return Limit(f"code:{flow}:to+ip", 10, 600)


def requester(subject: str, ip: str | None) -> str:
    """The key of one requester (an IP) acting on one email or number."""
    return f"{subject}|{ip or '?'}"


_ip_multiplier = 1


def configure(*, ip_multiplier: int) -> None:
    """Scale the per-IP limits (a deployment behind one NAT, or a test suite whose every
    request comes from 127.0.0.1); per-number and per-email limits never change."""
    global _ip_multiplier
    _ip_multiplier = max(1, ip_multiplier)


def _allowed(limit: Limit) -> int:
    return limit.hits * _ip_multiplier if limit.name.endswith(":ip") else limit.hits


class RateLimited(KloseError):
    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, round(retry_after_s / 60))
        self.wait_hint = (
            f"Please wait about {minutes} minute{'s' if minutes > 1 else ''} and try again."
        )
        super().__init__(f"Too many attempts. {self.wait_hint}")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Window:
    """One limit's current window for one subject: where its attempts are counted."""

    key: str  # `<limit name>:<subject>`, lower-cased, at most 200 characters
    start: int  # the window's start, in seconds since the epoch
    allowed: int
    window_s: int


def windows(checks: list[tuple[Limit, str]], at: datetime) -> list[Window]:
    """The windows that (limit, subject) `checks` count in at `at`: distinct, sorted by
    key and start (concurrent callers lock their rows in that order)."""
    epoch = int(at.timestamp())
    found: dict[tuple[str, int], Window] = {}
    for limit, subject in checks:
        key = f"{limit.name}:{subject.lower()}"[:200]
        start = epoch - epoch % limit.window_s
        found[(key, start)] = Window(key, start, _allowed(limit), limit.window_s)
    return [found[k] for k in sorted(found)]


def retry_after(counted: list[tuple[Window, int]], at: datetime) -> int:
    """Seconds until every window over its allowance has ended (0: none is over), from
    each window and its count after this attempt."""
    worst = 0
    for window, hits in counted:
        if hits > window.allowed:
            worst = max(worst, int(window.start + window.window_s - at.timestamp()) + 1)
    return worst


async def allow(
    session: AsyncSession, checks: list[tuple[Limit, str]], *, now: datetime | None = None
) -> None:
    """Count one attempt for each (limit, subject); raise RateLimited if any is over.

    Runs in its own short transaction on the caller's session (committed here) so that
    attempts are counted even when the caller's work fails."""
    at = now or datetime.now(UTC)
    counting = windows(checks, at)
    # One statement for every window.
    rows = await session.execute(
        text(
            "INSERT INTO rate_limit_hits (key, window_start, hits)"
            " SELECT k, to_timestamp(w), 1 FROM unnest(CAST(:keys AS text[]),"
            " CAST(:starts AS bigint[])) AS t(k, w)"
            " ON CONFLICT (key, window_start)"
            " DO UPDATE SET hits = rate_limit_hits.hits + 1"
            " RETURNING key, CAST(extract(epoch FROM window_start) AS bigint), hits"
        ),
        {"keys": [w.key for w in counting], "starts": [w.start for w in counting]},
    )
    hits = {(key, int(start)): int(count) for key, start, count in rows}
    await session.commit()
    worst = retry_after([(w, hits.get((w.key, w.start), 0)) for w in counting], at)
    if worst:
        raise RateLimited(worst)


async def prune(session: AsyncSession, *, older_than: timedelta = timedelta(days=1)) -> int:
    result = await session.execute(
        text("DELETE FROM rate_limit_hits WHERE window_start < :cutoff"),
        {"cutoff": datetime.now(UTC) - older_than},
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
