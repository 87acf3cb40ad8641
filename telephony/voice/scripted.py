"""The offline, rule-based voice agent: a short sales flow that follows the brief.

It opens with the AI disclosure and the purpose, walks the talking points one per turn,
answers objections, and works toward the brief's goal by asking for a callback time.
Every decision comes from `intents`, with no I/O, so a reply starts within the relay's
latency budget. It says it is an AI whenever asked and never claims to be a person.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from telephony.models import CallOutcome
from telephony.voice import handoff, intents
from telephony.voice.agent import (
    ConversationState,
    booked_line,
    first_name,
    goal_clause,
    opening_line,
    opted_out_line,
    tokens,
    voicemail_line,
)
from telephony.voice.brief import CallBrief

Asked = Literal["now", "continue", "followup", "time", "handoff"]
Speaker = Literal["agent", "caller"]

_BARE_NO = re.compile(r"^\W*(?:no|nope|not really|not now|not right now)\W*$", re.IGNORECASE)
_QUESTION = re.compile(r"\?\s*$|^\s*(?:what|how|why|who|when|where|which|can|does|do|is)\b", re.I)
_OBJECTION_ANSWERS = {
    "price": "That's fair — {rep} can walk you through options that fit your budget.",
    "competitor": "Makes sense — plenty of teams compare us with what they already use.",
    "authority": "Understood — {rep} is happy to include whoever makes that call.",
    "need": "Fair enough — a short chat with {rep} would show quickly whether it fits or not.",
}
_PROPOSALS = (
    "Would it make sense to {goal} with {rep}?",
    "Would a short call with {rep} be worth it?",
    "Could we find a time for you and {rep} to talk?",
)
_TIME_ASKS = (
    "What day and time work best for you?",
    "When would suit you — a day and a time is all I need.",
    "Which day works for a quick call with {rep}, and at what time?",
)
_MAX_TIME_ASKS = 3


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


class ScriptedSalesAgent:
    """A deterministic `VoiceAgent` driven by the brief and `intents`."""

    def __init__(self, brief: CallBrief, *, now: Callable[[], datetime], tz: ZoneInfo) -> None:
        self.brief = brief
        self.state = ConversationState()
        self.history: list[tuple[Speaker, str]] = []
        self._now = now
        self._tz = tz
        self._asked: Asked = "now"
        self._points_given = 0
        self._point_in_last_reply: str | None = None
        self._declines = 0
        self._time_asks = 0
        self._nudges = 0
        self.handoff = handoff.HandoffPolicy()
        self._handoff_reason = handoff.ASKED
        self._handoff_offered = False

    # -- fixed lines ---------------------------------------------------------------

    async def prepare(self) -> None:
        """Nothing to do: the purpose is phrased by rule (telephony/voice/purpose.py)."""

    def opening(self) -> str:
        self._asked = "now"
        return self._say(opening_line(self.brief))

    def voicemail(self) -> str:
        self.state.outcome = CallOutcome.VOICEMAIL
        self.state.end_call = True
        return self._say(voicemail_line(self.brief))

    def opted_out(self) -> str:
        return self._say(self._opt_out())

    # -- the conversation ----------------------------------------------------------

    async def respond(self, caller_text: str) -> AsyncIterator[str]:
        self.history.append(("caller", caller_text))
        self._point_in_last_reply = None
        reply = self._say(self._reply(caller_text))
        for piece in tokens(reply):
            yield piece

    def interrupted(self, spoken: str) -> None:
        if not self.history or self.history[-1][0] != "agent":
            return
        heard = spoken.strip()
        if heard:
            self.history[-1] = ("agent", heard)
        else:
            self.history.pop()
        point = self._point_in_last_reply
        if point is not None and point.rstrip(".!?") not in heard:
            self._points_given -= 1  # not heard in full: bring it up again
        self._point_in_last_reply = None

    # -- internals -----------------------------------------------------------------

    def _say(self, text: str) -> str:
        self.history.append(("agent", text))
        return text

    def _opt_out(self) -> str:
        self.state.opt_out = True
        self.state.end_call = True
        self.state.outcome = CallOutcome.OPTED_OUT
        return opted_out_line(self.brief)

    def _fill(self, template: str) -> str:
        return template.format(rep=self.brief.rep_name, goal=goal_clause(self.brief))

    def _reply(self, text: str) -> str:
        if self.state.end_call:
            return "Thanks again, goodbye."
        if intents.is_opt_out(text):
            return self._opt_out()
        if not text.strip():
            return "Sorry, I didn't catch that — are you still there?"
        if intents.is_firm_negative(text):
            return self._close_not_interested()
        if intents.is_goodbye(text):
            if intents.is_positive(text) and self.state.outcome is None:
                self.state.outcome = CallOutcome.INTERESTED
            self.state.end_call = True
            return f"Thanks for your time, {first_name(self.brief)} — goodbye!"
        if handoff.asks_for_person(text, self.brief.rep_name):
            return self._offer_handoff(handoff.ASKED)
        if intents.is_identity_question(text):
            self._asked = "continue"
            return (
                f"I'm an AI assistant, not a real person, calling on behalf of "
                f"{self.brief.rep_name} at {self.brief.company_name}. Is it okay if I continue?"
            )
        when = intents.agreed_callback_time(text, self._now(), self._tz)
        if when is not None:
            return self._book(when)
        if self._asked == "handoff":
            return self._answer_handoff(text)
        objections = intents.objections_in(text)
        self.state.record_objections(objections)
        objection = objections[0] if objections else None
        if intents.is_negative(text) and not (self._asked == "now" and _BARE_NO.match(text)):
            return self._decline(objection)
        if objection == "timing" or (self._asked == "now" and _BARE_NO.match(text)):
            return self._ask_time(
                f"No problem — when would be a better time for {self.brief.rep_name} "
                "to call you back?"
            )
        if objection is not None:
            return f"{self._fill(_OBJECTION_ANSWERS[objection])} {self._propose()}"
        if intents.is_price_question(text):
            return (
                f"I can't quote prices on this call, but {self.brief.rep_name} can walk you "
                f"through pricing. {self._propose()}"
            )
        if intents.is_positive(text):
            return self._positive()
        if _QUESTION.search(text):
            return self._next_step(answering=True)
        if self._asked == "time":
            return self._ask_time(self._variant(_TIME_ASKS))
        return self._next_step()

    def _positive(self) -> str:
        if self.state.outcome is None or self.state.outcome == CallOutcome.NOT_INTERESTED:
            self.state.outcome = CallOutcome.INTERESTED
        if self._asked == "time":
            if self._time_asks >= _MAX_TIME_ASKS:
                self.state.end_call = True
                return (
                    f"No problem — {self.brief.rep_name} will reach out to find a time that "
                    "suits you. Thanks, goodbye!"
                )
            return self._ask_time(self._variant(_TIME_ASKS))
        if self._asked == "followup":
            if self.handoff.on_goal and self.handoff.reachable and not self._handoff_offered:
                return self._offer_handoff(handoff.GOAL)
            return self._ask_time(f"Great. {self._fill(_TIME_ASKS[0])}")
        return self._next_step()

    def _next_step(self, *, answering: bool = False) -> str:
        """The next talking point (as the answer to a question, if `answering`), or,
        once they are all given, the proposal."""
        points = self.brief.talking_points
        if self._points_given < len(points):
            point = _sentence(points[self._points_given])
            self._points_given += 1
            self._point_in_last_reply = point
            if self._points_given == len(points):
                return f"{point} {self._propose()}"
            self._asked = "continue"
            return (
                f"{point} {'Does that help?' if answering else 'Does that sound relevant for you?'}"
            )
        if answering:
            return f"{self.brief.rep_name} can go into detail on that. {self._propose()}"
        self._asked = "followup"
        return self._variant(_PROPOSALS)

    def _propose(self) -> str:
        self._asked = "followup"
        return self._fill(_PROPOSALS[0])

    def _ask_time(self, question: str) -> str:
        self._asked = "time"
        self._time_asks += 1
        return question

    def _variant(self, phrasings: tuple[str, ...]) -> str:
        """The next of `phrasings`, so that asking again does not sound like a loop."""
        self._nudges += 1
        return self._fill(phrasings[self._nudges % len(phrasings)])

    def _decline(self, objection: str | None) -> str:
        self._declines += 1
        self.state.outcome = CallOutcome.NOT_INTERESTED
        if self._declines >= 2:
            return self._close_not_interested()
        if objection is not None and objection != "timing":
            return f"{self._fill(_OBJECTION_ANSWERS[objection])} {self._propose()}"
        self._asked = "followup"
        return (
            f"Understood. Before I let you go — would a short call with {self.brief.rep_name} "
            "some other time be worth it?"
        )

    def _close_not_interested(self) -> str:
        self.state.outcome = CallOutcome.NOT_INTERESTED
        self.state.end_call = True
        return (
            f"Understood — thanks for your time, {first_name(self.brief)}. "
            "Have a great day, goodbye."
        )

    def _offer_handoff(self, reason: str) -> str:
        """Offer to connect the prospect to the rep — or, when the rep cannot take the
        call, say so and ask for a callback time instead."""
        if not self.handoff.reachable:
            return self._ask_time(handoff.unreachable_line(self.brief))
        self._asked = "handoff"
        self._handoff_reason = reason
        self._handoff_offered = True
        return handoff.offer_line(self.brief, reason)

    def _answer_handoff(self, text: str) -> str:
        """The prospect's answer to the hand-off offer: yes connects, else a callback."""
        if intents.is_positive(text) and not intents.is_negative(text):
            if self.state.outcome is None or self.state.outcome == CallOutcome.NOT_INTERESTED:
                self.state.outcome = CallOutcome.INTERESTED
            self.state.handoff = self._handoff_reason
            self.state.end_call = True
            return handoff.connecting_line(self.brief)
        return self._ask_time(handoff.not_now_line(self.brief))

    def _book(self, when: datetime) -> str:
        self.state.outcome = CallOutcome.CALLBACK_BOOKED
        self.state.callback_at = when
        self.state.end_call = True
        return booked_line(self.brief, when, self._tz)
