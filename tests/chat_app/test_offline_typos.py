"""Command words typed with a typo are read as the word meant before routing
(chat_app.llm.offline_router.typos): an extractor looking for 'transcript' or 'growth'
finds it in 'trnascript' or 'growht'. Names, real words, forms of a command word and the
words the training phrasings use are never changed. Pure unit tests: no database."""

from __future__ import annotations

from typing import Any

import pytest

from chat_app.llm.offline_router.typos import fix_typos
from tests.chat_app.phrasings import answer


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("trnascript hana sato", "transcript hana sato"),
        ("insigths for jonas", "insights for jonas"),
        ("buy the growht pack", "buy the growth pack"),
        ("pause the campain", "pause the campaign"),
        ("Transcirpt for Hana", "Transcript for Hana"),
    ],
)
def test_a_misspelt_command_word_is_read_as_the_word_meant(typed: str, meant: str) -> None:
    assert fix_typos(typed) == meant


@pytest.mark.parametrize(
    "typed",
    [
        "the contract renewal",  # a real word one edit from 'contacts'
        "calls kate made",  # short words: too often a name
        "ask Balanse about it",  # a capitalised word after the first: a name
        "contacted yesterday",  # a form of a command word
        "credit",
        "stats for riley",
    ],
)
def test_names_real_words_and_forms_are_left_as_typed(typed: str) -> None:
    assert fix_typos(typed) == typed


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("trnascript hana sato", "get_transcript", {"call": "hana sato"}),
        ("buy growht pack", "buy_credits", {"package": "growth"}),
        ("recordng of the greta call", "play_recording", {"call": "greta"}),
    ],
)
def test_the_arguments_are_read_through_the_typo(
    text: str, tool: str, args: dict[str, Any]
) -> None:
    assert answer({"text": text})[:2] == (tool, args)
