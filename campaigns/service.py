"""Campaigns: plan, create, pause, resume, cancel, and feed their calls to the
dispatcher (telephony/dispatch.py).

- `plan_campaign` checks a spec and sorts the chosen contacts into who will be called
  and who is left out and why (no consent, do-not-call, out of attempts, a window that
  never opens for them) — what the user confirms. Bad input (`CampaignError`) changes
  nothing: a budget below one minute of calls, a retry rule that would call a number
  more often than the 24-hour attempt limit, a window outside the legal hours
  everywhere, no callable contact.
- `create_campaign` stores it with its targets.
- `feed` (run by every dispatcher, `Dispatcher(feeders=[feed])`) keeps each active
  campaign's in-flight calls at its concurrency cap: it moves targets whose window is
  open into the dial queue, follows their dials and calls to the end, applies the retry
  rule and finishes the campaign. Each campaign is fed under a transaction-scoped
  advisory lock, so any number of processes may run it.
- `guard` is the campaign's say at dial time (status, window, budget), run by the
  dispatcher inside the dial's transaction under the campaign row's lock: a call's
  hold is capped by the budget left, and every hold counts against it until the call
  is settled, so the budget can never be overspent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import String, cast, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User, Workspace, WorkspaceStatus
from accounts.service import Actor
from billing.money import CALL_SECOND_PRICE_MC, credits_label
from campaigns.models import IN_FLIGHT, Campaign, CampaignStatus, CampaignTarget, TargetStatus
from campaigns.windows import (
    CampaignWindow,
    WindowError,
    callee_window,
    never_opens_reason,
    retry_attempts_per_day,
)
from core.db import Database
from core.errors import KloseError, NotFound
from core.markdown import md_escape
from telephony import dispatch
from telephony.access import visible_contacts
from telephony.compliance import ConsentFact, DncFact, GateFacts, Reason, evaluate
from telephony.dispatch import DialRequest, GuardVerdict
from telephony.dnc import dnc_numbers
from telephony.models import CallAttempt, ConsentRecord, Contact
from telephony.numbers import format_phone, is_dialable, parse_phone, phone_info
from telephony.rules import MAX_ATTEMPTS_PER_24H, MIN_CALL_MC

MAX_CONCURRENT: Final = 10
MAX_ATTEMPTS: Final = 10
MAX_TARGETS: Final = 20_000
ONE_MINUTE_MC: Final = 60 * CALL_SECOND_PRICE_MC
# Outcomes a retry rule may name (CallOutcome values of calls that did not connect).
RETRYABLE: Final = ("no_answer", "busy", "voicemail", "failed")
OUTCOME_WORDS: Final = {
    "no answer": "no_answer",
    "no-answer": "no_answer",
    "no_answer": "no_answer",
    "unanswered": "no_answer",
    "busy": "busy",
    "voicemail": "voicemail",
    "machine": "voicemail",
    "failed": "failed",
}
SAMPLE: Final = 5
BUDGET_RETRY: Final = timedelta(seconds=30)


class CampaignError(KloseError, ValueError):
    """Bad campaign input: nothing was created or changed."""


@dataclass(frozen=True)
class Selection:
    """Which contacts: a filter (company, name, not yet reached about a topic), a list
    (names, numbers or ids), or the phone numbers of a CSV."""

    company: str | None = None
    name: str | None = None
    not_reached_about: str | None = None
    contacts: tuple[str, ...] = ()
    csv_phones: tuple[str, ...] = ()

    def describe(self) -> str:
        parts: list[str] = []
        if self.contacts:
            parts.append(f"{len(self.contacts)} named contacts")
        if self.csv_phones:
            parts.append(f"the {len(self.csv_phones)} numbers of the CSV")
        if self.company:
            parts.append(f"contacts at {md_escape(self.company)}")
        if self.name:
            parts.append(f"contacts named like {md_escape(self.name)}")
        if not parts:
            parts.append("all your contacts")
        if self.not_reached_about:
            parts.append(f"not yet reached about {md_escape(self.not_reached_about)}")
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "company": self.company,
            "name": self.name,
            "not_reached_about": self.not_reached_about,
            "contacts": list(self.contacts),
            "csv_phones": list(self.csv_phones),
        }


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    purpose: str
    selection: Selection
    window: CampaignWindow
    max_concurrent: int
    budget_mc: int
    retry_outcomes: tuple[str, ...] = ("no_answer",)
    retry_after: timedelta = timedelta(days=1)
    max_attempts: int = 2
    talking_points: tuple[str, ...] = ()
    goal: str | None = None
    voicemail_message: str | None = None
    on_voicemail: str = "leave"

    def brief(self) -> dict[str, Any]:
        return dispatch.brief_payload(
            purpose=self.purpose,
            talking_points=self.talking_points,
            goal=self.goal,
            voicemail_message=self.voicemail_message,
            on_voicemail=self.on_voicemail,
        )

    def retry_label(self) -> str:
        if self.max_attempts <= 1 or not self.retry_outcomes:
            return "no retries (one attempt each)"
        outcomes = " or ".join(o.replace("_", " ") for o in self.retry_outcomes)
        return (
            f"{outcomes} tried again after {_duration(self.retry_after)}, "
            f"at most {self.max_attempts} attempts in all"
        )


@dataclass(frozen=True)
class Candidate:
    contact: Contact
    state: str | None
    stricter: tuple[str, ...]


@dataclass
class CampaignPlan:
    spec: CampaignSpec
    included: list[Candidate] = field(default_factory=list)
    excluded: list[tuple[Contact, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # list entries that matched nobody

    def describe(self) -> str:
        spec = self.spec
        lines = [f"**Campaign “{md_escape(spec.name)}”** — {md_escape(spec.purpose)}"]
        sample = ", ".join(
            f"{md_escape(c.contact.name)} ({format_phone(c.contact.phone_e164)})"
            for c in self.included[:SAMPLE]
        )
        more = f" and {len(self.included) - SAMPLE} more" if len(self.included) > SAMPLE else ""
        lines.append(
            f"- Will call **{len(self.included)}** contacts ({spec.selection.describe()}): "
            f"{sample}{more}."
        )
        if self.excluded:
            reasons: dict[str, int] = {}
            for _contact, why in self.excluded:
                reasons[why] = reasons.get(why, 0) + 1
            listed = "; ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
            lines.append(f"- Left out: **{len(self.excluded)}** ({listed}).")
        if self.unknown:
            lines.append(
                f"- Not among your contacts (not called): {len(self.unknown)} "
                f"({md_escape(', '.join(self.unknown[:SAMPLE]))})."
            )
        stricter: dict[str, int] = {}
        for c in self.included:
            for rule in c.stricter:
                stricter[rule] = stricter.get(rule, 0) + 1
        lines.append(f"- Schedule: {spec.window.label}, inside legal calling hours.")
        for rule, n in sorted(stricter.items()):
            lines.append(
                f"  - {n} callee{'s' * (n != 1)} in {rule}: stricter state hours apply "
                f"(calls start only until {_state_end(rule)} their time)."
            )
        lines.append(f"- At most {spec.max_concurrent} calls at a time.")
        lines.append(f"- Retry: {spec.retry_label()}.")
        lines.append(
            f"- Budget: at most {credits_label(spec.budget_mc)} (1 credit per connected "
            "second; each call's credits are held while it runs and count against the "
            "budget, so it is never overspent)."
        )
        lines.append(
            "- Calls go out from the shared number, paced with every other workspace's; "
            "the compliance gate runs again before each dial."
        )
        return "\n".join(lines)


def _state_end(rule: str) -> str:
    from telephony.rules import CALLING_RULES

    for r in CALLING_RULES:
        if r.name == rule:
            return f"{r.end:%H:%M}"
    return "earlier"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return "a day" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "an hour" if hours == 1 else f"{hours} hours"
    return f"{seconds // 60} minutes"


# --- checking the spec ----------------------------------------------------------------


def check_spec(spec: CampaignSpec) -> None:
    """Refuse a spec that cannot run safely (CampaignError, with what to do instead)."""
    if not spec.purpose.strip():
        raise CampaignError("A campaign needs a purpose: what are the calls about?")
    if spec.budget_mc < ONE_MINUTE_MC:
        raise CampaignError(
            f"A budget of {credits_label(max(spec.budget_mc, 0))} is less than one minute "
            f"of calls ({credits_label(ONE_MINUTE_MC)}; calls cost 1 credit per second). "
            "Set a budget of at least 60 credits. Nothing was created."
        )
    if not 1 <= spec.max_concurrent <= MAX_CONCURRENT:
        raise CampaignError(
            f"Calls at a time must be between 1 and {MAX_CONCURRENT}. Nothing was created."
        )
    if not 1 <= spec.max_attempts <= MAX_ATTEMPTS:
        raise CampaignError(
            f"Attempts per contact must be between 1 and {MAX_ATTEMPTS}. Nothing was created."
        )
    unknown = [o for o in spec.retry_outcomes if o not in RETRYABLE]
    if unknown:
        raise CampaignError(
            f"A retry can only follow {', '.join(o.replace('_', ' ') for o in RETRYABLE)}; "
            f"not {', '.join(unknown)}. Nothing was created."
        )
    if spec.max_attempts > 1 and spec.retry_outcomes:
        per_day = retry_attempts_per_day(spec.retry_after, spec.max_attempts)
        if per_day > MAX_ATTEMPTS_PER_24H:
            raise CampaignError(
                f"That retry rule would call a number {per_day} times within 24 hours; the "
                f"limit is {MAX_ATTEMPTS_PER_24H} attempts per number in any 24 hours "
                "(TCPA practice; Florida and Oklahoma law). Retry at most every "
                f"{_duration(timedelta(hours=24) / MAX_ATTEMPTS_PER_24H)} (e.g. “try again "
                "tomorrow”) or allow fewer attempts. Nothing was created."
            )
    if spec.retry_after < timedelta(minutes=10) and spec.max_attempts > 1:
        raise CampaignError("Wait at least 10 minutes before a retry. Nothing was created.")


def parse_window(days: Sequence[int], start: str, end: str) -> CampaignWindow:
    try:
        return CampaignWindow(tuple(days), _time(start), _time(end))
    except WindowError as exc:
        raise CampaignError(f"{exc} Nothing was created.") from exc


def _time(raw: str) -> time:
    try:
        hour, _, minute = raw.strip().partition(":")
        return time(int(hour), int(minute or 0))
    except ValueError as exc:
        raise CampaignError(f"{raw!r} is not a time of day (use HH:MM, 24-hour).") from exc


# --- choosing contacts --------------------------------------------------------------------


async def _select(
    session: AsyncSession, actor: Actor, selection: Selection
) -> tuple[list[Contact], list[str]]:
    """The contacts the selection names (that the actor may see), and the list entries
    that matched none."""
    query = select(Contact).where(visible_contacts(actor))
    unknown: list[str] = []
    if selection.company:
        query = query.where(Contact.company.ilike(f"%{_like(selection.company)}%"))
    if selection.name:
        query = query.where(Contact.name.ilike(f"%{_like(selection.name)}%"))
    named: list[Contact] | None = None
    if selection.contacts or selection.csv_phones:
        rows = list((await session.scalars(query.limit(MAX_TARGETS + 1))).all())
        by_phone = {c.phone_e164: c for c in rows}
        by_id = {str(c.id): c for c in rows}
        by_name: dict[str, list[Contact]] = {}
        for c in rows:
            by_name.setdefault(c.name.strip().lower(), []).append(c)
        named = []
        for ref in (*selection.contacts, *selection.csv_phones):
            found = by_id.get(ref.strip()) or _by_phone(by_phone, ref)
            matches = [found] if found else by_name.get(ref.strip().lower(), [])
            if not matches:
                unknown.append(ref)
            named.extend(m for m in matches if m not in named)
        contacts = named
    else:
        contacts = list(
            (await session.scalars(query.order_by(Contact.name).limit(MAX_TARGETS + 1))).all()
        )
    if len(contacts) > MAX_TARGETS:
        raise CampaignError(f"A campaign can call at most {MAX_TARGETS:,} contacts.")
    if selection.not_reached_about and contacts:
        reached = await _reached_about(
            session, [c.id for c in contacts], selection.not_reached_about
        )
        contacts = [c for c in contacts if c.id not in reached]
    return contacts, unknown


def _by_phone(by_phone: dict[str, Contact], ref: str) -> Contact | None:
    try:
        return by_phone.get(parse_phone(ref).e164)
    except Exception:  # not a number: a name or an id
        return None


def _like(raw: str) -> str:
    return raw.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _reached_about(
    session: AsyncSession, contact_ids: list[uuid.UUID], topic: str
) -> set[uuid.UUID]:
    """Contacts someone spoke with (a connected call answered by a person) about
    `topic` (in the call's purpose)."""
    rows = await session.execute(
        text(
            "SELECT DISTINCT contact_id FROM calls WHERE contact_id = ANY(:ids) "
            "AND status = 'completed' AND coalesce(answered_by, 'human') NOT LIKE 'machine%' "
            "AND coalesce(answered_by, 'human') <> 'fax' "
            "AND (brief->>'purpose') ILIKE :topic"
        ),
        {"ids": contact_ids, "topic": f"%{_like(topic)}%"},
    )
    return {row[0] for row in rows}


_EXCLUDE: Final = {  # in order of precedence
    Reason.DNC_WORKSPACE: "on do-not-call",
    Reason.DNC_PLATFORM: "on do-not-call",
    Reason.NO_CONSENT: "no consent on record",
    Reason.CONSENT_REVOKED: "consent revoked",
    Reason.CONSENT_EXPIRED: "consent lapsed",
    Reason.ATTEMPT_LIMIT: "out of attempts (called 3 times in the last 24 hours)",
    Reason.INVALID_NUMBER: "not a valid number",
    Reason.UNKNOWN_LOCAL_TIME: "local time unknown",
}


async def plan_campaign(
    session: AsyncSession, actor: Actor, spec: CampaignSpec, *, now: datetime | None = None
) -> CampaignPlan:
    """Check the spec and sort its contacts into included and excluded (with why).
    Raises CampaignError when nothing could be called. Writes nothing."""
    when = now or datetime.now(UTC)
    check_spec(spec)
    contacts, unknown = await _select(session, actor, spec.selection)
    plan = CampaignPlan(spec=spec, unknown=unknown)
    if not contacts:
        raise CampaignError(f"No contacts match {spec.selection.describe()}. Nothing was created.")
    ids = [c.id for c in contacts]
    consents: dict[uuid.UUID, list[ConsentFact]] = {}
    for record in (
        await session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id.in_(ids)))
    ).all():
        consents.setdefault(record.contact_id, []).append(ConsentFact.of(record))
    dnc = await dnc_numbers(session, actor.workspace_id, [c.phone_e164 for c in contacts])
    attempts: dict[str, list[datetime]] = {}
    for phone, at in (
        await session.execute(
            select(CallAttempt.phone_e164, CallAttempt.at).where(
                CallAttempt.workspace_id == actor.workspace_id,
                CallAttempt.phone_e164.in_([c.phone_e164 for c in contacts]),
                CallAttempt.at > when - timedelta(hours=24),
            )
        )
    ).all():
        attempts.setdefault(phone, []).append(at)
    for contact in contacts:
        info = phone_info(contact.phone_e164)
        facts = GateFacts(
            phone=info,
            contact_name=contact.name,
            consents=tuple(consents.get(contact.id, ())),
            dnc=tuple(DncFact.of(e) for e in dnc.get(contact.phone_e164, ())),
            attempts=tuple(attempts.get(contact.phone_e164, ())),
            available_mc=MIN_CALL_MC,  # credits are checked per dial
            number_valid=is_dialable(contact.phone_e164),
            contact_id=contact.id,
        )
        decision = evaluate(facts, when)
        codes = decision.codes
        # The strongest reason first: a do-not-call entry also revokes the consent.
        why = next((_EXCLUDE[code] for code in _EXCLUDE if code in codes), None)
        if why is None:
            never = never_opens_reason(spec.window, info)
            if never is not None:
                why = f"window never opens for them: {never}"
        if why is not None:
            plan.excluded.append((contact, why))
            continue
        cw = callee_window(spec.window, info)
        plan.included.append(Candidate(contact, info.state, cw.rules))
    if not plan.included:
        reasons: dict[str, int] = {}
        for _c, why in plan.excluded:
            reasons[why] = reasons.get(why, 0) + 1
        listed = "; ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
        raise CampaignError(
            f"None of the {len(contacts)} contacts can be called ({listed}). Record consent "
            "(or fix the schedule) first. Nothing was created and nothing was dialled."
        )
    return plan


async def create_campaign(
    session: AsyncSession,
    actor: Actor,
    spec: CampaignSpec,
    *,
    contact_ids: Sequence[uuid.UUID] | None = None,
    now: datetime | None = None,
) -> tuple[Campaign, CampaignPlan]:
    """Plan again (the user's confirmation may come later), keep only the confirmed
    contacts (`contact_ids`), and store the campaign and its targets (flushed)."""
    when = now or datetime.now(UTC)
    plan = await plan_campaign(session, actor, spec, now=when)
    if contact_ids is not None:
        wanted = set(contact_ids)
        plan.included = [c for c in plan.included if c.contact.id in wanted]
        if not plan.included:
            raise CampaignError("None of the confirmed contacts can be called any more.")
    campaign = Campaign(
        workspace_id=actor.workspace_id,
        created_by=actor.user_id,
        name=spec.name[:200],
        brief=spec.brief(),
        selection=spec.selection.as_json(),
        status=CampaignStatus.ACTIVE.value,
        days=list(spec.window.days),
        window_start=spec.window.start,
        window_end=spec.window.end,
        max_concurrent=spec.max_concurrent,
        retry_outcomes=list(spec.retry_outcomes),
        retry_after_s=int(spec.retry_after.total_seconds()),
        max_attempts=spec.max_attempts,
        budget_mc=spec.budget_mc,
    )
    session.add(campaign)
    await session.flush()
    rows = [
        {
            "campaign_id": campaign.id,
            "contact_id": c.contact.id,
            "phone_e164": c.contact.phone_e164,
            "status": TargetStatus.WAITING.value,
            "next_at": when,
        }
        for c in plan.included
    ] + [
        {
            "campaign_id": campaign.id,
            "contact_id": contact.id,
            "phone_e164": contact.phone_e164,
            "status": TargetStatus.EXCLUDED.value,
            "next_at": when,
            "note": why,
        }
        for contact, why in plan.excluded
    ]
    for start in range(0, len(rows), 1000):
        await session.execute(insert(CampaignTarget), rows[start : start + 1000])
    return campaign, plan


# --- pause, resume, cancel ---------------------------------------------------------------


async def get_campaign(
    session: AsyncSession, actor: Actor, ref: str | None, *, for_update: bool = False
) -> Campaign:
    """A campaign of the actor's workspace by id (or its first 8 characters) or name;
    the latest when `ref` is empty. Reps see the campaigns they created."""
    query = select(Campaign).where(Campaign.workspace_id == actor.workspace_id)
    if actor.role.value == "rep":
        query = query.where(Campaign.created_by == actor.user_id)
    wanted = (ref or "").strip()
    if wanted and wanted.lower() not in ("the campaign", "campaign", "my campaign", "latest"):
        try:
            query = query.where(Campaign.id == uuid.UUID(wanted))
        except ValueError:
            query = query.where(
                or_(
                    cast(Campaign.id, String).startswith(wanted.lower()),
                    Campaign.name.ilike(f"%{_like(wanted)}%"),
                )
            )
    query = query.order_by(Campaign.created_at.desc()).limit(1)
    if for_update:
        query = query.with_for_update()
    found = (await session.scalars(query)).first()
    if found is None:
        raise NotFound("No such campaign." if wanted else "You have no campaigns yet.")
    return found


async def _cancel_queued(
    session: AsyncSession, campaign_id: uuid.UUID, target: TargetStatus
) -> int:
    """Withdraw the campaign's dials still waiting in the queue; their targets go to
    `target`. Returns how many."""
    rows = (
        await session.execute(
            text(
                "UPDATE dial_queue SET status = 'canceled', finished_at = clock_timestamp(), "
                "result = 'campaign stopped' WHERE campaign_id = :id AND status = 'queued' "
                "RETURNING target_id"
            ),
            {"id": campaign_id},
        )
    ).all()
    ids = [r[0] for r in rows if r[0] is not None]
    if ids:
        await session.execute(
            update(CampaignTarget)
            .where(CampaignTarget.id.in_(ids), CampaignTarget.status == TargetStatus.QUEUED.value)
            .values(status=target.value, updated_at=func.now())
        )
    return len(rows)


async def set_status(
    session: AsyncSession, actor: Actor, ref: str | None, wanted: CampaignStatus
) -> Campaign:
    """Pause, resume or cancel (the caller commits). Calls already connected go on."""
    campaign = await get_campaign(session, actor, ref, for_update=True)
    current = CampaignStatus(campaign.status)
    if current in (CampaignStatus.CANCELED, CampaignStatus.FINISHED):
        raise CampaignError(f"Campaign “{md_escape(campaign.name)}” has already {current.value}.")
    if wanted is CampaignStatus.ACTIVE and current is CampaignStatus.ACTIVE:
        raise CampaignError(f"Campaign “{md_escape(campaign.name)}” is already running.")
    if wanted is CampaignStatus.PAUSED and current is CampaignStatus.PAUSED:
        raise CampaignError(f"Campaign “{md_escape(campaign.name)}” is already paused.")
    if wanted is CampaignStatus.PAUSED:
        await _cancel_queued(session, campaign.id, TargetStatus.WAITING)
    if wanted is CampaignStatus.CANCELED:
        await _cancel_queued(session, campaign.id, TargetStatus.SKIPPED)
        await session.execute(
            update(CampaignTarget)
            .where(
                CampaignTarget.campaign_id == campaign.id,
                CampaignTarget.status == TargetStatus.WAITING.value,
            )
            .values(status=TargetStatus.SKIPPED.value, note="campaign canceled")
        )
        campaign.finished_at = datetime.now(UTC)
        campaign.finished_reason = f"canceled by {actor.email}"
    campaign.status = wanted.value
    campaign.updated_at = datetime.now(UTC)
    await session.flush()
    return campaign


# --- at dial time ---------------------------------------------------------------------------


async def committed_mc(session: AsyncSession, campaign_id: uuid.UUID) -> int:
    """What the campaign's calls have cost or hold: its ended calls' cost (`settled_mc`,
    folded in by `sync`), plus its targets' calls in flight (at most its cap) — settled
    ones their cost, the rest their whole hold (their time limit). Index-backed: the
    call history is not summed again at every dial."""
    value = await session.scalar(
        text(
            "SELECT cp.settled_mc + coalesce((SELECT sum(CASE WHEN c.settled_at IS NOT NULL "
            "THEN coalesce(c.cost_mc, 0) ELSE c.time_limit_s::bigint * :price END) "
            "FROM campaign_targets t JOIN calls c ON c.id = t.last_call_id "
            "WHERE t.campaign_id = cp.id AND t.status IN ('queued', 'calling')), 0) "
            "FROM campaigns cp WHERE cp.id = :id"
        ),
        {"id": campaign_id, "price": CALL_SECOND_PRICE_MC},
    )
    return int(value or 0)


async def guard(
    session: AsyncSession, request: DialRequest, contact: Contact, now: datetime
) -> GuardVerdict:
    """The campaign's rules for one of its dials (dispatch.CampaignGuard). Locks the
    campaign row until the dial's call row is committed: budget checks of one campaign
    never overlap."""
    campaign = await session.get(Campaign, request.campaign_id, with_for_update=True)
    if campaign is None or campaign.status != CampaignStatus.ACTIVE.value:
        status = campaign.status if campaign else "gone"
        return GuardVerdict(False, reason=f"The campaign is {status}.", retry_at=now)
    window = CampaignWindow(tuple(campaign.days), campaign.window_start, campaign.window_end)
    cw = callee_window(window, phone_info(contact.phone_e164))
    if not cw.open_at(now):
        return GuardVerdict(
            False,
            reason="Outside the campaign's window in the callee's local time.",
            retry_at=cw.next_open(now),
        )
    left = campaign.budget_mc - await committed_mc(session, campaign.id)
    if left < MIN_CALL_MC:
        return GuardVerdict(
            False,
            reason=f"The campaign's budget has {credits_label(max(left, 0))} left.",
            retry_at=now + BUDGET_RETRY,
        )
    return GuardVerdict(True, budget_mc=left)


# --- feeding the dispatcher -----------------------------------------------------------------

# Dials that ended without a call: back to waiting (a retry time), or left out. A dial
# that failed after its call row was written has that call settled (at no cost): it
# is folded in too.
_SYNC_DIALS = """
WITH ended AS (
    SELECT d.target_id, d.status, d.not_before, d.result,
        coalesce(c.cost_mc, 0) AS cost_mc
    FROM dial_queue d
    JOIN campaign_targets t ON t.id = d.target_id
    LEFT JOIN calls c ON c.id = d.call_id AND c.settled_at IS NOT NULL
    WHERE t.status = 'queued' AND t.last_call_id = d.call_id
      AND d.status IN ('placed', 'refused', 'failed')
), moved AS (
    UPDATE campaign_targets t SET
        status = CASE
            WHEN e.status = 'placed' THEN 'calling'
            WHEN e.status = 'refused' AND e.not_before < '9999-01-01' THEN 'waiting'
            WHEN e.status = 'refused' THEN 'excluded'
            ELSE 'done' END,
        attempts = t.attempts + CASE WHEN e.status = 'placed' THEN 1 ELSE 0 END,
        next_at = CASE WHEN e.status = 'refused' THEN e.not_before ELSE t.next_at END,
        last_outcome = CASE WHEN e.status = 'failed' THEN 'failed' ELSE t.last_outcome END,
        note = CASE WHEN e.status = 'placed' THEN t.note ELSE left(e.result, 500) END,
        updated_at = now()
    FROM ended e WHERE t.id = e.target_id AND t.status = 'queued'
    RETURNING t.campaign_id, CASE WHEN e.status = 'failed' THEN e.cost_mc ELSE 0 END AS cost_mc
)
UPDATE campaigns cp SET settled_mc = cp.settled_mc + s.mc
FROM (SELECT campaign_id, sum(cost_mc) AS mc FROM moved GROUP BY campaign_id) s
WHERE cp.id = s.campaign_id AND s.mc <> 0
"""
# Calls that have ended: retried per the rule, or done; each one's cost folded into
# its campaign's `settled_mc` as its target leaves `calling` (once). (Both statements
# end by adding what the targets `moved` out of flight cost to their campaigns.)
_SYNC_CALLS = """
WITH ended AS (
    SELECT t.id, c.settled_at, coalesce(c.cost_mc, 0) AS cost_mc, cp.retry_outcomes,
        cp.retry_after_s, cp.max_attempts,
        coalesce(c.outcome, CASE
            WHEN c.status = 'completed' AND c.answered_by LIKE 'machine%' THEN 'voicemail'
            WHEN c.status = 'completed' THEN 'connected'
            WHEN c.status = 'no-answer' THEN 'no_answer'
            WHEN c.status = 'busy' THEN 'busy'
            ELSE 'failed' END) AS outcome
    FROM campaign_targets t
    JOIN calls c ON c.id = t.last_call_id
    JOIN campaigns cp ON cp.id = t.campaign_id
    WHERE t.status = 'calling' AND c.settled_at IS NOT NULL
), moved AS (
    UPDATE campaign_targets t SET
        status = CASE WHEN e.outcome = ANY(e.retry_outcomes) AND t.attempts < e.max_attempts
            THEN 'waiting' ELSE 'done' END,
        next_at = e.settled_at + make_interval(secs => e.retry_after_s),
        last_outcome = e.outcome,
        updated_at = now()
    FROM ended e WHERE t.id = e.id AND t.status = 'calling'
    RETURNING t.campaign_id, e.cost_mc
)
UPDATE campaigns cp SET settled_mc = cp.settled_mc + s.mc
FROM (SELECT campaign_id, sum(cost_mc) AS mc FROM moved GROUP BY campaign_id) s
WHERE cp.id = s.campaign_id AND s.mc <> 0
"""


async def sync(db: Database) -> None:
    """Follow every campaign's dials and calls to their end (all campaigns at once), one
    process at a time: under a transaction-scoped advisory lock, skipped while another
    process holds it (it is doing the same work). Each ended call's cost is folded into
    its campaign's `settled_mc` exactly once."""
    async with db.session() as session:
        if not await _try_lock(session, "campaign_sync"):
            return
        await session.execute(text(_SYNC_DIALS))
        await session.execute(text(_SYNC_CALLS))
        await session.commit()


# Per active campaign: free concurrency, whether targets are due, whether any is left
# (each from the targets' partial indexes: in flight, waiting).
_ACTIVE = """
SELECT c.id, c.max_concurrent - f.in_flight AS free,
    EXISTS (SELECT 1 FROM campaign_targets t
        WHERE t.campaign_id = c.id AND t.status = 'waiting' AND t.next_at <= :now) AS due,
    f.in_flight > 0 OR EXISTS (SELECT 1 FROM campaign_targets t
        WHERE t.campaign_id = c.id AND t.status = 'waiting') AS open
FROM campaigns c
CROSS JOIN LATERAL (SELECT count(*) AS in_flight FROM campaign_targets t
    WHERE t.campaign_id = c.id AND t.status IN ('queued', 'calling')) f
WHERE c.status = 'active'
"""


async def feed(db: Database, now: datetime) -> None:
    """One round for every active campaign: follow its calls, queue dials up to its
    concurrency cap (targets whose window is open now), finish it when nothing is
    left. A dispatcher's feeder (telephony/dispatch.py)."""
    await sync(db)
    async with db.session() as session:
        rows = (await session.execute(text(_ACTIVE), {"now": now})).all()
    for campaign_id, free, due, open_ in rows:
        if not open_:
            await _finish(db, campaign_id, "every contact has been called")
        elif free > 0 and due:
            await _fill(db, campaign_id, now)


async def _try_lock(session: AsyncSession, key: str) -> bool:
    """A transaction-scoped advisory lock on `key`, if no other session holds it."""
    got = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
    )
    return bool(got)


async def _locked(session: AsyncSession, campaign_id: uuid.UUID) -> bool:
    return await _try_lock(session, f"campaign_feed:{campaign_id}")


async def _finish(db: Database, campaign_id: uuid.UUID, reason: str) -> None:
    async with db.session() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.ACTIVE.value)
            .values(
                status=CampaignStatus.FINISHED.value,
                finished_reason=reason,
                finished_at=func.now(),
                updated_at=func.now(),
            )
        )
        await session.commit()


async def _in_flight(session: AsyncSession, campaign_id: uuid.UUID) -> int:
    """How many of the campaign's targets are in flight (IN_FLIGHT statuses) now."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(CampaignTarget)
            .where(
                CampaignTarget.campaign_id == campaign_id,
                CampaignTarget.status.in_(IN_FLIGHT),
            )
        )
        or 0
    )


async def _out_of_budget(
    session: AsyncSession, campaign: Campaign, in_flight: int, now: datetime
) -> bool:
    """True when the campaign's uncommitted budget is below a minimum call. Then, if no
    call is in flight, its waiting targets are skipped and the campaign is finished
    ("budget spent") and committed; with calls in flight nothing changes yet."""
    left = campaign.budget_mc - await committed_mc(session, campaign.id)
    if left >= MIN_CALL_MC:
        return False
    if in_flight == 0:
        await session.execute(
            update(CampaignTarget)
            .where(
                CampaignTarget.campaign_id == campaign.id,
                CampaignTarget.status == TargetStatus.WAITING.value,
            )
            .values(status=TargetStatus.SKIPPED.value, note="budget spent")
        )
        campaign.status = CampaignStatus.FINISHED.value
        campaign.finished_reason = "budget spent"
        campaign.finished_at = now
        await session.commit()
    return True


async def _due_targets(
    session: AsyncSession, campaign_id: uuid.UUID, free: int, now: datetime
) -> Sequence[CampaignTarget]:
    """Waiting targets due by `now`, earliest first, locked FOR UPDATE SKIP LOCKED; a
    few more than `free` (max(free * 4, 20)) since some may be outside their window."""
    return (
        await session.scalars(
            select(CampaignTarget)
            .where(
                CampaignTarget.campaign_id == campaign_id,
                CampaignTarget.status == TargetStatus.WAITING.value,
                CampaignTarget.next_at <= now,
            )
            .order_by(CampaignTarget.next_at, CampaignTarget.id)
            .limit(max(free * 4, 20))
            .with_for_update(skip_locked=True)
        )
    ).all()


async def _queue_due(
    session: AsyncSession,
    actor: Actor,
    campaign: Campaign,
    due: Sequence[CampaignTarget],
    free: int,
    now: datetime,
) -> int:
    """Queue up to `free` of `due` with the dispatcher, in order. A target outside the
    campaign window in its callee's zone is moved to the window's next opening, or
    excluded when it never opens. Returns how many were queued; does not commit."""
    window = CampaignWindow(tuple(campaign.days), campaign.window_start, campaign.window_end)
    queued = 0
    for target in due:
        if queued >= free:
            break
        cw = callee_window(window, phone_info(target.phone_e164))
        if not cw.open_at(now):
            opens = cw.next_open(now)
            if opens is None:
                target.status = TargetStatus.EXCLUDED.value
                target.note = "the window never opens in the callee's time zone"
            else:
                target.next_at = opens
            continue
        request = await dispatch.enqueue(
            session,
            actor,
            target.contact_id,
            brief=campaign.brief,
            interactive=False,
            campaign_id=campaign.id,
            target_id=target.id,
        )
        target.status = TargetStatus.QUEUED.value
        target.last_call_id = request.call_id
        target.updated_at = now
        queued += 1
    return queued


async def _fill(db: Database, campaign_id: uuid.UUID, now: datetime) -> None:
    """Queue due targets of an active campaign up to its free concurrency (counted
    here, under the lock), in one transaction under the campaign's advisory lock
    (skipped if another process holds it). Does nothing for a campaign no longer
    active, a workspace not active, or a missing creator; finishes the campaign when
    its budget is spent (_out_of_budget)."""
    async with db.session() as session:
        if not await _locked(session, campaign_id):
            return  # another process is feeding it
        campaign = await session.get(Campaign, campaign_id, populate_existing=True)
        if campaign is None or campaign.status != CampaignStatus.ACTIVE.value:
            return
        in_flight = await _in_flight(session, campaign_id)
        free = campaign.max_concurrent - in_flight
        if free <= 0:
            return
        workspace = await session.get(Workspace, campaign.workspace_id)
        if workspace is None or workspace.status != WorkspaceStatus.ACTIVE.value:
            return
        if await _out_of_budget(session, campaign, in_flight, now):
            return
        due = await _due_targets(session, campaign_id, free, now)
        creator = await session.get(User, campaign.created_by)
        if creator is None:
            return
        await _queue_due(session, Actor.of(creator), campaign, due, free, now)
        await session.commit()


def spec_from_campaign(campaign: Campaign) -> dict[str, Any]:
    return {
        "window": CampaignWindow(
            tuple(campaign.days), campaign.window_start, campaign.window_end
        ).label,
        "max_concurrent": campaign.max_concurrent,
        "budget": credits_label(campaign.budget_mc),
    }
