"""What the voice agent says on every call, which search must not find first.

The agent's opening (`telephony.voice.agent.opening_line`: who is calling, on whose
behalf, that it is an AI, that the call is recorded, then the campaign's purpose) is
the same on every call of a campaign, and so is its sign-off ("Thanks for your time,
goodbye!"). Indexed like any other turn, they match every query about "pricing" or
"calls" on every call. `searchable_text` gives the part of a turn worth indexing:

* an agent turn that carries the AI / recording disclosure (an opening, or a
  voicemail's opening) loses the disclosure sentences and the stock "is now a good
  time" question; the call's own purpose sentence stays searchable;
* an agent turn's closing courtesy ("Thanks so much for your time. Goodbye.") is cut
  off its end; what else the turn says (a booked time, an opt-out confirmation) stays.

Prospects' turns are never touched: "is this call recorded?" from a prospect is what a
search for it should find. Pure: no database.
"""

from __future__ import annotations

import re

AGENT = "agent"

_DISCLOSURE = re.compile(
    r"\ban? AI (?:assistant|agent|caller)\b[^.?!]*\bon behalf of\b"
    r"|\bthis call (?:is|may be|will be|is being) (?:being )?recorded\b",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"(?:^|(?<=[.!?—-])\s*)(?:thanks|thank you)(?: so much| very much| again)?"
    r"(?: for your time)?[\s,.!—-]*(?:and )?(?:have a (?:great|good|nice) (?:day|one)[\s,.!]*)?"
    r"(?:good ?bye|bye)[.!]*\s*$",
    re.IGNORECASE,
)


def is_disclosure(speaker: str, text: str) -> bool:
    """An agent turn that carries the AI / recording disclosure (an opening)."""
    return speaker == AGENT and _DISCLOSURE.search(text) is not None


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_STOCK_QUESTION = re.compile(r"^is now a good time\b", re.IGNORECASE)


def _without_disclosure(text: str) -> str:
    """An opening less its disclosure and stock question: what is left is the call's
    own purpose ("Riley asked me to call about the webinar follow-up."), which a rep
    searching for "webinar" expects to find."""
    kept = [
        sentence
        for sentence in _SENTENCE_END.split(text.strip())
        if not _DISCLOSURE.search(sentence) and not _STOCK_QUESTION.search(sentence)
    ]
    return " ".join(kept)


def searchable_text(speaker: str, text: str) -> str:
    """The part of a turn worth indexing ("" when the turn is boilerplate through and
    through)."""
    if speaker != AGENT:
        return text.strip()
    if is_disclosure(speaker, text):
        text = _without_disclosure(text)
    return _CLOSING.sub("", text).strip()
