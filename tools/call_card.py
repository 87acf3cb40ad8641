"""How calls read in chat: one call as a card, many as a table whose ids open it.

A card (`call_card`) is everything a rep reviews after a call: who, when (in the
viewer's own time zone), how long, what it cost, the outcome, the AI summary with its
objections and next step, a callback in the callee's own time (labelled so), the
recording (a player below the answer, fetched through the app with the viewer's
permission) and a link to the call's page with the transcript.

A table (`calls_table`) lists calls newest first; each id is a link to the call's page
(`/calls/{id}`), and "show call <id>" in chat opens its card.

Only presentation: callers look the call up with the actor's permission first
(tools.call_refs, telephony.calls.list_calls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from billing.money import CALL_SECOND_PRICE_MC, credits_label
from core.markdown import md_escape
from core.timezones import format_local, is_zone, zone_abbr
from insights.extract import LABEL, OBJECTION_LABELS, OUTCOME_LABELS
from insights.models import CallInsight
from telephony.models import Call, CallStatus, Contact, TranscriptSegment
from telephony.numbers import format_phone
from telephony.recordings import has_recording, recording_path

SPEAKERS = {"agent": "AI agent", "prospect": "Prospect", "system": "·"}


def call_url(base_url: str, call: Call) -> str:
    """The call's own page: recording and transcript (telephony/recording_views.py)."""
    return f"{base_url.rstrip('/')}/calls/{call.id}"


def short_id(call: Call) -> str:
    return str(call.id)[:8]


def length(seconds: int) -> str:
    """49 → '49 s'; 125 → '2 min 05 s'."""
    minutes, rest = divmod(max(0, seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def callee_zone(contact: Contact) -> str | None:
    """The callee's zone when their number has exactly one (else None: unknown)."""
    zones = [z for z in contact.time_zones or () if is_zone(z)]
    return zones[0] if len(set(zones)) == 1 else None


def callback_text(call: Call, contact: Contact, user_zone: str) -> str | None:
    """'Thu Dec 10, 2:00 PM PT (callee's time; 5:00 PM ET yours)': the callee's clock,
    labelled as theirs, with the viewer's own beside it when the zones differ."""
    if call.callback_at is None:
        return None
    theirs = callee_zone(contact)
    if theirs is None:
        return f"{format_local(call.callback_at, user_zone)} (your time)"
    text = f"{format_local(call.callback_at, theirs)} (callee's time"
    if zone_abbr(call.callback_at, theirs) != zone_abbr(call.callback_at, user_zone):
        text += f"; {format_local(call.callback_at, user_zone, weekday=False)} yours"
    return text + ")"


def outcome_text(call: Call, insight: CallInsight | None) -> str | None:
    raw = insight.outcome if insight is not None else call.outcome
    if not raw:
        return None
    return OUTCOME_LABELS.get(raw, raw.replace("_", " "))


def cost_text(call: Call) -> str:
    status = CallStatus(call.status)
    if call.cost_mc is not None:
        return credits_label(call.cost_mc)
    if not status.terminal:
        return f"up to {credits_label(call.time_limit_s * CALL_SECOND_PRICE_MC)} held"
    return "not settled yet"


@dataclass(frozen=True)
class CardParts:
    """The card's text and, when the call has one, the recording's app path."""

    text: str
    recording: str | None


def call_card(
    call: Call,
    contact: Contact,
    insight: CallInsight | None,
    turns: Sequence[TranscriptSegment],
    *,
    user_zone: str,
    base_url: str,
) -> CardParts:
    """The call as one card (Markdown), every time in `user_zone`."""
    status = CallStatus(call.status)
    who = str(md_escape(contact.name))
    if contact.company:
        who += f", {md_escape(contact.company)}"
    lines = [
        f"**Call {short_id(call)} with {md_escape(contact.name)}** — {status.label}",
        "",
        f"- **Contact:** {who} ({format_phone(call.phone_e164)})",
        f"- **When:** {format_local(call.created_at, user_zone, year=True)}",
    ]
    if call.duration_s is not None and status is CallStatus.COMPLETED:
        lines.append(f"- **Duration:** {length(call.duration_s)}")
    lines.append(f"- **Cost:** {cost_text(call)}")
    outcome = outcome_text(call, insight)
    if outcome:
        lines.append(f"- **Outcome:** {outcome}")
    if call.answered_by and call.answered_by.startswith("machine"):
        lines.append("- **Answered by:** a machine (voicemail)")
    if insight is not None:
        lines.append(f"- **Summary** ({LABEL}): {md_escape(insight.summary)}")
        objections = [OBJECTION_LABELS.get(o, o) for o in insight.objections]
        lines.append(f"- **Objections:** {', '.join(objections) if objections else 'none'}")
        if insight.next_steps:
            lines.append(f"- **Next step:** {'; '.join(map(md_escape, insight.next_steps))}")
    elif status.terminal:
        lines.append("- **Summary:** not written yet (ask me to summarise the call)")
    callback = callback_text(call, contact, user_zone)
    if callback:
        lines.append(f"- **Callback:** {callback}")
    if call.error:
        lines.append(f"- **Error:** {md_escape(call.error)}")
    playable = has_recording(call)
    if playable:
        seconds = f" ({length(call.recording_duration_s)})" if call.recording_duration_s else ""
        lines.append(f"- **Recording:** the player is below{seconds}")
    elif status.terminal:
        lines.append("- **Recording:** none for this call")
    page = call_url(base_url, call)
    count = f" ({len(turns)} turns)" if turns else ""
    lines.append(f"- **Transcript:** [open call {short_id(call)}]({page}){count}")
    return CardParts("\n".join(lines), recording_path(call.id) if playable else None)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (escaped, no pipes or line breaks)."""
    return str(md_escape(" ".join(text.split())))  # md_escape escapes "|" too


def calls_table(rows: Sequence[tuple[Call, Contact]], *, user_zone: str, base_url: str) -> str:
    """Calls as a Markdown table, newest first; each id links to the call's page."""
    head = "| Call | Contact | When | Status | Length | Cost | Outcome |"
    rule = "| --- | --- | --- | --- | --- | --- | --- |"
    body = []
    for call, contact in rows:
        status = CallStatus(call.status)
        seconds = (
            length(call.duration_s)
            if call.duration_s is not None and status is CallStatus.COMPLETED
            else "–"
        )
        outcome = call.outcome.replace("_", " ") if call.outcome else "–"
        body.append(
            f"| [{short_id(call)}]({call_url(base_url, call)}) | {_cell(contact.name)} | "
            f"{format_local(call.created_at, user_zone, label=False)} | {status.label} | "
            f"{seconds} | {cost_text(call)} | {outcome} |"
        )
    return "\n".join([head, rule, *body])
