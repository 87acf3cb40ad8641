"""When a campaign may call someone: its days and hours in the callee's local time,
inside the legal calling hours for the callee's number (telephony/rules.py).

A campaign window is a set of weekdays and a start–end time of day ("weekdays
10:00–16:00"), read in the callee's own time zone. For one callee the *effective*
window is that window narrowed by every calling rule that applies to the number
(08:00–21:00 everywhere; Florida, Oklahoma and Washington end at 20:00), and it must
hold in *every* time zone the number may be in. Pure functions over an injected time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telephony.numbers import PhoneInfo
from telephony.rules import CALLING_RULES, DEFAULT_WINDOW, CallingRule, rules_for

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAYS: tuple[int, ...] = (0, 1, 2, 3, 4)
EVERY_DAY: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
_LOOKAHEAD_DAYS = 8


class WindowError(ValueError):
    """A window that cannot be used (no days, start not before end...)."""


@dataclass(frozen=True)
class CampaignWindow:
    days: tuple[int, ...]  # 0 = Monday
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days:
            raise WindowError("A campaign needs at least one day of the week to call on.")
        if any(d not in range(7) for d in self.days):
            raise WindowError("Days of the week are 0 (Monday) to 6 (Sunday).")
        if not self.start < self.end:
            raise WindowError(
                f"The window's start ({self.start:%H:%M}) must be before its end "
                f"({self.end:%H:%M}) on the same day."
            )

    @property
    def label(self) -> str:
        days = sorted(set(self.days))
        if tuple(days) == WEEKDAYS:
            named = "weekdays"
        elif tuple(days) == EVERY_DAY:
            named = "every day"
        else:
            named = ", ".join(DAY_NAMES[d] for d in days)
        return f"{named} {self.start:%H:%M}–{self.end:%H:%M} callee's local time"


@dataclass(frozen=True)
class CalleeWindow:
    """A campaign window for one number: narrowed by the law, in all its zones."""

    days: tuple[int, ...]
    start: time
    end: time
    zones: tuple[str, ...]
    rules: tuple[str, ...]  # names of the stricter rules that narrowed it

    @property
    def empty(self) -> bool:
        return not self.start < self.end or not self.zones

    def open_at(self, moment: datetime) -> bool:
        """Whether a call may start at `moment` (timezone-aware)."""
        if self.empty:
            return False
        for name in self.zones:
            local = moment.astimezone(ZoneInfo(name))
            if local.weekday() not in self.days or not self.start <= local.time() < self.end:
                return False
        return True

    def next_open(self, after: datetime) -> datetime | None:
        """The first moment at or after `after` when the window is open (None: not
        within a week — it never opens)."""
        if self.open_at(after):
            return after
        if self.empty:
            return None
        candidates: set[datetime] = set()
        for name in self.zones:
            tz = ZoneInfo(name)
            today = after.astimezone(tz).date()
            for offset in range(_LOOKAHEAD_DAYS + 1):
                day = date.fromordinal(today.toordinal() + offset)
                candidates.add(datetime.combine(day, self.start, tz).astimezone(UTC))
        for moment in sorted(c for c in candidates if c > after):
            if self.open_at(moment):
                return moment
        return None


def _zones(names: Iterable[str]) -> tuple[str, ...]:
    good: list[str] = []
    for name in names:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return ()  # fail closed: a zone we cannot read might be outside the hours
        good.append(name)
    return tuple(good)


def callee_window(
    window: CampaignWindow, phone: PhoneInfo, rules: Sequence[CallingRule] = CALLING_RULES
) -> CalleeWindow:
    effective = rules_for(
        country=phone.country, state=phone.state, area_code=phone.area_code, rules=rules
    )
    narrowed = tuple(
        r.name
        for r in effective.applied
        if (r.start, r.end) != (DEFAULT_WINDOW.start, DEFAULT_WINDOW.end)
    )
    return CalleeWindow(
        days=tuple(sorted(set(window.days))),
        start=max(window.start, effective.window.start),
        end=min(window.end, effective.window.end),
        zones=_zones(phone.time_zones),
        rules=narrowed,
    )


def never_opens_reason(window: CampaignWindow, phone: PhoneInfo) -> str | None:
    """Why this campaign window can never open for the number (None: it can)."""
    cw = callee_window(window, phone)
    if not cw.zones:
        return "its time zone is unknown, so calling hours cannot be checked"
    legal = rules_for(country=phone.country, state=phone.state, area_code=phone.area_code)
    if not cw.start < cw.end:
        where = f" in {phone.state_name}" if cw.rules and phone.state_name else ""
        return (
            f"the window {window.start:%H:%M}–{window.end:%H:%M} lies outside the legal "
            f"calling hours{where} ({legal.window.label} local time)"
        )
    if cw.next_open(datetime.now(UTC)) is None:
        return "no moment is inside the window in every time zone the number may be in"
    return None


def retry_attempts_per_day(retry_after: timedelta, max_attempts: int) -> int:
    """The most attempts the retry rule makes to one number within any 24 hours:
    attempts `retry_after` apart, ⌈24 h / retry_after⌉ of them, at most `max_attempts`."""
    day = timedelta(hours=24)
    if max_attempts <= 1:
        return max(max_attempts, 0)
    if retry_after <= timedelta(0):
        return max_attempts
    return min(max_attempts, -(-day // retry_after))
