"""Numbers as people write them in words, shared by what reads their messages: the
offline chat model ("the last ten calls") and the voice agent ("in fifteen minutes")."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

NUMBER_WORDS: Final = MappingProxyType(
    {
        "one": 1,
        "two": 2,
        "three": 3,
        "four": 4,
        "five": 5,
        "six": 6,
        "seven": 7,
        "eight": 8,
        "nine": 9,
        "ten": 10,
        "eleven": 11,
        "twelve": 12,
        "fourteen": 14,
        "fifteen": 15,
        "twenty": 20,
        "thirty": 30,
        "forty five": 45,
        "sixty": 60,
        "ninety": 90,
    }
)
