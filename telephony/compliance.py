"""The compliance gate: run before every dial (DESIGN.md §6 step 2).

A call is allowed only when all of these hold; a denial names every one that fails:

- consent is on record for the number and not revoked (nor, for an existing business
  relationship, older than the rules allow);
- the number is on neither the workspace's nor the platform's do-not-call list;
- it is inside calling hours (08:00–21:00, narrower where a state's rule says so,
  telephony/rules.py) in *every* time zone the number may be in;
- the number was tried fewer times than the cap in the last 24 hours;
- the workspace is not suspended and its credits are not frozen;
- the workspace has the credits for a minimum call (MIN_CALL_SECONDS).

`evaluate(facts, now)` is the pure decision over gathered facts and an injected time;
`check_call(session, actor, contact_id)` gathers the facts from the database, decides,
stores the decision in `compliance_decisions` (append-only) and returns it. Its
`describe()` is what the rep sees.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Workspace, WorkspaceStatus
from accounts.service import Actor
from billing.ledger import get_balance
from billing.money import credits_label
from core.markdown import md_escape
from core.timezones import format_local, zone_abbr
from telephony.access import get_contact
from telephony.attempts import ATTEMPT_WINDOW, recent_attempts
from telephony.dnc import dnc_hits
from telephony.models import (
    ComplianceDecisionRecord,
    ConsentRecord,
    ConsentType,
    DncEntry,
    DncSource,
)
from telephony.numbers import PhoneInfo, format_phone, is_dialable, phone_info
from telephony.rules import (
    CALLING_RULES,
    DEFAULT_WINDOW,
    MIN_CALL_MC,
    MIN_CALL_SECONDS,
    CallingRule,
    CallingWindow,
    EffectiveRules,
    rules_for,
)

# Consent types that allow a call. DESIGN.md §1: "prior relationship or consent".
CALLABLE_CONSENT_TYPES: frozenset[ConsentType] = frozenset(ConsentType)
# How long a consent of a type stays usable (none: until revoked). An existing business
# relationship lapses 18 months after the last purchase (47 CFR 64.1200(f)(5)).
CONSENT_MAX_AGE: dict[ConsentType, timedelta] = {
    ConsentType.EXISTING_RELATIONSHIP: timedelta(days=548),
}
# Preference when several consents are on record.
_CONSENT_STRENGTH = {
    ConsentType.EXPRESS_WRITTEN: 3,
    ConsentType.EXPRESS: 2,
    ConsentType.EXISTING_RELATIONSHIP: 1,
}
# How far ahead to look for the next moment inside calling hours everywhere.
_LOOKAHEAD_DAYS = 3
_ZONES_LISTED = 4


class Reason(enum.StrEnum):
    INVALID_NUMBER = "invalid_number"
    NO_CONSENT = "no_consent"
    CONSENT_REVOKED = "consent_revoked"
    CONSENT_EXPIRED = "consent_expired"
    DNC_WORKSPACE = "dnc_workspace"
    DNC_PLATFORM = "dnc_platform"
    UNKNOWN_LOCAL_TIME = "unknown_local_time"
    OUTSIDE_CALLING_HOURS = "outside_calling_hours"
    ATTEMPT_LIMIT = "attempt_limit"
    WORKSPACE_SUSPENDED = "workspace_suspended"
    CREDITS_FROZEN = "credits_frozen"
    INSUFFICIENT_CREDITS = "insufficient_credits"


@dataclass(frozen=True)
class Denial:
    code: Reason
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


@dataclass(frozen=True)
class ConsentFact:
    id: uuid.UUID | None
    type: ConsentType
    source: str
    method: str
    obtained_at: datetime
    revoked_at: datetime | None = None
    revoked_how: str | None = None

    @classmethod
    def of(cls, record: ConsentRecord) -> ConsentFact:
        return cls(
            id=record.id,
            type=record.type,
            source=record.source,
            method=record.method,
            obtained_at=record.obtained_at,
            revoked_at=record.revoked_at,
            revoked_how=record.revoked_how,
        )

    def revoked_by(self, now: datetime) -> bool:
        return self.revoked_at is not None and self.revoked_at <= now

    def expires_at(self) -> datetime | None:
        age = CONSENT_MAX_AGE.get(self.type)
        return self.obtained_at + age if age is not None else None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id) if self.id else None,
            "type": self.type.value,
            "source": self.source,
            "method": self.method,
            "obtained_at": self.obtained_at.isoformat(),
        }


@dataclass(frozen=True)
class DncFact:
    platform: bool
    source: str
    reason: str
    added_at: datetime

    @classmethod
    def of(cls, entry: DncEntry) -> DncFact:
        return cls(entry.platform, entry.source, entry.reason, entry.added_at)


@dataclass(frozen=True)
class GateFacts:
    """Everything the decision depends on, apart from the time."""

    phone: PhoneInfo
    contact_name: str
    consents: Sequence[ConsentFact] = ()
    dnc: Sequence[DncFact] = ()
    attempts: Sequence[datetime] = ()  # earlier dials to this number by the workspace
    workspace_suspended: bool = False
    credits_frozen: bool = False
    available_mc: int = 0
    number_valid: bool = True
    contact_id: uuid.UUID | None = None
    # The zone of the user asking: times in the verdict are shown in it (DESIGN.md §1).
    viewer_zone: str = "UTC"


@dataclass(frozen=True)
class LocalTime:
    zone: str
    local: datetime
    inside: bool

    def as_json(self) -> dict[str, Any]:
        return {"zone": self.zone, "local": self.local.isoformat(), "inside": self.inside}


@dataclass(frozen=True)
class ComplianceDecision:
    allowed: bool
    reasons: tuple[Denial, ...]
    decided_at: datetime
    phone_e164: str
    contact_name: str
    local_times: tuple[LocalTime, ...]
    window: CallingWindow
    window_label: str
    rules_applied: tuple[str, ...]
    consent: ConsentFact | None
    attempts_in_window: int
    max_attempts: int
    available_mc: int
    next_window_at: datetime | None = None
    next_attempt_at: datetime | None = None
    contact_id: uuid.UUID | None = None
    id: int | None = None  # the stored decision, once stored
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def codes(self) -> set[Reason]:
        return {r.code for r in self.reasons}

    def describe(self) -> str:
        """What the rep sees: the verdict, then every reason (or what was checked)."""
        who = f"{md_escape(self.contact_name)} at {format_phone(self.phone_e164)}"
        if not self.allowed:
            lines = [f"Cannot call {who} now:"]
            lines += [f"- {reason.message}" for reason in self.reasons]
            return "\n".join(lines)
        checks: list[str] = []
        if self.consent is not None:
            checks.append(
                f"consent on record ({self.consent.type.label}, {md_escape(self.consent.method)}, "
                f"{self.consent.obtained_at.astimezone(UTC):%Y-%m-%d})"
            )
        checks.append("not on any do-not-call list")
        checks.append(_local_summary(self.local_times, self.window_label))
        checks.append(
            f"{self.attempts_in_window} of {self.max_attempts} attempts used in the last 24 hours"
        )
        checks.append(f"{credits_label(self.available_mc)} available")
        return f"OK to call {who}: " + "; ".join(checks) + "."


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local_summary(times: Sequence[LocalTime], window_label: str) -> str:
    if len(times) == 1:
        t = times[0]
        return f"{t.local:%H:%M} local time ({t.zone}), inside calling hours {window_label}"
    zones = "both" if len(times) == 2 else f"all {len(times)}"
    return f"inside calling hours {window_label} in {zones} time zones of the number"


def _source_label(source: str) -> str:
    try:
        return DncSource(source).label
    except ValueError:
        return source


def _yours(dt: datetime, viewer_zone: str) -> str:
    """'Thu Nov 19, 10:00 AM CT your time': a moment in the viewer's own zone."""
    return f"{format_local(dt, viewer_zone)} your time"


def _callees(dt: datetime, zone: str, viewer_zone: str) -> str:
    """'Thu Nov 19, 8:00 AM PT (callee's time, America/Los_Angeles; 10:00 AM CT yours)'."""
    text = f"{format_local(dt, zone)} (callee's time, {zone}"
    if zone_abbr(dt, zone) != zone_abbr(dt, viewer_zone):
        text += f"; {format_local(dt, viewer_zone, weekday=False)} yours"
    return text + ")"


def local_times(zones: Sequence[str], window: CallingWindow, now: datetime) -> list[LocalTime]:
    out: list[LocalTime] = []
    for name in zones:
        tz = _zone(name)
        if tz is None:
            continue
        local = now.astimezone(tz)
        out.append(LocalTime(name, local, window.contains(local.time())))
    return out


def next_window_opening(
    zones: Sequence[str], window: CallingWindow, now: datetime
) -> datetime | None:
    """The first moment after `now` that is inside `window` in every zone, if one comes
    within a few days. It is always a moment when one zone's window opens."""
    tzs = [tz for tz in (_zone(z) for z in zones) if tz is not None]
    if not tzs:
        return None
    candidates: set[datetime] = set()
    for tz in tzs:
        today = now.astimezone(tz).date()
        for offset in range(_LOOKAHEAD_DAYS + 1):
            day = date.fromordinal(today.toordinal() + offset)
            candidates.add(datetime.combine(day, window.start, tz).astimezone(UTC))
    for moment in sorted(c for c in candidates if c > now):
        if all(window.contains(moment.astimezone(tz).time()) for tz in tzs):
            return moment
    return None


def _hours_message(
    phone: PhoneInfo,
    times: Sequence[LocalTime],
    effective: EffectiveRules,
    next_at: datetime | None,
    viewer_zone: str = "UTC",
) -> str:
    window = effective.window
    hours = f"from {window.start:%H:%M} to {window.end:%H:%M}"
    narrowing = [
        r.name
        for r in effective.applied
        if (r.start, r.end) != (DEFAULT_WINDOW.start, DEFAULT_WINDOW.end)
    ]
    state_rule = any(r.state for r in effective.applied) and phone.state_name
    where = f"calls to {phone.state_name} numbers" if state_rule else "calls"
    if narrowing and narrowing != [phone.state_name]:
        hours += f" ({', '.join(narrowing)})"
    if len(times) == 1:
        t = times[0]
        text = f"It is {t.local:%H:%M} in {t.zone}; {where} may start only {hours} local time."
    else:
        outside = [t for t in times if not t.inside]
        shown = ", ".join(f"{t.local:%H:%M} in {t.zone}" for t in outside[:_ZONES_LISTED])
        more = len(outside) - _ZONES_LISTED
        if more > 0:
            shown += f" and {more} more"
        text = (
            f"This number may be in {len(times)} time zones and {where} may start only "
            f"{hours} local time in every one of them; it is {shown}."
        )
    if next_at is None:
        return text + (
            " No time of day is inside calling hours in every one of its time zones, so "
            "this number cannot be called."
        )
    if len(times) == 1:
        return text + f" Next possible: {_callees(next_at, times[0].zone, viewer_zone)}."
    return text + f" Next possible: {_yours(next_at, viewer_zone)}."


def _number_denials(facts: GateFacts, display: str) -> list[Denial]:
    """The number itself: a denial when it is no longer a valid phone number."""
    if facts.number_valid:
        return []
    return [Denial(Reason.INVALID_NUMBER, f"{display} is not a valid phone number any more.")]


def _choose_consent(
    consents: Sequence[ConsentFact], now: datetime
) -> tuple[ConsentFact | None, list[ConsentFact], list[ConsentFact]]:
    """Sort the callable consents obtained by `now` into usable, expired and revoked.

    Returns (the strongest usable consent, newest first on ties, or None; the expired
    ones; the revoked ones). Consents of non-callable types or obtained after `now` are
    ignored; a revoked consent is counted as revoked even if it has also lapsed.
    """
    usable: list[ConsentFact] = []
    expired: list[ConsentFact] = []
    revoked: list[ConsentFact] = []
    for consent in consents:
        if consent.type not in CALLABLE_CONSENT_TYPES or consent.obtained_at > now:
            continue
        if consent.revoked_by(now):
            revoked.append(consent)
            continue
        expires = consent.expires_at()
        if expires is not None and expires <= now:
            expired.append(consent)
            continue
        usable.append(consent)
    chosen = max(usable, key=lambda c: (_CONSENT_STRENGTH[c.type], c.obtained_at), default=None)
    return chosen, expired, revoked


def _consent_denials(
    chosen: ConsentFact | None,
    expired: Sequence[ConsentFact],
    revoked: Sequence[ConsentFact],
    display: str,
    now: datetime,
) -> list[Denial]:
    """At most one consent denial when nothing usable is on record: revoked wins over
    expired, which wins over none at all. Empty when `chosen` is set."""
    if chosen is not None:
        return []
    if revoked:
        last = max(revoked, key=lambda c: c.revoked_at or now)
        when = last.revoked_at or now
        return [
            Denial(
                Reason.CONSENT_REVOKED,
                f"Consent for {display} was revoked on {when.astimezone(UTC):%Y-%m-%d} "
                f"({md_escape(last.revoked_how)}); record new consent before calling again.",
            )
        ]
    if expired:
        last = max(expired, key=lambda c: c.obtained_at)
        return [
            Denial(
                Reason.CONSENT_EXPIRED,
                f"The only consent for {display} is an {last.type.label} from "
                f"{last.obtained_at.astimezone(UTC):%Y-%m-%d}, which has lapsed; record "
                "current consent before calling.",
            )
        ]
    return [
        Denial(
            Reason.NO_CONSENT,
            f"No consent is on record for {display}: record the consent (type, source, "
            "exact wording, method and time) before calling.",
        )
    ]


def _dnc_denials(dnc: Sequence[DncFact], display: str) -> list[Denial]:
    """One denial per do-not-call entry, in the order given (platform or workspace)."""
    denials: list[Denial] = []
    for entry in dnc:
        label = _source_label(entry.source)
        since = f"{entry.added_at.astimezone(UTC):%Y-%m-%d}"
        if entry.platform:
            denials.append(
                Denial(
                    Reason.DNC_PLATFORM,
                    f"{display} is on the platform-wide do-not-call list (since {since}).",
                )
            )
        else:
            why = f"{label}: {md_escape(entry.reason)}" if entry.reason else label
            denials.append(
                Denial(
                    Reason.DNC_WORKSPACE,
                    f"{display} is on this workspace's do-not-call list since {since} ({why}).",
                )
            )
    return denials


def _hours_check(
    facts: GateFacts, effective: EffectiveRules, display: str, now: datetime
) -> tuple[list[LocalTime], datetime | None, list[Denial]]:
    """Calling hours in every time zone of the number.

    Returns (the local time in each readable zone, the next moment inside the window in
    all of them when it is outside now, else None; the denials). Fails closed: an
    unreadable or missing zone is an UNKNOWN_LOCAL_TIME denial, listed before any
    OUTSIDE_CALLING_HOURS one.
    """
    phone = facts.phone
    times = local_times(phone.time_zones, effective.window, now)
    unknown = [z for z in phone.time_zones if _zone(z) is None]
    next_window: datetime | None = None
    denials: list[Denial] = []
    if not times or unknown:
        # Fail closed: a zone we cannot read might be outside calling hours.
        which = f" ({', '.join(unknown)} cannot be read)" if unknown else ""
        denials.append(
            Denial(
                Reason.UNKNOWN_LOCAL_TIME,
                f"The time zone of {display} is unknown{which}, so calling hours cannot be "
                "checked.",
            )
        )
    if times and not all(t.inside for t in times):
        next_window = next_window_opening([t.zone for t in times], effective.window, now)
        denials.append(
            Denial(
                Reason.OUTSIDE_CALLING_HOURS,
                _hours_message(phone, times, effective, next_window, facts.viewer_zone),
            )
        )
    return times, next_window, denials


def _attempts_check(
    facts: GateFacts, cap: int, display: str, now: datetime
) -> tuple[list[datetime], datetime | None, list[Denial]]:
    """The attempt cap over the last 24 hours (ATTEMPT_WINDOW) ending at `now`.

    Returns (the attempts inside the window, oldest first; when the cap is reached, the
    moment the oldest counted attempt leaves the window, else None; the denials).
    """
    recent = sorted(a for a in facts.attempts if now - ATTEMPT_WINDOW < a <= now)
    if len(recent) < cap:
        return recent, None, []
    next_attempt = recent[len(recent) - cap] + ATTEMPT_WINDOW
    denial = Denial(
        Reason.ATTEMPT_LIMIT,
        f"{display} was already called {len(recent)} time{'s' * (len(recent) != 1)} in "
        f"the last 24 hours (the limit is {cap}); the next attempt is possible from "
        f"{_yours(next_attempt, facts.viewer_zone)}.",
    )
    return recent, next_attempt, [denial]


def _workspace_denials(facts: GateFacts) -> list[Denial]:
    """The workspace and its credits: suspended, then frozen, then below a minimum call."""
    denials: list[Denial] = []
    if facts.workspace_suspended:
        denials.append(
            Denial(
                Reason.WORKSPACE_SUSPENDED, "This workspace is suspended: no calls can be placed."
            )
        )
    if facts.credits_frozen:
        denials.append(
            Denial(Reason.CREDITS_FROZEN, "This workspace's credits are frozen; contact support.")
        )
    if facts.available_mc < MIN_CALL_MC:
        denials.append(
            Denial(
                Reason.INSUFFICIENT_CREDITS,
                f"Not enough credits: a call needs at least {credits_label(MIN_CALL_MC)} "
                f"({MIN_CALL_SECONDS} seconds); {credits_label(max(facts.available_mc, 0))} "
                "available.",
            )
        )
    return denials


def _decision_detail(
    facts: GateFacts,
    effective: EffectiveRules,
    chosen: ConsentFact | None,
    attempts_24h: int,
    next_window: datetime | None,
    next_attempt: datetime | None,
) -> dict[str, Any]:
    """The JSON-ready facts stored with a decision (compliance_decisions.detail)."""
    phone = facts.phone
    return {
        "country": phone.country,
        "state": phone.state,
        "area_code": phone.area_code,
        "window": effective.window.label,
        "rules": [r.name for r in effective.applied],
        "consent": chosen.as_json() if chosen else None,
        "dnc": [{"platform": d.platform, "source": d.source} for d in facts.dnc],
        "attempts_24h": attempts_24h,
        "max_attempts_24h": effective.max_attempts_per_24h,
        "workspace_suspended": facts.workspace_suspended,
        "credits_frozen": facts.credits_frozen,
        "available_mc": facts.available_mc,
        "required_mc": MIN_CALL_MC,
        "next_window_at": next_window.isoformat() if next_window else None,
        "next_attempt_at": next_attempt.isoformat() if next_attempt else None,
    }


def evaluate(
    facts: GateFacts,
    now: datetime,
    *,
    rules: Sequence[CallingRule] = CALLING_RULES,
) -> ComplianceDecision:
    """Decide whether a call may be placed at `now` (timezone-aware). Pure: no I/O.

    Every check runs; denials are listed in a fixed order: number, consent, do-not-call,
    calling hours, attempts, workspace and credits. Allowed only when there are none.
    """
    if now.tzinfo is None:
        raise ValueError("the gate needs a timezone-aware time")
    phone = facts.phone
    display = format_phone(phone.e164)
    effective = rules_for(
        country=phone.country, state=phone.state, area_code=phone.area_code, rules=rules
    )
    chosen, expired, revoked = _choose_consent(facts.consents, now)
    times, next_window, hours_denials = _hours_check(facts, effective, display, now)
    cap = effective.max_attempts_per_24h
    recent, next_attempt, attempt_denials = _attempts_check(facts, cap, display, now)
    reasons = [
        *_number_denials(facts, display),
        *_consent_denials(chosen, expired, revoked, display, now),
        *_dnc_denials(facts.dnc, display),
        *hours_denials,
        *attempt_denials,
        *_workspace_denials(facts),
    ]
    return ComplianceDecision(
        allowed=not reasons,
        reasons=tuple(reasons),
        decided_at=now,
        phone_e164=phone.e164,
        contact_name=facts.contact_name,
        local_times=tuple(times),
        window=effective.window,
        window_label=effective.window_label,
        rules_applied=tuple(r.name for r in effective.applied),
        consent=chosen,
        attempts_in_window=len(recent),
        max_attempts=cap,
        available_mc=facts.available_mc,
        next_window_at=next_window,
        next_attempt_at=next_attempt,
        contact_id=facts.contact_id,
        detail=_decision_detail(facts, effective, chosen, len(recent), next_window, next_attempt),
    )


async def gather_facts(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    phone_e164: str,
    contact_name: str,
    contact_id: uuid.UUID | None,
    now: datetime,
    viewer_zone: str = "UTC",
) -> GateFacts:
    consents = await session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.workspace_id == workspace_id,
            ConsentRecord.phone_e164 == phone_e164,
            *([ConsentRecord.contact_id == contact_id] if contact_id else []),
        )
    )
    workspace = await session.get(Workspace, workspace_id, populate_existing=True)
    balance = await get_balance(session, workspace_id)
    return GateFacts(
        phone=phone_info(phone_e164),
        contact_name=contact_name,
        consents=tuple(ConsentFact.of(c) for c in consents.all()),
        dnc=tuple(DncFact.of(e) for e in await dnc_hits(session, workspace_id, phone_e164)),
        attempts=tuple(await recent_attempts(session, workspace_id, phone_e164, now=now)),
        workspace_suspended=workspace is None or workspace.status != WorkspaceStatus.ACTIVE.value,
        credits_frozen=balance.frozen,
        available_mc=balance.available_mc,
        number_valid=is_dialable(phone_e164),
        contact_id=contact_id,
        viewer_zone=viewer_zone,
    )


async def store_decision(
    session: AsyncSession,
    actor: Actor,
    decision: ComplianceDecision,
    *,
    workspace_id: uuid.UUID,
) -> ComplianceDecision:
    row = ComplianceDecisionRecord(
        workspace_id=workspace_id,
        contact_id=decision.contact_id,
        phone_e164=decision.phone_e164,
        actor_id=actor.user_id,
        decided_at=decision.decided_at,
        allowed=decision.allowed,
        reasons=[r.as_json() for r in decision.reasons],
        local_times=[t.as_json() for t in decision.local_times],
        detail=decision.detail,
    )
    session.add(row)
    await session.flush()
    return replace(decision, id=row.id)


async def check_call(
    session: AsyncSession,
    actor: Actor,
    contact_id: uuid.UUID,
    *,
    now: datetime | None = None,
    rules: Sequence[CallingRule] = CALLING_RULES,
) -> ComplianceDecision:
    """Run the gate for calling a contact the actor may see (NotFound otherwise), store
    the decision (flushed; the caller commits) and return it."""
    when = now or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("the gate needs a timezone-aware time")
    contact = await get_contact(session, actor, contact_id)
    facts = await gather_facts(
        session,
        workspace_id=contact.workspace_id,
        phone_e164=contact.phone_e164,
        contact_name=contact.name,
        contact_id=contact.id,
        now=when,
        viewer_zone=actor.time_zone,
    )
    decision = evaluate(facts, when, rules=rules)
    return await store_decision(session, actor, decision, workspace_id=contact.workspace_id)


async def decisions_for(
    session: AsyncSession, actor: Actor, contact_id: uuid.UUID, *, limit: int = 20
) -> list[ComplianceDecisionRecord]:
    """The contact's stored decisions, newest first."""
    contact = await get_contact(session, actor, contact_id)
    result = await session.scalars(
        select(ComplianceDecisionRecord)
        .where(ComplianceDecisionRecord.contact_id == contact.id)
        .order_by(ComplianceDecisionRecord.decided_at.desc(), ComplianceDecisionRecord.id.desc())
        .limit(max(1, min(limit, 500)))
    )
    return list(result.all())
