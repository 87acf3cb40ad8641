"""The warm hand-off, as the voice agent sees it: when to offer connecting the prospect
to the rep, and the fixed lines it speaks. Deterministic (no model decides it).

The agent offers the hand-off when the prospect asks for a person ("can I speak to
someone?", "put me through to Sam") and, if the workspace chose it, when the brief's
goal is reached (the prospect agrees to the follow-up). It offers it only when the rep
is reachable (a verified mobile, an active account): otherwise it says so and books a
callback instead. On a yes it says it is connecting and ends the relay session with
hand-off data; telephony/handoff.py dials the rep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from telephony.voice.brief import CallBrief

ASKED: Final = "asked_for_person"
GOAL: Final = "goal_reached"

_PERSON = (
    r"(?:a |an |the |your )?(?:real |actual |live )?(?:person|human|human being|someone|somebody"
    r"|rep|representative|salesperson|sales rep|agent|manager|people)"
)
_ASKS_FOR_PERSON = re.compile(
    rf"\b(?:(?:can|could|may) i |i(?:'d| would) (?:like|prefer|rather) (?:to )?|i want to "
    rf"|let me |i need to |is there (?:a way )?(?:for me )?to |rather )"
    rf"(?:speak|talk|chat) (?:to|with) {_PERSON}\b"
    rf"|\b(?:put me through|transfer me|connect me|patch me through)\b"
    rf"|\b(?:get|give) me {_PERSON}\b"
    rf"|\bis there {_PERSON} i can (?:speak|talk) (?:to|with)\b"
)


def _norm(text: str) -> str:
    lowered = text.lower().replace("\u2019", "'")
    return " ".join(re.sub(r"[^a-z0-9']+", " ", lowered).split())


def asks_for_person(text: str, rep_name: str | None = None) -> bool:
    """The prospect asks to speak with a person (or with the rep by name)."""
    words = _norm(text)
    if _ASKS_FOR_PERSON.search(words):
        return True
    if rep_name:
        first = re.escape(_norm(rep_name).split(" ")[0]) if _norm(rep_name) else ""
        if first and re.search(
            rf"\b(?:speak|talk|chat) (?:to|with) {first}\b|\bput {first} on\b", words
        ):
            return True
    return False


@dataclass(frozen=True)
class HandoffPolicy:
    """Whether the rep can take the call now, and whether to offer on the goal."""

    reachable: bool = False
    on_goal: bool = False


def offer_line(brief: CallBrief, reason: str) -> str:
    if reason == GOAL:
        return f"Great — {brief.rep_name} is available now. Would you like me to connect you?"
    return (
        f"Of course — I can connect you with {brief.rep_name} right now. Shall I put you through?"
    )


def connecting_line(brief: CallBrief) -> str:
    return f"Connecting you to {brief.rep_name} now — please hold for a moment."


def unreachable_line(brief: CallBrief) -> str:
    return (
        f"{brief.rep_name} can't take calls by phone right now, but they can call you back. "
        "What day and time work best for you?"
    )


def not_now_line(brief: CallBrief) -> str:
    return f"No problem. When would be a good time for {brief.rep_name} to call you back?"


def fallback_line(brief: CallBrief, when_spoken: str) -> str:
    """What the prospect hears when the rep did not pick up."""
    return (
        f"I'm sorry, {brief.rep_name} couldn't pick up just now. They'll call you back "
        f"{when_spoken}. Thank you for your patience, goodbye."
    )
