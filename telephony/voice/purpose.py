"""The rep's purpose, rephrased to complete the opening's "<rep> asked me to call …".

Reps write a call's purpose in every shape: an instruction ("introduce our spring
pricing"), a noun phrase ("renewal discussion", "the renewal"), a subject line ("Re: Q3
budget"), a gerund ("following up on the demo"), a clause ("she asked for a quote"),
with or without capitals and a full stop. Pasted in word for word it gives "asked me to
call about introduce our spring pricing". `purpose_clause` turns each shape into a
phrase that reads as a grammatical sentence after "asked me to call":

| the rep wrote | the agent says "… asked me to call" + |
| --- | --- |
| introduce our spring pricing | to introduce our spring pricing |
| the renewal / renewal discussion | about the renewal / about the renewal discussion |
| Re: Q3 budget / regarding pricing | about the Q3 budget / about pricing |
| following up on the demo | about following up on the demo |
| she asked for a quote | because she asked for a quote |
| how the trial is going / whether … | about how the trial is going / about whether … |

It is deterministic and needs no tagger: small word lists (verbs a rep starts an
instruction with, words that are nouns though they end in -ing, determiners) and a
rule for words that are verb or noun ("follow up on …" vs "follow-up on …", "update
their address" vs "update on the order"): a verb when the next word is a determiner,
pronoun or particle. Only the first sentence is used (talking points carry the rest).
With a model configured, `accept_model_clause` vets the model's own phrasing against
the rep's words (telephony/voice/openai_agent.py).
"""

from __future__ import annotations

import re
from typing import Final


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that start an instruction and are (almost) never nouns there.
VERBS: Final = _words(
    """
    introduce discuss confirm remind ask tell thank invite share explain present
    reconnect re-engage reengage reschedule renew gather collect verify finalize finalise
    walk talk get see learn find understand hear gauge propose announce request chase
    nudge connect welcome help answer arrange introduce upsell sell pitch let show go run
    touch catch win close sign discover qualify clarify recap resolve apologize apologise
    notify inform congratulate celebrate promote highlight mention pick send give make
    take bring cover prepare onboard collect survey say wish encourage remember
    """
)
# Words that start either an instruction or a noun phrase: a verb when the next word
# is a determiner, pronoun or particle ("follow up", "update their address").
AMBIGUOUS: Final = _words(
    """
    follow check review update demo offer quote plan schedule book set reach call
    follow-up recap survey contact order upgrade increase extend change
    """
)
VERB_NEXT: Final = _words(
    """
    the a an our your their his her its this that these those my some any every each
    them him her us me you it up in back out over through off down around whether if
    how what when why which who
    """
)
DETERMINERS: Final = _words(
    """
    the a an our your their his her its this that these those my some any every each
    last next another both all no
    """
)
PRONOUNS: Final = _words("i we you he she they it i'm we're you're he's she's they're it's there")
WH_WORDS: Final = _words("how what when where why which who whether")
# Nouns ending in -ing (a first word ending in -ing that is not one is a gerund).
ING_NOUNS: Final = _words(
    """
    pricing meeting billing onboarding training marketing offering licensing booking
    listing funding financing shipping building morning evening spring thing something
    nothing anything everything ring string wedding briefing hearing setting wording
    timing ranking branding hosting consulting accounting banking clothing housing
    catering packaging printing staffing recruiting ticketing invoicing outsourcing
    sponsoring sponsorship advertising engineering manufacturing warehousing
    """
)
# Nouns read without "the" when they stand alone ("about pricing", "about feedback").
MASS_NOUNS: Final = _words(
    """
    pricing feedback billing support onboarding training insurance financing marketing
    shipping software hardware payroll compliance security maintenance funding licensing
    hosting advertising logistics analytics research staffing consulting accounting
    """
)
# Common nouns a purpose starts with: lowered when capitalised at the start.
COMMON_NOUNS: Final = (
    _words(
        """
    renewal contract demo meeting proposal quote invoice trial webinar discount upgrade
    subscription account order event conference partnership feedback follow-up check-in
    plan offer update product launch budget deal price payment survey introduction intro
    question questions renewals catch-up catchup referral reference workshop pilot
    rollout migration integration expansion onboarding review call visit delivery
    shipment issue problem complaint ticket request application quarterly annual new
    spring summer fall autumn winter holiday special upcoming recent latest quick short
    """
    )
    | MASS_NOUNS
    | ING_NOUNS
)
# Markers that mean "about": "re:", "regarding", "concerning" …
_ABOUT: Final = re.compile(
    r"^(?:re\s*[:.]\s*|re\s+[-–—]?\s*|regarding\s+|concerning\s+|about\s+|on the topic of\s+"
    r"|on\s+|wrt\.?\s+|w\.r\.t\.?\s+|in regards? to\s+|with regards? to\s+|as regards\s+"
    r"|subject\s*:\s*|topic\s*:\s*|for\s+)",
    re.IGNORECASE,
)
# What a rep writes before the purpose itself: politeness, "call them to …".
_FILLER: Final = re.compile(
    r"^(?:please\s+|pls\s+|plz\s+|kindly\s+|purpose\s*:\s*|goal\s*:\s*"
    r"|(?:can|could|would|will) you(?: please)?\s+|i(?:'d| would) like you to\s+"
    r"|i (?:want|need) you to\s+|you (?:should|need to|must)\s+"
    r"|(?:call|calling|ring|phone)(?: (?:him|her|them|the contact|the prospect))?"
    r"(?=\s+(?:to|about|re|regarding|for|on|because)\b)\s+)",
    re.IGNORECASE,
)
_IN_ORDER_TO: Final = re.compile(r"^in order to\s+", re.IGNORECASE)
_SENTENCE_END: Final = re.compile(r"[.!?;]\s+(?=[A-Z\"'(])")
_TRAILING: Final = " \t.!?;:,…-–—"
_QUOTES: Final = "\"'“”‘’«»()[]"


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text, maxsplit=1)[0]


def _title_case(word: str) -> bool:
    return len(word) > 1 and word[0].isupper() and word[1:] == word[1:].lower()


def _bare(word: str) -> str:
    return word.lower().strip(",:;")


def _is_gerund(word: str) -> bool:
    w = _bare(word)
    return len(w) > 5 and w.endswith("ing") and w not in ING_NOUNS and w.isalpha()


def _known(word: str) -> bool:
    w = _bare(word)
    lexicon = VERBS | AMBIGUOUS | DETERMINERS | PRONOUNS | WH_WORDS | COMMON_NOUNS
    return w in lexicon or _is_gerund(w) or w in {"to", "because", "so", "since"}


def _lower_first(text: str) -> str:
    """The first word in lower case when it is a capitalised common word ("Introduce",
    "Renewal", "The"), kept when it may be a name ("Acme"), an acronym ("Q3", "CRM")
    or "I"."""
    first, _, rest = text.partition(" ")
    if first != "I" and not first.startswith("I'") and _title_case(first) and _known(first):
        first = first.lower()
    return f"{first} {rest}" if rest else first


def _is_verb(words: list[str]) -> bool:
    first = _bare(words[0])
    if first in VERBS:
        return True
    if first in AMBIGUOUS:
        return len(words) > 1 and _bare(words[1]) in VERB_NEXT
    return False


def _noun_phrase(text: str) -> str:
    """`text` as the object of "about": an article added to a bare singular noun
    phrase ("renewal discussion" → "the renewal discussion"), none before a name, a
    mass or plural noun, a gerund, a determiner or a clause."""
    text = _lower_first(text)
    words = text.split()
    first = _bare(words[0])
    if first in DETERMINERS or first in WH_WORDS or first in PRONOUNS or _is_gerund(first):
        return text
    if first in ("if",):
        return "whether " + text.split(" ", 1)[1] if len(words) > 1 else text
    if len(words) == 1:
        if first in MASS_NOUNS or (first.endswith("s") and not first.endswith("ss")):
            return text
        if words[0][:1].isupper() and first not in COMMON_NOUNS:
            return text  # a name: "about Acme"
        return f"the {text}"
    if first in MASS_NOUNS and _bare(words[1]) in ("for", "of", "on", "and", "in", "with"):
        return text  # "pricing for 50 seats", "feedback on the trial"
    return f"the {text}"


def purpose_clause(purpose: str) -> str:
    """A phrase completing "<rep> asked me to call …": "to …", "about …", "because …",
    "so …" (see the module's table). Empty for an empty purpose."""
    text = " ".join(purpose.split()).strip(_QUOTES + " ")
    text = _first_sentence(text).rstrip(_TRAILING).strip(_QUOTES + " ").rstrip(_TRAILING)
    if not text:
        return ""
    if text.isupper() and len(text.split()) > 2:
        text = text.lower()  # SHOUTED: nothing in it can be told apart as a name
    previous = None
    while previous != text:  # "Please call them to …": peel every layer
        previous = text
        text = _FILLER.sub("", text, count=1)
        text = _IN_ORDER_TO.sub("to ", text, count=1)
    about = _ABOUT.match(text)
    if about and len(text) > about.end():
        return "about " + _noun_phrase(text[about.end() :])
    text = _lower_first(text)
    words = text.split()
    first = _bare(words[0])
    if first == "to" and len(words) > 1:
        return "to " + _lower_first(text.split(" ", 1)[1])
    if first in ("because", "so", "since") and len(words) > 1:
        return text
    if first == "if" and len(words) > 1:
        return "to ask " + text
    if first in WH_WORDS:
        return "about " + text
    if first in PRONOUNS:
        return "because " + text
    if _is_verb(words):
        return "to " + text
    return "about " + _noun_phrase(text)


# --- a model's phrasing, vetted --------------------------------------------------------

MAX_MODEL_CLAUSE_CHARS: Final = 200
_CLAUSE_START: Final = re.compile(r"^(?:to|about|because|so|regarding)\s", re.IGNORECASE)
_WORD: Final = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
# Words a rephrasing may add to the rep's own.
GLUE: Final = (
    _words(
        """
        to about because so that regarding the a an and or of on in for with at by from
        your you our we us their they them it its this that these those some any as
        whether if how what when why which who is are was were be been being have has had
        do does did can could would will may might should there here up out
        """
    )
    | DETERMINERS
    | PRONOUNS
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def accept_model_clause(purpose: str, clause: str) -> str | None:
    """The model's phrase completing "asked me to call …" if it is one short line that
    starts as a clause should and uses only the rep's own words (any form of them:
    "introducing" for "introduce") and glue words — so the model can smooth the wording
    but cannot add a claim, a price or an instruction. None: use `purpose_clause`."""
    text = " ".join(clause.split()).strip(_QUOTES + " ").rstrip(_TRAILING)
    if not text or len(text) > MAX_MODEL_CLAUSE_CHARS or "\n" in clause.strip():
        return None
    if not _CLAUSE_START.match(text):
        return None
    own = {_stem(w) for w in _WORD.findall(purpose.lower())}
    for word in _WORD.findall(text.lower()):
        if word not in GLUE and _stem(word) not in own:
            return None
    return _lower_first(text)
