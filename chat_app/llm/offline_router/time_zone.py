"""The zone a message asks to switch to: "set my time zone to central time", "I'm on
Pacific time now", "use London time" → {"time_zone": "America/Chicago"} … (an IANA name
when the words name a zone, else the words themselves, so the tool can say it does
not know them)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from core.timezones import UnknownTimeZone, resolve_zone

# The zone named after one of these words: "… to central time", "… is PT", "… on ET".
_AFTER = re.compile(
    r"\b(?:to|is|as|into|on|in|use|using|for|be|at)\s+(?P<zone>[a-z][a-z_/ .'-]{1,60}?)"
    r"\s*(?:time\s*zone|timezone|time|hours?|please|now|from now on|instead|thanks)?"
    r"\s*[.!?]*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z_/'.-]+")


def _resolved(words: str) -> str | None:
    try:
        return resolve_zone(words)
    except UnknownTimeZone:
        return None


def time_zone_args(text: str, today: date) -> dict[str, Any]:
    """{"time_zone": <IANA name or the words given>} ({} when no zone is named)."""
    cleaned = " ".join(text.replace("’", "'").split())
    match = _AFTER.search(cleaned)
    if match:
        named = match.group("zone").strip(" .")
        found = _resolved(named)
        if found:
            return {"time_zone": found}
    words = _WORD.findall(cleaned)
    # The longest run of words (up to three) that names a zone, latest first.
    for size in (3, 2, 1):
        for start in range(len(words) - size, -1, -1):
            found = _resolved(" ".join(words[start : start + size]))
            if found and words[start].lower() not in {"time", "zone", "my", "to", "the"}:
                return {"time_zone": found}
    if match:
        return {"time_zone": match.group("zone").strip(" .")}
    return {}
