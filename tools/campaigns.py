"""create_campaign, campaign_status, pause/resume/cancel_campaign and campaign_results.

Creating a campaign writes, so it only proposes (tools.actions): the user sees who will
be called (a count and a sample), who is left out and why, the schedule, the calls at a
time, the retry rule and the budget, and one yes creates it. The campaign's calls are
then dialled by the shared number's dispatcher (telephony/dispatch.py), each through
the compliance gate at its own dial time. Pausing and cancelling stop spending and
are free; resuming is an action carried out (billed like any other)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain.tools import ToolRuntime

from billing.money import MC_PER_CREDIT
from campaigns import results as campaign_results_service
from campaigns import service
from campaigns.models import CampaignStatus
from campaigns.windows import EVERY_DAY, WEEKDAYS
from core.errors import KloseError
from core.markdown import md_escape
from tools.actions import Proposal, read_tool, write_tool
from tools.context import AgentContext, Artifact
from tools.metering import done

DAY_WORDS = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}


def parse_days(raw: str | None) -> tuple[int, ...]:
    """ "weekdays", "every day", "weekends", "mon-fri", "tue,thu" → weekday numbers."""
    words = (raw or "weekdays").strip().lower()
    if words in ("", "weekdays", "weekday", "business days", "workdays", "mon-fri"):
        return WEEKDAYS
    if words in ("every day", "daily", "all week", "everyday", "any day"):
        return EVERY_DAY
    if words in ("weekend", "weekends"):
        return (5, 6)
    days: set[int] = set()
    for part in words.replace(" and ", ",").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            first, _, last = part.partition("-")
            a, b = DAY_WORDS.get(first.strip()[:3]), DAY_WORDS.get(last.strip()[:3])
            if a is None or b is None:
                raise service.CampaignError(f"I can't read the days {raw!r}.")
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            continue
        day = DAY_WORDS.get(part[:3])
        if day is None:
            raise service.CampaignError(
                f"I can't read the days {raw!r}: say e.g. weekdays, every day, or mon,wed,fri."
            )
        days.add(day)
    return tuple(sorted(days))


def phones_from_csv(raw: str) -> tuple[str, ...]:
    """The phone column of a CSV (a header named phone, mobile or number)."""
    rows = list(csv.reader(io.StringIO(raw.strip())))
    if not rows:
        return ()
    header = [h.strip().lower() for h in rows[0]]
    for name in ("phone", "mobile", "number", "phone number", "phone_number"):
        if name in header:
            column = header.index(name)
            return tuple(r[column].strip() for r in rows[1:] if len(r) > column and r[column])
    raise service.CampaignError("The CSV needs a column named phone (or mobile, or number).")


def _spec(payload: dict[str, Any]) -> service.CampaignSpec:
    window = service.parse_window(payload["days"], payload["window_start"], payload["window_end"])
    return service.CampaignSpec(
        name=payload["name"],
        purpose=payload["purpose"],
        selection=service.Selection(
            company=payload.get("company"),
            name=payload.get("name_contains"),
            not_reached_about=payload.get("not_reached_about"),
            contacts=tuple(payload.get("contacts") or ()),
            csv_phones=tuple(payload.get("csv_phones") or ()),
        ),
        window=window,
        max_concurrent=int(payload["max_concurrent"]),
        budget_mc=int(payload["budget_mc"]),
        retry_outcomes=tuple(payload.get("retry_outcomes") or ()),
        retry_after=timedelta(seconds=int(payload["retry_after_s"])),
        max_attempts=int(payload["max_attempts"]),
        talking_points=tuple(payload.get("talking_points") or ()),
        goal=payload.get("goal"),
        voicemail_message=payload.get("voicemail_message"),
        on_voicemail=payload.get("on_voicemail") or "leave",
    )


async def _create(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        spec = _spec(payload)
        async with ctx.db.session() as session:
            campaign, plan = await service.create_campaign(
                session,
                ctx.actor,
                spec,
                contact_ids=[uuid.UUID(i) for i in payload["contact_ids"]],
            )
            await session.commit()
    except KloseError as exc:
        return f"Campaign not created: {exc}"
    return done(
        f"Campaign “{md_escape(campaign.name)}” ({str(campaign.id)[:8]}) is running: "
        f"{len(plan.included)} contacts will be called {spec.window.label}, at most "
        f"{spec.max_concurrent} at a time. Ask “how is the campaign going?” any time; "
        "you can pause, resume or cancel it."
    )


@write_tool(_create, billable=True)
async def create_campaign(
    runtime: ToolRuntime[AgentContext],
    purpose: str,
    budget_credits: float | None = None,
    company: str | None = None,
    contacts: list[str] | None = None,
    name_contains: str | None = None,
    not_reached_about: str | None = None,
    csv_text: str | None = None,
    days: str = "weekdays",
    window_start: str = "10:00",
    window_end: str = "16:00",
    max_concurrent: int = 3,
    retry_on: list[str] | None = None,
    retry_after_hours: float = 24,
    max_attempts: int = 2,
    talking_points: list[str] | None = None,
    goal: str | None = None,
    voicemail_message: str | None = None,
    name: str | None = None,
) -> Proposal | str:
    """Create a calling campaign: AI calls to many contacts about one `purpose`,
    paced, retried and capped by a credit budget. Who: contacts at a `company`, a list
    of `contacts` (names, numbers or ids), contacts whose name contains
    `name_contains`, or the phone column of `csv_text`; `not_reached_about` leaves out
    contacts already reached about that topic. When: `days` ("weekdays", "every day",
    "mon,wed,fri") between `window_start` and `window_end` (HH:MM) in each callee's
    local time. `max_concurrent`: calls at a time (1–10). `retry_on`: outcomes to try
    again (no_answer, busy, voicemail) after `retry_after_hours`, up to `max_attempts`
    attempts per contact. `budget_credits`: the most the campaign may spend. Shows who
    will be called and who is left out, and creates it only once the user confirms."""
    ctx = runtime.context
    if budget_credits is None:  # a question back (free): never a campaign without a cap
        return (
            "What is the most this campaign may spend, in credits? (Calls cost 1 credit per "
            "connected second; e.g. “spend at most 2,000 credits”.) Nothing was created."
        )
    outcomes: list[str] = []
    for word in retry_on if retry_on is not None else ["no_answer"]:
        key = service.OUTCOME_WORDS.get(word.strip().lower().replace("-", " "))
        key = key or service.OUTCOME_WORDS.get(word.strip().lower())
        if key is None:
            return (
                f"Campaign not created: I can't retry on {word!r} "
                "(use no answer, busy or voicemail)."
            )
        outcomes.append(key)
    try:
        csv_phones = phones_from_csv(csv_text) if csv_text else ()
        payload: dict[str, Any] = {
            "name": (name or purpose)[:120],
            "purpose": purpose,
            "company": company,
            "contacts": list(contacts or ()),
            "name_contains": name_contains,
            "not_reached_about": not_reached_about,
            "csv_phones": list(csv_phones),
            "days": list(parse_days(days)),
            "window_start": window_start,
            "window_end": window_end,
            "max_concurrent": max_concurrent,
            "budget_mc": round(budget_credits * MC_PER_CREDIT),
            "retry_outcomes": outcomes,
            "retry_after_s": round(retry_after_hours * 3600),
            "max_attempts": max_attempts if outcomes else 1,
            "talking_points": list(talking_points or ()),
            "goal": goal,
            "voicemail_message": voicemail_message,
        }
        spec = _spec(payload)
        async with ctx.db.session() as session:
            plan = await service.plan_campaign(session, ctx.actor, spec)
    except KloseError as exc:
        return f"Campaign not created: {exc}"
    payload["contact_ids"] = [str(c.contact.id) for c in plan.included]
    return Proposal(
        question=f"{plan.describe()}\n\nStart this campaign now?",
        payload=payload,
        declined="No campaign was created; nothing was dialled.",
    )


@read_tool(billable=True)
async def campaign_status(runtime: ToolRuntime[AgentContext], campaign: str | None = None) -> str:
    """How a campaign is going (default: the latest): its status, contacts finished,
    being called and waiting, calls placed, connect rate, callbacks, opt-outs and
    credits spent of its budget. `campaign`: its name or id."""
    ctx = runtime.context
    try:
        async with ctx.db.session() as session:
            found = await service.get_campaign(session, ctx.actor, campaign)
            figures = await campaign_results_service.results(session, found)
    except KloseError as exc:
        return str(exc)
    return done(figures.progress())


@read_tool(billable=True)
async def campaign_results(runtime: ToolRuntime[AgentContext], campaign: str | None = None) -> str:
    """A campaign's results (default: the latest) by outcome — calls, connected, talk
    time and credits — as a table; a chart and a CSV file are attached in the chat."""
    ctx = runtime.context
    try:
        async with ctx.db.session() as session:
            found = await service.get_campaign(session, ctx.actor, campaign)
            figures = await campaign_results_service.results(session, found)
    except KloseError as exc:
        return str(exc)
    if not figures.calls:
        return done(f"{figures.progress()}\nNo calls have been placed yet.")
    ctx.artifacts.append(Artifact("plotly", f"{found.name}: outcomes", figures.chart()))
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    ctx.artifacts.append(
        Artifact("file", f"campaign-{str(found.id)[:8]}-{stamp}.csv", figures.csv(), "text/csv")
    )
    return done(f"{figures.progress()}\n\n{figures.markdown()}")


def _status_tool(wanted: CampaignStatus, verb: str, *, billable: bool) -> Any:
    async def execute(ctx: AgentContext, payload: dict[str, Any]) -> str:
        try:
            async with ctx.db.session() as session:
                found = await service.set_status(session, ctx.actor, payload["campaign_id"], wanted)
                await session.commit()
        except KloseError as exc:
            return f"Not {verb}: {exc}"
        text = f"Campaign “{md_escape(found.name)}” is {wanted.value}."
        if wanted is not CampaignStatus.ACTIVE:
            text += " Calls already connected finish normally; no new calls start."
        return done(text) if billable else text

    return execute


async def _propose(
    runtime: ToolRuntime[AgentContext], campaign: str | None, verb: str
) -> Proposal | str:
    ctx = runtime.context
    try:
        async with ctx.db.session() as session:
            found = await service.get_campaign(session, ctx.actor, campaign)
    except KloseError as exc:
        return str(exc)
    return Proposal(
        question=f"{verb.capitalize()} campaign “{md_escape(found.name)}” ({str(found.id)[:8]})?",
        payload={"campaign_id": str(found.id)},
        declined="Nothing changed: the campaign goes on as it was.",
    )


@write_tool(_status_tool(CampaignStatus.PAUSED, "paused", billable=False), billable=False)
async def pause_campaign(
    runtime: ToolRuntime[AgentContext], campaign: str | None = None
) -> Proposal | str:
    """Pause a campaign (default: the latest): no new calls start until it is resumed."""
    return await _propose(runtime, campaign, "pause")


@write_tool(_status_tool(CampaignStatus.ACTIVE, "resumed", billable=True), billable=True)
async def resume_campaign(
    runtime: ToolRuntime[AgentContext], campaign: str | None = None
) -> Proposal | str:
    """Resume a paused campaign (default: the latest)."""
    return await _propose(runtime, campaign, "resume")


@write_tool(_status_tool(CampaignStatus.CANCELED, "canceled", billable=False), billable=False)
async def cancel_campaign(
    runtime: ToolRuntime[AgentContext], campaign: str | None = None
) -> Proposal | str:
    """Cancel a campaign for good (default: the latest): contacts not yet called are
    skipped."""
    return await _propose(runtime, campaign, "cancel")
