"""Command words typed with a typo, read as the word meant ('trnascript', 'insigths',
'balanse', 'campain', 'growht') before a message is classified and its arguments read,
so every extractor sees the word it knows.

Only what cannot be anything else is corrected: a lower-case word of four letters or
more that the training phrasings never use (every word they use, typos included, is
left as typed: the model and the extractors already know it), one edit (a letter
added, dropped, changed or two swapped; two for words of nine letters or more) from
exactly one of the command words below, with the same first letter, and not a plural
or past form of it. Capitalised words (names) are never touched, nor are short words,
where a person's name is too often one edit from a command ('kate' / 'rate').
"""

from __future__ import annotations

import functools
import json
import re

from chat_app.llm.offline_router.classifier import training_files
from chat_app.llm.offline_router.entities import word_set

# Words the router's extractors look for, long enough that a typo of one is not a name.
COMMAND_WORDS = word_set(
    """
    about analytics average balance callback callbacks campaign campaigns company consent contacts
    create time
    credits duration estimate growth history insights invoices mentioned objections outcomes
    package packages pause purchase quarter receipts recording recordings results resume revoke
    sentiment settings starter summarise summarize summary transcript transcripts voicemail
    webhook webhooks
    yesterday
    """
)

_TOKEN = re.compile(r"(?<![\w'’-])[a-z]{4,}(?![\w'’-])")
_FIRST = re.compile(r"^[A-Z][a-z]{3,}(?![\w'’-])")
_INFLECTIONS = ("s", "es", "ed", "d", "ing")


@functools.cache
def _known_words() -> frozenset[str]:
    """Every word of the training phrasings (lower case)."""
    words: set[str] = set()
    for path in training_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.update(re.findall(r"[a-z]+", str(json.loads(line)["text"]).lower()))
    return frozenset(words)


def _edits(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment) of `a` and `b`."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _inflected(word: str, command: str) -> bool:
    """Whether `word` is `command` with an ending ('contacted', 'credit' → 'credits')."""
    longer, shorter = (word, command) if len(word) > len(command) else (command, word)
    return any(longer == shorter + end for end in _INFLECTIONS)


def _meant(word: str) -> str | None:
    """The command word `word` is a typo of, or None."""
    if word in COMMAND_WORDS or word in _known_words():
        return None
    found: dict[str, int] = {}
    for command in COMMAND_WORDS:
        if command[0] != word[0] or abs(len(command) - len(word)) > 2:
            continue
        if _inflected(word, command):
            return None  # 'contacted', 'credit': a form of the word, not a typo
        edits = _edits(word, command)
        if edits <= (2 if len(command) >= 9 else 1):
            found[command] = edits
    if not found:
        return None
    nearest = min(found.values())
    closest = sorted(c for c, n in found.items() if n == nearest)
    # One word, or a word and its plural ('transcript', 'transcripts'): the nearer one.
    if len(closest) == 1 or (len(closest) == 2 and _inflected(*closest)):
        return closest[0]
    return None


def _corrected(found: re.Match[str]) -> str:
    word = found.group(0)
    meant = _meant(word.lower())
    if meant is None:
        return word
    return meant.capitalize() if word[0].isupper() else meant


# Short words too close to names to correct anywhere, read as the command they stand
# for only where a command stands: the message's first word ('cal dana about …', 'ad
# contact jenna price …'), after a 'please'.
_OPENING_TYPOS = {"cal": "call", "cll": "call", "clal": "call", "ad": "add", "rign": "ring"}
_OPENING = re.compile(
    r"^(\s*(?:(?:pls|plz|please|ok|okay|hey)[\s,]+)*)(" + "|".join(_OPENING_TYPOS) + r")(?=\s)",
    re.IGNORECASE,
)
# Abbreviations that are no one's name: 'abt the pilot extension'.
_ABBREVIATIONS = {
    "abt": "about",
    "bout": "about",
    "w/o": "without",
    "thru": "through",
    "rec": "recording",
    "recs": "recordings",
}
_ABBREVIATION = re.compile(
    r"(?<![\w'’/-])(" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")(?![\w'’/-])",
    re.IGNORECASE,
)


# Dictation's hesitations, which say nothing: 'um call jenna … and uh see if …'.
_FILLER = re.compile(r"(?<![\w'’-])(?:u+m+|u+h+m*|e+r+m+|hmm+)(?![\w'’-])[,.]*\s*", re.IGNORECASE)


# '# calls today': the number of calls.
_NUMBER_SIGN = re.compile(r"(?<!\S)#\s*(?=[A-Za-z])")


# Verbs a request opens with: a misspelt first word one edit from exactly one of them
# ('hnag up the call', 'chnage dana's number', 'serach calls for …') is that verb. Only
# the first word (after 'please'), only in lower case, only if no training phrasing uses
# it: a lower-case name elsewhere is never touched.
_OPENING_VERBS = word_set(
    """
    add block buy call cancel change delete dial edit end estimate export find hang import
    list pause play record remove rename resume revoke ring search show start stop summarise
    summarize unblock update
    """
)
_FIRST_WORD = re.compile(r"^(\s*(?:(?:pls|plz|please|ok|okay|hey)[\s,]+)*)([a-z]{3,})(?=[\s,]|$)")


# What follows a name opening a message, not a verb's object ('lisa asked …', 'edith
# wants …'): the first word is then left as typed unless it is two letters swapped.
_AFTER_A_NAME = re.compile(
    r"\s*(?:asked|asks|wants|wanted|said|says|called|rang|is|was|has|had|needs|told|emailed"
    r"|texted|replied|just|will|would|can|could|from|at|and|who|agreed|opted|signed|'s|’s)\b",
    re.IGNORECASE,
)


def _swapped(word: str, verb: str) -> bool:
    """Whether `word` is `verb` with two neighbouring letters swapped ('hnag', 'lsit')."""
    if len(word) != len(verb) or sorted(word) != sorted(verb):
        return False
    diff = [i for i, (a, b) in enumerate(zip(word, verb, strict=True)) if a != b]
    return len(diff) == 2 and diff[1] == diff[0] + 1


def _opening_verb(word: str, after: str) -> str | None:
    """The verb `word` misspells, given the text `after` it, or None (see
    `_OPENING_VERBS`): two letters swapped, or for five letters or more one letter
    added, dropped or changed when no name's verb follows."""
    if word in _OPENING_VERBS or word in _known_words():
        return None
    loose = len(word) >= 5 and _AFTER_A_NAME.match(after) is None
    close = [
        verb
        for verb in _OPENING_VERBS
        if verb[0] == word[0]
        and abs(len(verb) - len(word)) <= 1
        and not _inflected(word, verb)
        and (_swapped(word, verb) or (loose and _edits(word, verb) == 1))
    ]
    return close[0] if len(close) == 1 else None


def _fix_opening_verb(text: str) -> str:
    first = _FIRST_WORD.match(text)
    if first is None:
        return text
    verb = _opening_verb(first.group(2), text[first.end() :])
    return text if verb is None else first.group(1) + verb + text[first.end() :]


def fix_typos(text: str) -> str:
    """`text` with misspelt command words corrected (see the module docstring): lower-case
    words, and the message's first word ('Transcirpt for Hana'); a short command word
    misspelt at the start ('cal dana') and plain abbreviations ('abt') written out."""
    text = _FILLER.sub("", text).strip() or text
    text = _OPENING.sub(lambda m: m.group(1) + _OPENING_TYPOS[m.group(2).lower()], text)
    text = _fix_opening_verb(text)
    text = _NUMBER_SIGN.sub("number of ", text)
    text = _ABBREVIATION.sub(lambda m: _ABBREVIATIONS[m.group(1).lower()], text)
    text = _TOKEN.sub(_corrected, text)
    first = _FIRST.match(text)
    if first and first.group(0)[1:].islower():
        text = _corrected(first) + text[first.end() :]
    return text
