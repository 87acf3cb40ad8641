"""The voice agent interface the ConversationRelay socket talks to, and its factory.

A `VoiceAgent` speaks the opening (or a voicemail), streams a reply to each thing the
caller says, and keeps a `ConversationState` the call service reads when the call
ends: whether to hang up, opt-out, outcome, a booked callback and the objections heard.
The scripted agent runs offline; the OpenAI agent is used when a model is configured.
The fixed lines every agent speaks word for word are built here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from telephony.models import CallOutcome
from telephony.voice import intents
from telephony.voice.brief import CallBrief
from telephony.voice.handoff import HandoffPolicy
from telephony.voice.purpose import purpose_clause


@dataclass
class ConversationState:
    """What the conversation has decided so far; the relay reads it after each reply."""

    end_call: bool = False  # hang up after the current reply is spoken
    opt_out: bool = False
    outcome: CallOutcome | None = None
    callback_at: datetime | None = None
    objections: list[str] = field(default_factory=list)
    # The prospect accepted the warm hand-off: why it was offered (voice/handoff.py).
    handoff: str | None = None

    def record_objections(self, kinds: list[str]) -> None:
        self.objections.extend(k for k in kinds if k not in self.objections)


@dataclass(frozen=True)
class OpenAIConfig:
    """An OpenAI-compatible chat model for the voice agent (`base_url` None: OpenAI)."""

    api_key: str = field(repr=False)
    model: str
    base_url: str | None
    timeout_s: float = 10


class VoiceAgent(Protocol):
    state: ConversationState
    # Whether the rep can take the call (set by the relay before the opening).
    handoff: HandoffPolicy

    async def prepare(self) -> None:
        """Work done once before the first words (the model phrasing the purpose);
        bounded by the agent's own timeout, never failing."""
        ...

    def opening(self) -> str:
        """The AI disclosure, one sentence of purpose and a question."""
        ...

    def voicemail(self) -> str:
        """The disclosure and the message left on an answering machine."""
        ...

    def respond(self, caller_text: str) -> AsyncIterator[str]:
        """Stream the reply to `caller_text` as word pieces; `state` is final when it ends."""
        ...

    def interrupted(self, spoken: str) -> None:
        """The caller barged in: only `spoken` of the last reply was heard."""
        ...

    def opted_out(self) -> str:
        """A polite goodbye after an opt-out; marks the state opted out and ending."""
        ...


_LOWER_STARTS = {"a", "an", "our", "the", "to", "your", "their", "introduce", "introducing"}


def _clause(text: str) -> str:
    """`text` for use inside a sentence: no final full stop, a common first word lowered."""
    text = text.strip().rstrip(".!")
    first = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if first.lower() in _LOWER_STARTS else text


def purpose_sentence(brief: CallBrief, clause: str | None = None) -> str:
    """The sentence "<rep> asked me to call <clause>.": `clause` is a model's phrasing
    (already vetted), else the rep's purpose is rephrased by rule (voice/purpose.py)."""
    return f"{brief.rep_name} asked me to call {clause or purpose_clause(brief.purpose)}."


def goal_clause(brief: CallBrief) -> str:
    goal = _clause(brief.goal)
    return goal[3:] if goal.lower().startswith("to ") else goal


def first_name(brief: CallBrief) -> str:
    return brief.contact_name.split()[0] if brief.contact_name else "there"


def opening_line(brief: CallBrief, clause: str | None = None) -> str:
    return (
        f"{brief.disclosure()} {purpose_sentence(brief, clause)} "
        "Is now a good time for a quick minute?"
    )


def voicemail_line(brief: CallBrief, clause: str | None = None) -> str:
    message = brief.voicemail_message or (
        f"{purpose_sentence(brief, clause)} {brief.rep_name} will try you again soon. "
        "Thanks, and have a great day."
    )
    return f"{brief.disclosure()} {message}"


def opted_out_line(brief: CallBrief) -> str:
    return (
        f"Understood — I'll make sure {brief.company_name} doesn't call you again. "
        "Sorry for the interruption, goodbye."
    )


def spoken_time(when: datetime, tz: ZoneInfo) -> str:
    """`when` as the callee says it: "Tuesday, December 1 at 3:00 PM"."""
    local = when.astimezone(tz)
    hour = local.hour % 12 or 12
    return (
        f"{local:%A}, {local:%B} {local.day} at {hour}:{local.minute:02d} "
        f"{'AM' if local.hour < 12 else 'PM'}"
    )


def booked_line(brief: CallBrief, when: datetime, tz: ZoneInfo) -> str:
    return (
        f"Perfect — {brief.rep_name} will call you on {spoken_time(when, tz)}. "
        "Thanks for your time, goodbye!"
    )


def fallback_line(brief: CallBrief) -> str:
    return (
        f"Sorry, I'm having trouble on my end — {brief.rep_name} will follow up with you "
        "directly. Goodbye."
    )


def tokens(text: str) -> list[str]:
    """Word pieces that concatenate back to `text`, each ending in a space or the text's end."""
    return re.findall(r"\S+\s*", text)


def build_voice_agent(
    brief: CallBrief,
    *,
    now: Callable[[], datetime],
    tz: ZoneInfo,
    openai: OpenAIConfig | None,
) -> VoiceAgent:
    """The OpenAI agent when a model is configured, else the offline scripted one."""
    # Imported here: both modules build on this one, and langchain is only loaded when used.
    intents.warm_up()
    if openai is None:
        from telephony.voice.scripted import ScriptedSalesAgent

        return ScriptedSalesAgent(brief, now=now, tz=tz)
    from telephony.voice.openai_agent import OpenAISalesAgent

    return OpenAISalesAgent(brief, now=now, tz=tz, config=openai)
