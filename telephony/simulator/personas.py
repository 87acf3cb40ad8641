"""The prospects the simulated carrier plays on an answered call.

A persona hears each complete agent reply (the opening first) and answers with words,
a keypad digit, or by hanging up. Each follows a script of a few turns, picks its
phrasings with the carrier's seeded `random.Random` (so a seed replays the same call),
and answers with a day and time whenever the agent asks for one, if it means to book.
`VOICEMAIL_GREETINGS` are what an answering machine says before the beep.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PersonaLine:
    text: str | None = None  # words the prospect says (None: silence)
    dtmf: str | None = None  # a keypad digit pressed instead
    hang_up: bool = False  # prospect hangs up after this line


class Persona(Protocol):
    name: str

    def hear(self, agent_text: str) -> PersonaLine:
        """The prospect's answer to one complete agent reply."""
        ...


Choices = tuple[PersonaLine, ...]

_ASKS_TIME = re.compile(r"\b(?:day and time|what time|which day|better time|when would)\b", re.I)


def _say(*texts: str, hang_up: bool = False) -> Choices:
    return tuple(PersonaLine(text=t, hang_up=hang_up) for t in texts)


@dataclass(frozen=True)
class _Script:
    lines: tuple[Choices, ...]  # one turn each, in order
    then: Choices  # once the lines are used up, for as long as the call lasts
    times: Choices = ()  # answers when the agent asks for a day and time


class ScriptedPersona:
    """A prospect that plays a `_Script`, varying its words with `rng`."""

    def __init__(self, name: str, script: _Script, rng: random.Random) -> None:
        self.name = name
        self._script = script
        self._rng = rng
        self._turn = 0

    def hear(self, agent_text: str) -> PersonaLine:
        if self._script.times and _ASKS_TIME.search(agent_text):
            return self._rng.choice(self._script.times)
        if self._turn < len(self._script.lines):
            self._turn += 1
            return self._rng.choice(self._script.lines[self._turn - 1])
        return self._rng.choice(self._script.then)


_BOOKS = _say(
    "Tuesday at 10am works.",
    "How about Thursday at 2pm?",
    "Wednesday at 11am works for me.",
    "Tomorrow at 4pm would be fine.",
)
_RAMBLES = _say(
    "So the thing about our warehouse is that my grandfather built it with a colored card "
    "for every shelf, and people still talk about those cards, and the forklifts were "
    "painted to match them, which sounds silly but it kept everything moving, and that is "
    "how we ended up with the layout we have, and the loading dock faces the river, and",
    "Let me tell you about the conference I went to a while back, there was a speaker who "
    "kept talking about supply chains and dashboards and half the room was asleep, and then "
    "the coffee machine broke and everybody got up at once, which was the most exciting "
    "part of the whole event, and the hotel carpet had these enormous orange swirls, and",
    "You know, my brother-in-law runs a bakery across town and he tells me every weekend "
    "that the ovens are the real stars of the place, they decide when the bread is done "
    "and the staff just follow along, and he swears the sourdough starter is older than "
    "his car, and his car is very old, it has a cassette player and a crank window, and",
    "The other thing is the parking lot, which floods whenever it rains more than a little, "
    "and the city keeps promising to fix the drains, and every spring we put sandbags out "
    "along the fence line and the kids from the school up the road help stack them, and "
    "there is a heron that shows up on the puddles as if it owned the place, and",
)

_SCRIPTS: dict[str, _Script] = {
    "interested": _Script(
        lines=(
            _say("Sure, I have a couple of minutes.", "Yeah, go ahead.", "Okay, I'm listening."),
            _say(
                "Interesting. How would that work with the tools we have now?",
                "Hmm, how long does it take to set up?",
                "What kind of results do people usually see?",
            ),
            _say(
                "That sounds useful, I'd like to hear more.",
                "Okay, that could work for us.",
                "Sounds good to me.",
            ),
        ),
        then=_say("Sounds good.", "Sure."),
        times=_BOOKS,
    ),
    "price_objection": _Script(
        lines=(
            _say("Go on.", "Okay, I have a minute.", "Alright, I'm listening."),
            _say(
                "Sounds expensive. We don't have much budget this year.",
                "Honestly, that sounds expensive for a team our size.",
                "I bet that's too expensive for us.",
            ),
            _say(
                "Well, if there are cheaper options, a short call couldn't hurt.",
                "Okay, if it fits what we can spend, I'd like to hear more.",
                "Alright, that makes sense.",
            ),
        ),
        then=_say("Sure.", "Okay."),
        times=_BOOKS,
    ),
    "not_interested": _Script(
        lines=(
            _say(
                "Not interested, thanks.",
                "No thanks, we're not interested.",
                "Nope, not interested.",
            ),
            _say(
                "I said I'm not interested.",
                "Really, no thanks.",
                "No. Not interested.",
                hang_up=True,
            ),
        ),
        then=_say("Goodbye.", hang_up=True),
    ),
    "opt_out": _Script(
        lines=(
            _say("Okay...", "Um, what's this about?", "Who did you say you are?"),
            _say("Please stop calling me."),
        ),
        then=_say("Goodbye.", hang_up=True),
    ),
    "opt_out_keypad": _Script(
        lines=(
            _say("Hmm.", "What is this?", "Okay..."),
            (PersonaLine(dtmf="9"),),
        ),
        then=_say("Goodbye.", hang_up=True),
    ),
    "callback_later": _Script(
        lines=(
            _say(
                "I'm busy, call me back tomorrow at 3pm.",
                "I'm in a meeting — can you call me back tomorrow at 3pm?",
                "Bad time, sorry. Try me tomorrow at 3pm.",
            ),
        ),
        then=_say("Thanks, bye.", hang_up=True),
        times=_say("Like I said, tomorrow at 3pm."),
    ),
    "rambler": _Script(lines=(), then=_RAMBLES),
    "asks_if_ai": _Script(
        lines=(
            _say("Is this a robot?", "Wait, is this a robot?", "Hold on, is this a robot?"),
            _say("Okay, well I'm not interested.", "Right. I'm not interested, thanks."),
            _say("No thanks. Goodbye.", "Still no, thanks. Bye.", hang_up=True),
        ),
        then=_say("Goodbye.", hang_up=True),
    ),
    # Asks for a person, and says yes when offered to be put through (warm hand-off);
    # gives a day and time when asked for one instead.
    "wants_a_person": _Script(
        lines=(
            _say("Okay, go on.", "Alright, I'm listening."),
            _say(
                "Actually, can I speak to a real person?",
                "Could I talk to someone from your team?",
                "I'd rather talk to a human, please.",
            ),
            _say("Yes, please.", "Sure, put me through.", "Yes, that would be great."),
        ),
        then=_say("Okay.", "Alright."),
        times=_BOOKS,
    ),
}


def _factory(name: str) -> Callable[[random.Random], Persona]:
    script = _SCRIPTS[name]

    def make(rng: random.Random) -> Persona:
        return ScriptedPersona(name, script, rng)

    return make


PERSONAS: dict[str, Callable[[random.Random], Persona]] = {
    name: _factory(name) for name in _SCRIPTS
}

VOICEMAIL_GREETINGS: tuple[str, ...] = (
    "Hi, you've reached my voicemail. I can't take your call right now, so please leave a "
    "message after the tone.",
    "The person you are calling is not available. Please leave your message after the beep.",
    "Hey, it's me. Leave a message and I'll get back to you as soon as I can.",
    "You have reached the front desk. Our office is unable to answer right now; please "
    "leave your name and number after the tone.",
)
