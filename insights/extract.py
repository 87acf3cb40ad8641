"""Offline call insights: extractive and rule-based, no model (generator `offline-rules-v1`).

`extract(facts, turns)` reads one call — its status, length, answering-machine result,
the outcome the voice agent stored, a booked callback, the brief's purpose — and its
transcript, and returns an `Insight`: a short summary quoting what the prospect said that
mattered, the outcome, the objections raised, next steps and the sentiment. Only the
prospect's own turns count for objections, interest and sentiment; the agent's words are
never read as the prospect's. The phrase rules are the voice agent's (`intents`), so the
insight agrees with what the agent decided on the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from telephony.voice import intents

GENERATOR: Final = "offline-rules-v1"
LABEL: Final = "AI-generated summary — may be inaccurate"
OUTCOMES: Final = (
    "interested",
    "not_interested",
    "callback_booked",
    "voicemail",
    "no_answer",
    "opted_out",
)
SENTIMENTS: Final = ("positive", "neutral", "negative")
OBJECTION_LABELS: Final = {
    "price": "price",
    "timing": "timing",
    "competitor": "a competitor",
    "authority": "authority (not the decision maker)",
    "need": "no need",
}
OUTCOME_LABELS: Final = {
    "interested": "interested",
    "not_interested": "not interested",
    "callback_booked": "callback booked",
    "voicemail": "voicemail",
    "no_answer": "no answer",
    "opted_out": "opted out",
}
# Outcomes the call row may carry that insights fold into one of `OUTCOMES`.
_STORED_OUTCOMES: Final = {"busy": "no_answer", "failed": "no_answer"}
_NOT_CONNECTED: Final = frozenset({"busy", "failed", "no-answer", "canceled"})
_KEYPAD_OPT_OUT: Final = f"Keypad: {intents.OPT_OUT_DIGIT}"
_MAX_QUOTE_CHARS: Final = 160
_MAX_QUOTES: Final = 2
_SENTIMENT_BAND: Final = 0.2
UTC_ZONE: Final = ZoneInfo("UTC")


@dataclass(frozen=True)
class Turn:
    """One transcript segment: `speaker` is "agent", "prospect" or "system"."""

    speaker: str
    text: str
    at: datetime


@dataclass(frozen=True)
class CallFacts:
    """What the call row and its contact say about the call."""

    contact_name: str
    status: str
    contact_company: str | None = None
    purpose: str = ""
    goal: str = ""
    duration_s: int | None = None
    answered_by: str | None = None
    outcome: str | None = None  # stored by the voice agent or the final callback
    callback_at: datetime | None = None
    tz: ZoneInfo = UTC_ZONE  # the contact's time zone, for callback times


@dataclass(frozen=True)
class Insight:
    """One reading of a call, ready to store as a `CallInsight` row."""

    summary: str
    outcome: str
    objections: tuple[str, ...]
    next_steps: tuple[str, ...]
    sentiment: str
    sentiment_score: float
    generator: str = GENERATOR


def _prospect(turns: Sequence[Turn]) -> list[Turn]:
    return [t for t in turns if t.speaker == "prospect" and t.text.strip()]


def objections_of(turns: Sequence[Turn]) -> tuple[str, ...]:
    """Every objection the prospect raised, each once, in the order first raised."""
    found: list[str] = []
    for turn in _prospect(turns):
        found.extend(k for k in intents.objections_in(turn.text) if k not in found)
    return tuple(found)


def opted_out(turns: Sequence[Turn]) -> bool:
    """The prospect asked not to be called again, in words or on the keypad."""
    return any(
        (t.speaker == "prospect" and intents.is_opt_out(t.text))
        or (t.speaker == "system" and t.text.strip() == _KEYPAD_OPT_OUT)
        for t in turns
    )


def _callback(facts: CallFacts, turns: Sequence[Turn]) -> datetime | None:
    """The booked callback: the stored one, else the last time the prospect agreed to."""
    if facts.callback_at is not None:
        return facts.callback_at
    for turn in reversed(_prospect(turns)):
        when = intents.agreed_callback_time(turn.text, turn.at, facts.tz)
        if when is not None:
            return when
    return None


def _connected(facts: CallFacts) -> bool:
    return facts.status == "completed" and (facts.duration_s is None or facts.duration_s > 0)


def _machine(facts: CallFacts) -> bool:
    answered = facts.answered_by or ""
    return answered.startswith("machine") or answered == "fax"


def _leaning(turns: Sequence[Turn]) -> str | None:
    """ "positive" or "negative": the prospect's last clear yes or no, if any."""
    for turn in reversed(_prospect(turns)):
        if intents.is_negative(turn.text) or intents.is_opt_out(turn.text):
            return "negative"
        if intents.is_positive(turn.text):
            return "positive"
    return None


def outcome_of(facts: CallFacts, turns: Sequence[Turn]) -> str:
    """The stored outcome when the call has one (the voice agent marks it), else rules."""
    if facts.outcome:
        return _STORED_OUTCOMES.get(facts.outcome, facts.outcome)
    if facts.status in _NOT_CONNECTED or not _connected(facts):
        return "no_answer"
    if _machine(facts):
        return "voicemail"
    if opted_out(turns):
        return "opted_out"
    if _callback(facts, turns) is not None:
        return "callback_booked"
    if not _prospect(turns):
        return "no_answer"
    return "interested" if _leaning(turns) == "positive" else "not_interested"


def sentiment_of(turns: Sequence[Turn]) -> tuple[str, float]:
    """(label, score in [-1, 1]) from what the prospect said and pressed: +1 for a turn
    that agrees or shows interest, -1 for one that declines or opts out (a keypad opt-out
    too), -0.5 for one that only objects, 0 for the rest (a callback time among them),
    averaged over those turns."""
    said = _prospect(turns)
    keypad = sum(1 for t in turns if t.speaker == "system" and t.text.strip() == _KEYPAD_OPT_OUT)
    if not said and not keypad:
        return "neutral", 0.0
    total = -float(keypad)
    for turn in said:
        if intents.is_opt_out(turn.text) or intents.is_negative(turn.text):
            total -= 1
        elif intents.is_positive(turn.text):
            total += 1
        elif intents.callback_time(turn.text, turn.at, UTC_ZONE) is not None:
            continue
        elif intents.objections_in(turn.text):
            total -= 0.5
    score = round(max(-1.0, min(1.0, total / (len(said) + keypad))), 2) + 0.0  # no -0.0
    if score > _SENTIMENT_BAND:
        return "positive", score
    if score < -_SENTIMENT_BAND:
        return "negative", score
    return "neutral", score


def local_time(when: datetime, zone: ZoneInfo) -> str:
    """`when` in the contact's zone, short: "Tue Dec 1 at 3:00 PM ET"."""
    local = when.astimezone(zone)
    hour = local.hour % 12 or 12
    return (
        f"{local:%a} {local:%b} {local.day} at {hour}:{local.minute:02d} "
        f"{'AM' if local.hour < 12 else 'PM'} {_zone_abbreviation(local)}"
    )


def _zone_abbreviation(local: datetime) -> str:
    """ "ET" for EST/EDT and the like (US zones); the zone's own abbreviation otherwise."""
    name = local.tzname() or "UTC"
    if len(name) == 3 and name[1] in "SD" and name.endswith("T") and name != "UTC":
        return name[0] + "T"
    return name


def _mentions_price(turns: Sequence[Turn]) -> bool:
    return any(
        intents.is_price_question(t.text) or "price" in intents.objections_in(t.text)
        for t in _prospect(turns)
    )


def next_steps_of(
    facts: CallFacts, turns: Sequence[Turn], outcome: str, objections: Sequence[str]
) -> tuple[str, ...]:
    """What the rep should do now, most important first."""
    if outcome == "opted_out":
        return ("Do not call again (the number is on the do-not-call list)",)
    if outcome in ("no_answer", "voicemail"):
        return ("Try again later",)
    steps: list[str] = []
    callback = _callback(facts, turns)
    if outcome == "callback_booked" and callback is not None:
        steps.append(f"Call back on {local_time(callback, facts.tz)}")
    if outcome in ("interested", "callback_booked") and _mentions_price(turns):
        steps.append("Send pricing details")
    if outcome == "interested":
        goal = facts.goal.strip().rstrip(".") or "book a follow-up call"
        steps.append(f"Follow up to {goal[3:] if goal.lower().startswith('to ') else goal}")
    if outcome == "not_interested":
        if "authority" in objections:
            steps.append("Find out who makes the decision")
        if "timing" in objections:
            steps.append("Try again next quarter")
        steps = steps or ["No follow-up: the prospect declined"]
    return tuple(steps)


def _quote(text: str) -> str:
    words = " ".join(text.split())
    if len(words) > _MAX_QUOTE_CHARS:
        words = words[: _MAX_QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return f"“{words}”"


def _mattered(turns: Sequence[Turn], facts: CallFacts) -> list[Turn]:
    """The prospect's turns worth quoting: opt-outs, callback times, objections, a clear
    yes or no — at most `_MAX_QUOTES`, the last ones said (where the call ended up)."""
    picked = [
        t
        for t in _prospect(turns)
        if intents.is_opt_out(t.text)
        or intents.objections_in(t.text)
        or intents.agreed_callback_time(t.text, t.at, facts.tz) is not None
        or intents.is_negative(t.text)
        or (intents.is_positive(t.text) and len(t.text.split()) > 3)
    ]
    return picked[-_MAX_QUOTES:]


def _opening(facts: CallFacts) -> str:
    who = facts.contact_name + (f" of {facts.contact_company}" if facts.contact_company else "")
    purpose = facts.purpose.strip().rstrip(".")
    about = ""
    if purpose:
        first = purpose.split(" ", 1)[0].lower()
        if first in ("our", "the", "a", "an", "your", "their"):
            purpose = purpose[0].lower() + purpose[1:]
        about = f" {purpose}" if first == "to" else f" about {purpose}"
    if facts.status in _NOT_CONNECTED or not _connected(facts):
        state = {"busy": "the line was busy", "failed": "the call failed"}.get(
            facts.status, "nobody answered"
        )
        return f"Call to {who}{about}: {state}."
    if _machine(facts):
        return f"Call to {who}{about} reached voicemail."
    length = _duration(facts.duration_s)
    return f"Call with {who}{about}" + (f" ({length})." if length else ".")


def _duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def summary_of(
    facts: CallFacts, turns: Sequence[Turn], outcome: str, objections: Sequence[str]
) -> str:
    """Two or three sentences: who and what about, what the prospect said that mattered
    (quoted), and how it ended."""
    sentences = [_opening(facts)]
    first = facts.contact_name.split()[0] if facts.contact_name.strip() else "The prospect"
    quotes = _mattered(turns, facts) if outcome not in ("no_answer", "voicemail") else []
    if quotes:
        said = f"{first} said " + " and ".join(_quote(t.text) for t in quotes)
        sentences.append(said if said[-2] in ".!?…" else said + ".")
    elif any(t.speaker == "system" and t.text.strip() == _KEYPAD_OPT_OUT for t in turns):
        sentences.append(f"{first} pressed {intents.OPT_OUT_DIGIT} to opt out.")
    ending = f"Outcome: {OUTCOME_LABELS[outcome]}"
    callback = _callback(facts, turns)
    if outcome == "callback_booked" and callback is not None:
        ending += f" for {local_time(callback, facts.tz)}"
    if objections:
        ending += "; objections: " + ", ".join(OBJECTION_LABELS[o] for o in objections)
    sentences.append(ending + ".")
    return " ".join(sentences)


def extract(facts: CallFacts, turns: Sequence[Turn]) -> Insight:
    """The offline insight of one call (`turns` in the order they were said)."""
    ordered = list(turns)
    outcome = outcome_of(facts, ordered)
    objections = objections_of(ordered)
    sentiment, score = sentiment_of(ordered)
    return Insight(
        summary=summary_of(facts, ordered, outcome, objections),
        outcome=outcome,
        objections=objections,
        next_steps=next_steps_of(facts, ordered, outcome, objections),
        sentiment=sentiment,
        sentiment_score=score,
    )
