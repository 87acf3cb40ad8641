"""People and numbers in a message: phone numbers, call ids, contact names (capitalised
runs, particles such as 'van der', lower-case names where a name is expected), and the
small text helpers the extractors share.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date
from typing import Any

Extractor = Callable[[str, date], dict[str, Any]]


def text_only(extract: Callable[[str], dict[str, Any]]) -> Extractor:
    return lambda text, today: extract(text)


def trim(text: str) -> str:
    return text.strip(" ,.;:!?\"'“”‘’()").strip()


# A phone number in any common format: +1 415 555 0134, (415) 555-0134, 415.555.0134 …
PHONE = re.compile(r"\+?\(?\d[\d\s().-]{6,}\d")

_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_DIGIT_WORD = r"(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|\d)"
# Seven or more digits said one by one, as dictation types a number ('four one five …').
_SPOKEN_NUMBER = re.compile(
    rf"\b(?:plus\s+)?{_DIGIT_WORD}(?:[\s,-]+{_DIGIT_WORD}){{6,}}\b", re.IGNORECASE
)


def spoken_digits(text: str) -> str:
    """`text` with a phone number dictated digit by digit written in digits ('four one
    five five five five zero one two three' → '4155550123'); anything else unchanged.
    At least one digit must be a word: '415 555 0123' is left as typed."""

    def digits(found: re.Match[str]) -> str:
        words = re.findall(r"plus|\w+", found.group(0).lower())
        if all(w.isdigit() for w in words if w != "plus"):
            return found.group(0)
        said = "".join(_DIGIT_WORDS.get(w, w) for w in words if w != "plus")
        return ("+" if words[0] == "plus" else "") + said

    return _SPOKEN_NUMBER.sub(digits, text)


CALL_ID = re.compile(r"\b([0-9a-f]{8})(?:-[0-9a-f-]{4,})?\b", re.IGNORECASE)


# Words that start with a capital without being (part of) a person's name: sentence
# starts, commands, pronouns, calendar words.
def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


NOT_NAMES = word_set(
    """
    a about add after all also am an analyse analyze and any anyone are as ask at average
    be break brief but buy by call calls can cancel change check compare could create cut
    did dial do does end every find for from get give go good great hang has have he hello
    help her hey hi his how how's i i'd i'll i'm i've in insights is it it's just last
    let's list log look make may me met might my need new next no note now of ok okay on
    one or our please place pull purchase put quick reach read record remember ring save
    see set she should show so some start status still stop summarise summarize tell thank
    thanks that that's the their them then there these they this those to today tomorrow
    transcript try update us was we we've were what what's whats when where which who why
    will with would yes yesterday you your
    identify locate provide display generate initiate proceed kindly review fetch retrieve
    open share send email text remove delete export import walk explain calculate confirm
    schedule book assign tag mark flag let lets
    before after during since once while if as because although first also actually btw fyi
    hmm um oh well alright sure cool quick real random anyway morning afternoon evening
    tonight search pull grab dig ping hang terminate drop kill abort just pls thanks cheers
    urgent need want looking trying gonna going recap estimate quote price top change switch
    swap use remind heading prepping prep yo register type source wording consent merge
    another next other new same
    how'd what'd where'd who'd why'd when'd never
    monday tuesday wednesday thursday friday saturday sunday
    january february march april june july august september october november december
    """
)

# Common words that are also parts of names, once a name has begun.
_NAME_PARTICLES = word_set("an do may will bill mark van von de la le del da di bin ben")

# Lower-case particles inside a name: 'Jan-Willem van der Berg', 'Ahmad bin Yusuf'.
_LOWER_PARTICLES = word_set(
    "van der den de la le du da di del della dos das do von zu ter ten bin bint ibn al el abu y"
)

_PARTICLES_THEN_NAME = re.compile(
    r"(?:(?:" + "|".join(sorted(_LOWER_PARTICLES, key=len, reverse=True)) + r")\s+)+[^\W\d_]*[A-Z]"
)

# An initial before a surname: 'J Morrison', 'A. Chen' (never 'I', 'A' alone: NOT_NAMES).
_INITIAL = re.compile(r"[A-Z]\.?\s+[A-Z][a-z]")

_WORD_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-])*")  # letters of any script


def person_names(text: str) -> list[tuple[str, int, int]]:
    """Runs of capitalised words that look like a person's name ('Dana Whitfield',
    "Tom O'Neill", "Priya's" → 'Priya'), with where they start and end."""
    runs: list[tuple[str, int, int]] = []
    words: list[str] = []
    start = end = 0

    def close() -> None:
        if words:
            runs.append((" ".join(words), start, end))
            words.clear()

    for token in _WORD_TOKEN.finditer(text):
        word = token.group(0)
        possessive = word[-2:] in ("'s", "’s")
        bare = word[:-2] if possessive else word
        common = bare.lower().replace("’", "'") in NOT_NAMES
        if (
            words
            and bare in _LOWER_PARTICLES
            and not text[end : token.start()].strip()
            and _PARTICLES_THEN_NAME.match(text, token.start())
        ):
            words.append(bare)  # 'Tomás de la Fuente', 'Ahmad bin Yusuf'
            end = token.start() + len(bare)
            continue
        namey = (
            bare[0].isupper()
            # A capitalised common word goes on a name already begun ('Nguyễn Văn An').
            and (not common or (bool(words) and bare.lower() in _NAME_PARTICLES))
            and (
                not (bare.isupper() and len(bare) <= 6)  # 'HIMSS', 'CFO': not names
                or _INITIAL.match(text, token.start()) is not None  # 'J Morrison', 'J. Lee'
            )
        )
        if namey and words and text[end : token.start()].strip():
            close()  # punctuation in between: a new run
        if not namey:
            close()
            continue
        if not words:
            start = token.start()
        words.append(bare)
        end = token.start() + len(bare)
        if possessive or len([w for w in words if w not in _LOWER_PARTICLES]) == 4:
            close()
    close()
    return [run for run in runs if not _opens_an_order(text, run)]


_DETERMINER_AFTER = re.compile(
    r"\s+(?:the|a|an|my|our|all|any|every|me|us|this|that|these|those|with|to|for|up|out)\b",
    re.IGNORECASE,
)


def _opens_an_order(text: str, run: tuple[str, int, int]) -> bool:
    """'Identify the objections …': one capitalised word opening a sentence, followed by
    a determiner, is an imperative verb, not a name."""
    name, start, end = run
    if " " in name or text[:start].rstrip()[-1:] not in ("", ".", "!", "?", ";"):
        return False
    return _DETERMINER_AFTER.match(text, end) is not None


NAME_STOP = (
    r"(?=\s+(?:about|to|regarding|re|for|from|via|on|at|with|gave|who|company|go|went|going"
    r"|and|back|by|now|today|tomorrow|please|so|still|yet|connect|word|this|last|please|again"
    r"|source|in|since|during|over|yesterday|earlier|he|she|they|he's|she's|they're|his|her"
    r"|their|hes|shes|theyre)\b"
    r"|[,.;:?!]|$)"
)

PRONOUNS = frozenset({"me", "my", "it", "that", "this", "them", "him", "her", "us", "you"})

# Everyday words that are no one's name, beside the router's own cue words: a lower-case
# run of words is read as a name only if it has none of them ('the jorge salas call').
_COMMON = word_set(
    """
    sales demo intro introduction discovery follow up first second third quick short long big
    small good bad great recent morning afternoon evening night team client customer prospect
    lead deal renewal pricing price onboarding kickoff check catch weekly monthly daily cold warm
    inbound outbound test trial pilot support billing contract meeting zoom phone video ai bot
    other same whole entire full complete latest last previous earlier later current ongoing
    live active new old real main important urgent follow-up followup callback call calls ones
    one two three four five ten it its they them he she his her their we our us you your i me
    my mine a an the this that these those some any all every each no not and or but so to of in
    on at by for from with without about into over under after before between during again
    still just only also very really quite too more most less least much many few lot lots
    what which who whom whose when where why how was were is are be been being am do does did
    done have has had having will would shall should can could may might must go going gone
    went get got getting make made say said tell told ask asked see seen show shown give given
    take taken put let know think want need like look find use try keep help start end stop
    today tomorrow yesterday week month year quarter day time hour minute minutes hours days
    pls please thanks thank asap fyi btw ok okay yes yeah no nope hey hi hello there here now
    then than as if because while though although whether either neither both such own same
    other another else ever never always often sometimes usually already yet soon right left
    line voicemail message text email note notes number mobile cell office home work company
    account workspace credits credit balance package plan purchase receipt invoice refund
    outcome outcomes objection objections insight insights summary recap transcript status
    sentiment next steps step rep reps manager managers admin owner user users contact contacts
    consent form web signup booth event expo webinar conference paper signed written express
    verbal existing relationship source wording method obtained record log save add create
    saying emailed texted wrote replied asking telling wanted stopped withdraw withdrew
    unsubscribe unsubscribed anymore apparently honestly basically literally
    people everyone everybody anyone anybody someone somebody customers prospects leads folks
    clients buyers callers
    """
)


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Words the router reads as something: its cue words, commands and everyday words."""
    from chat_app.llm.offline_router.intents import INTENTS  # its cue words (a cycle)

    words = set(NOT_NAMES | _COMMON)
    for intent in INTENTS:
        for cue in intent.cues:
            words.update(cue.split())
    return frozenset(words)


def plain_name(candidate: str) -> str | None:
    """Lower-case words that can only be a name ('jorge salas', "priya's" → 'priya'): one
    to three words, none of them one the assistant reads as anything else."""
    words = re.sub(r"['’]s$", "", candidate.strip()).split()
    if not 1 <= len(words) <= 3:
        return None
    for word in words:
        if not _WORD_TOKEN.fullmatch(word) or word.lower() in _vocabulary():
            return None
    return " ".join(words)


LOWER = r"[a-z][\w'’-]*"

LOWER_RUN = rf"({LOWER}(?:\s+{LOWER}){{0,2}}?)"

_LOWER_NAME_REFS = (
    # 'list calls w marcus bell', 'the call with priya nair about …'
    re.compile(
        rf"\b(?:with|w/?|to)\s+{LOWER_RUN}(?=\s*(?:[,.;:?!]|$|\s+(?:call|calls|go|went|pls"
        rf"|please|about|on|last|this|yesterday|today|still|is|was|in|since|during|over|and"
        rf"|right|now|asap|positive|negative|good|bad|ok|okay|happy|upset)\b))"
    ),
    # 'hang up on siobhan kelly the ai is looping'
    re.compile(
        rf"\b(?:hang up on|cut off|disconnect)\s+(?!(?:him|her|them|it|me|us|that|this)\b)"
        rf"{LOWER_RUN}(?=\s*(?:[,.;:?!]|$|\s+(?:the|is|it"
        rf"|its|it's|pls|please|now|asap|right|they|he|she|call)\b))"
    ),
    # 'everything omar said about shipping', 'anything priya mentioned on pricing'
    re.compile(
        rf"\b(?:everything|anything|what|things|stuff)\s+{LOWER_RUN}\s+(?:said|says|mentioned"
        rf"|told|asked|raised|brought up|complained)\b"
    ),
    # 'the lena fischer call', 'insights for the kevin tran call'
    re.compile(rf"\bthe\s+{LOWER_RUN}\s+call\b"),
    # 'jonas call status', 'hana sato call recap': shorthand, the name first
    re.compile(
        rf"^\s*{LOWER_RUN}\s+call\s+(?:status|summary|recap|transcript|recording|insights"
        rf"|objections|sentiment|outcome|notes)\b"
    ),
    # "did priya's call connect", "priya's transcript", "omar's last recording"
    re.compile(
        rf"\b{LOWER_RUN}['’]s\s+(?:last\s+|latest\s+|recent\s+|most\s+recent\s+)?(?:calls?"
        rf"|transcripts?|recordings?|summary|recap|insights|objections|sentiment|conversation)\b"
    ),
    # 'summarize omars last call': a possessive typed without its apostrophe
    re.compile(
        r"\b(?!(?:this|his|its|was|has|does|is|us|yes|plus|thus)\s)([a-z][a-z'’-]+?[^s'’])s\s+"
        r"(?:last|latest|most\s+recent|recent)\s+(?:call|calls"
        r"|transcript|recording|summary|conversation)\b"
    ),
    # 'is jorge salas still on the line', 'did helen okafor push back …'
    re.compile(
        rf"^\s*(?:is|did|has|was|does)\s+{LOWER_RUN}\s+(?:still|push|pushed|pick|picked"
        rf"|answer|answered|say|said|mention|mentioned|object|objected|sound|seem|agree|agreed"
        rf"|raise|raised|hang|hung|ask|asked|positive|negative|happy|interested|keen|upset"
        rf"|annoyed|angry|open|receptive)\b"
    ),
    # 'what objections did niamh byrne raise', 'how did mei wu feel about the price'
    re.compile(
        rf"\b(?:did|does)\s+{LOWER_RUN}\s+(?:raise|mention|say|ask|push|object|agree|sound"
        rf"|seem|want|like|feel|think|complain|bring)\b"
    ),
    # 'full transcript jorge salas call pls'
    re.compile(
        rf"\b(?:transcript|trnscript|transcipt|transcrpt|trascript|trnscrpt|tanscript|transcrip"
        rf"|transcripts|summary|sumary|summry|recap|insights|status|rundown|card|recording|audio"
        rf"|sentiment|objections)\s*[,:–—-]?\s+(?:of\s+|for\s+|from\s+"
        rf"|on\s+|with\s+)?{LOWER_RUN}\s*(?:call\s*)?(?:pls|plz|please|asap|thanks)?\s*[.?!]*$"
    ),
)


def lower_name(text: str) -> str | None:
    """A contact named in lower case, where a name is expected ('status of the call w
    marcus bell'), or None."""
    for pattern in _LOWER_NAME_REFS:
        match = pattern.search(text)
        while match is not None:  # every start: "did priya's call" is tried from 'priya'
            name = plain_name(match.group(1))
            if name:
                return name
            match = pattern.search(text, match.start() + 1)
    return None
