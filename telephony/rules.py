"""The compliance rules as data: calling hours, attempt caps, the minimum call.

Calling hours (PROVIDERS.md, "TCPA and AI calls"): 08:00–21:00 in the called party's
local time everywhere; some states are stricter. A rule applies to a number when its
country and state (derived from the area code, telephony/numbers.py) or its area code
match; every rule that applies narrows the window (the latest start and the earliest
end win) and may lower the attempt cap. Add a state or an area code here, as data;
the gate (telephony/compliance.py) needs no change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import time

from billing.money import CALL_SECOND_PRICE_MC

# The least a call must be able to last before it is placed: 30 seconds = 30 credits.
MIN_CALL_SECONDS = 30
MIN_CALL_MC = MIN_CALL_SECONDS * CALL_SECOND_PRICE_MC

# Attempts per number per rolling 24 hours, per workspace (Florida and Oklahoma's cap,
# applied everywhere).
MAX_ATTEMPTS_PER_24H = 3


@dataclass(frozen=True)
class CallingWindow:
    """Local wall-clock hours in which a call may start: start <= t < end."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        return self.start <= local < self.end

    @property
    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


DEFAULT_WINDOW = CallingWindow(time(8, 0), time(21, 0))


@dataclass(frozen=True)
class CallingRule:
    """A stricter rule for numbers of one state (country + state) or one area code."""

    name: str  # shown to the rep: "Florida"
    source: str  # where the rule comes from
    start: time = DEFAULT_WINDOW.start
    end: time = DEFAULT_WINDOW.end
    country: str | None = None
    state: str | None = None
    area_code: str | None = None
    max_attempts_per_24h: int | None = None

    def applies_to(self, *, country: str | None, state: str | None, area: str | None) -> bool:
        if self.area_code is not None:
            return self.area_code == area
        return (
            self.state is not None
            and self.state == state
            and (self.country is None or self.country == country)
        )


CALLING_RULES: tuple[CallingRule, ...] = (
    CallingRule(
        name="Florida",
        source="Florida Telephone Solicitation Act (Fla. Stat. § 501.059)",
        end=time(20, 0),
        country="US",
        state="FL",
        max_attempts_per_24h=3,
    ),
    CallingRule(
        name="Oklahoma",
        source="Oklahoma Telephone Solicitation Act (Okla. Stat. tit. 15, § 775C)",
        end=time(20, 0),
        country="US",
        state="OK",
        max_attempts_per_24h=3,
    ),
    CallingRule(
        name="Washington",
        source="Washington telephone solicitation law (RCW 80.36.390)",
        end=time(20, 0),
        country="US",
        state="WA",
    ),
)


@dataclass(frozen=True)
class EffectiveRules:
    window: CallingWindow
    max_attempts_per_24h: int
    applied: tuple[CallingRule, ...]

    @property
    def window_label(self) -> str:
        names = ", ".join(rule.name for rule in self.applied if _narrows_window(rule))
        return f"{self.window.label} ({names})" if names else self.window.label


def _narrows_window(rule: CallingRule) -> bool:
    return rule.start > DEFAULT_WINDOW.start or rule.end < DEFAULT_WINDOW.end


def rules_for(
    *,
    country: str | None,
    state: str | None,
    area_code: str | None,
    rules: Iterable[CallingRule] = CALLING_RULES,
) -> EffectiveRules:
    applied: Sequence[CallingRule] = tuple(
        rule for rule in rules if rule.applies_to(country=country, state=state, area=area_code)
    )
    start, end, cap = DEFAULT_WINDOW.start, DEFAULT_WINDOW.end, MAX_ATTEMPTS_PER_24H
    for rule in applied:
        start = max(start, rule.start)
        end = min(end, rule.end)
        if rule.max_attempts_per_24h is not None:
            cap = min(cap, rule.max_attempts_per_24h)
    return EffectiveRules(CallingWindow(start, end), cap, tuple(applied))
