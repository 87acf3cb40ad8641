"""The arguments of the call tools: whom to call and why (purpose, goal, talking points,
what to do on a machine), which call is meant, which calls to list, and what to search
for in transcripts.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Final

from chat_app.llm.offline_router.dates import COUNT_WORDS, count_in, period_named
from chat_app.llm.offline_router.entities import (
    CALL_ID,
    LOWER,
    NAME_STOP,
    PHONE,
    PRONOUNS,
    lower_name,
    person_names,
    plain_name,
    trim,
)

POLITE = (
    r"(?:(?:please|pls|kindly|ok|okay|now|so|hey|(?:can|could|would|will) (?:you|u|it"
    r"|the (?:ai|agent|assistant|bot))|i need you to"
    r"|i want you to|i'?d like you to|i would like you to|i'?d like to|i want to|i need to"
    r"|go ahead and|let'?s|have (?:the )?(?:ai|agent|assistant|bot)"
    r"|get (?:the )?(?:ai|agent|assistant|bot) to),?\s+)*"
)

# What follows 'call' when it is a noun, not an order: 'call history', 'call summary'.
CALL_NOUNS = (
    r"history|status|log|logs|list|transcript|transcripts|summary|recording|stats|volume"
    r"|insights?|details|notes|recap|outcome|analytics|count|report"
)

# An order to place a call, on the normalised message.
ORDER_TO_CALL = (
    r"^ " + POLITE + r"(?:(?:call|ring|phone|dial|buzz)(?: up)? "
    r"(?!(?:" + CALL_NOUNS + r")\b)"
    r"|give .+? a (?:quick )?(?:call|ring|buzz)\b"
    r"|(?:place|make|start|launch|begin|kick off|initiate|trigger|set up|arrange|line up"
    r"|fire off|do) (?:a|an) (?:(?:new|quick|phone|outbound|short|ai) )*call\b"
    r"|get .+? on the (?:phone|line)\b)"
)

_CALL_VERB = re.compile(
    r"^\s*" + POLITE + r"(?P<verb>(?:call|ring|phone|dial|buzz)(?:\s+up)?|give"
    r"|(?:place|make|start|launch|begin|kick off|initiate|trigger|set up|arrange|line up"
    r"|fire off|do)\s+(?:a|an)\s+(?:(?:new|quick|phone|outbound|short|ai)\s+)*"
    r"call\s+(?:to|with|for)|reach out to|get in touch with"
    r"|get(?=\s.+?\son\s+the\s+(?:phone|line)))\s+",
    re.IGNORECASE,
)

_PURPOSE_LEAD = re.compile(
    r"^\s*(?:back|by phone|on the phone|on the line|now|today|please|for me|,)*\s*"
    r"(?:about|regarding|concerning|re:?|to|and|so (?:we|i|they) can|in order to"
    r"|for (?:a |an )?(?:quick |short |brief )?(?=\S+(?:-| )(?:in|up|on)\b)|for(?!\s+\d))"
    r"(?:(?<=\w)(?!\w)|(?<=[:\s]))\s*(.+?)\s*[.?!]*$",  # 'to', never 'to' of 'tomorrow'
    re.IGNORECASE,
)

_PURPOSE_ANYWHERE = re.compile(
    r"\b(?:about|regarding|concerning|re:|purpose:?|reason:?|topic:?|goal:?)\s+(.+?)"
    r"\s*(?=[.?!;]|[—–]|,?\s+if\b|$)",
    re.IGNORECASE,
)

_VOICEMAIL = re.compile(
    r"\b(?:voicemail|voice mail|answering machine|machine|vm)\b"
    # No one answering is when a machine picks up: 'if nobody picks up, hang up'.
    r"|\bif\s+(?:nobody|no one|(?:he|she|they|it)\s+(?:doesn'?t|does not|don'?t|do not|can'?t"
    r"|won'?t))\s+(?:picks?\s+up|answers?|pick\s+up|answer)\b|\bif\s+(?:there'?s\s+)?no\s+answer\b",
    re.I,
)

_VOICEMAIL_HANG_UP = re.compile(
    r"\b(?:hang up|hang-up|hangup|drop (?:it|off|the call)|end (?:it|the call)|don'?t leave"
    r"|do not leave|no (?:message|voicemail)|skip (?:it|the voicemail)|just disconnect)\b",
    re.I,
)

_LEAVE = (
    r"\bleave (?:(?:a |an |this |the following |them a |her a |him a )?(?:voicemail|message|vm|msg)"
    r"|this(?=\s*:)|the following(?=\s*:))"
)

_VOICEMAIL_LEAVE = re.compile(_LEAVE + r"\b", re.I)

_VOICEMAIL_SAYING = re.compile(
    _LEAVE + r"\s*(?:saying|that says|telling (?:them|her|him)|:)\s*(.+)$", re.I
)

_TALKING_POINTS = re.compile(
    r"\btalking points?\s*(?::|-|are|include)?\s*(.+?)\s*(?:[.;!?](?:\s|$)|$)", re.I
)


def said_text(rest: str) -> str:
    """What a voicemail should say: a quoted message whole (commas, full stops and
    apostrophes included), else up to the end of the sentence."""
    rest = rest.strip()
    if rest[:1] in "\"“'‘":
        close = {"“": "”", "‘": "’"}.get(rest[0], rest[0])
        end = rest.rfind(close)
        if end > 0:
            return rest[1:end].strip()
    return trim(re.split(r"[.;!?](?:\s|$)", rest)[0])


def _voicemail_args(text: str) -> dict[str, Any]:
    """What to do on an answering machine, when the message says."""
    if not _VOICEMAIL.search(text) and not _VOICEMAIL_LEAVE.search(text):
        return {}
    saying = _VOICEMAIL_SAYING.search(text)
    if saying and said_text(saying.group(1)):
        return {"on_voicemail": "leave", "voicemail_message": said_text(saying.group(1))}
    if _VOICEMAIL_HANG_UP.search(text):
        return {"on_voicemail": "hang_up"}
    if _VOICEMAIL_LEAVE.search(text):
        return {"on_voicemail": "leave"}
    return {}


# 'Maria's office line 212.555.0190': the number given is the one to dial.
_THEIR_NUMBER = re.compile(
    r"\s*(?:[\w'’-]+\s+){0,2}?[\w-]+(?:'s|’s)\s+(?:(?:office|work|cell|mobile|home|direct|desk"
    r"|personal|main|new|other)\s+)?(?:line|number|phone|cell|mobile)\s*(?:at\s+|on\s+|,\s*|:\s*)?"
    r"(" + PHONE.pattern + ")",
    re.IGNORECASE,
)
# Where the contact works, said after the name: 'Priya Raman from Helix Bio to …', 'jenna
# price at corvid and see if …' (not the purpose).
_AFFILIATION = re.compile(
    r"^\s*,?\s*(?:from|at|with|of)\s+(?:[A-Z][\w&.'’-]*(?:\s+(?:[A-Z][\w&.'’-]*|&|of))*"
    r"|[a-z][\w&'’-]*)(?=\s*,|\s+(?:about|regarding|concerning|re|to|and|so|for)\b|\s*$)"
)


def _who(rest: str) -> tuple[str, int]:
    """The contact at the start of `rest` (a number, a name) and where it ends."""
    phone = re.match(r"\s*(" + PHONE.pattern + ")", rest) or _THEIR_NUMBER.match(rest)
    if phone:
        return phone.group(1).strip(), phone.end()
    names = person_names(rest)
    if names and not rest[: names[0][1]].strip():
        return names[0][0], names[0][2]
    plain = re.match(r"\s*(.+?)" + NAME_STOP, rest, re.IGNORECASE)
    if plain:
        return trim(plain.group(1)), plain.end()
    return "", 0


_GIVE_THEM_A_CALL = re.compile(
    r"\bgive (?:him|her|them) a (?:quick |short )?(?:call|ring|buzz)\b"
    r"|\b(?:call|ring|phone|dial) (?:him|her|them)(?: up)?\b",
    re.IGNORECASE,
)


# Where an order to call may start inside a message: after a sentence, a dash, a comma
# ('…, so give Priya Raman a call about …') or 'can you' ('— can you call Olivia …').
_CLAUSE_ORDER = re.compile(
    r"(?:[.;:!?—–]\s*|\s-\s*|,\s*|\b(?:so|then|and|now)\s+|\b(?:can|could|would|will)"
    r" you\s+)(?=(?:please\s+|pls\s+|just\s+)?(?:call|ring|phone|dial|give)\s)",
    re.IGNORECASE,
)
_PRONOUNS = frozenset({"him", "her", "them", "it", "me", "us", "back"})


def place_call_args(text: str) -> dict[str, Any]:
    """`place_call`'s arguments: whom to call (a name or number), what about, the goal,
    talking points and what to do on voicemail."""
    if _CALL_VERB.match(text) is None and _GIVE_THEM_A_CALL.search(text) is None:
        # The order is not at the start ('I'd like to try … — can you call Olivia Grant
        # about …'): read it from the first clause that opens with one.
        for clause in _CLAUSE_ORDER.finditer(text):
            found = _place_call_args(text[clause.end() :])
            contact = str(found.get("contact", "")).lower()
            if contact and contact.split()[0] not in _PRONOUNS:
                return {**found, **_voicemail_args(text)}
    return _place_call_args(text)


_REFERENCES = frozenset(
    {"that", "this", "it", "that one", "the same", "same thing", "the same thing"}
)


def _place_call_args(text: str) -> dict[str, Any]:
    contact, after = _contact_and_rest(text)
    said = _purpose(text, contact, after)
    found = {"contact": contact, "purpose": said or "a quick introduction", **_voicemail_args(text)}
    goal = _GOAL.search(text)
    if goal:
        found["goal"] = trim(goal.group(1))
    points = _TALKING_POINTS.search(text)
    if points:
        found["talking_points"] = [
            trim(p) for p in re.split(r"\s*(?:,|;|\band\b|\+)\s*", points.group(1)) if trim(p)
        ]
    return found


def _contact_and_rest(text: str) -> tuple[str, str]:
    """Who is to be called (a name, or a number as typed) and the text after them."""
    order = _CALL_VERB.match(text)
    give = _GIVE_THEM_A_CALL.search(text)
    before = text[: give.start()] if give is not None else ""
    named = person_names(before) if give is not None else []
    if order is None and give is not None and (named or lower_name(before)):
        # 'Jan-Willem van der Berg — give him a call to reschedule', '… off the phone with
        # hana sato and she wants a callback … can you call her back about that'
        return (named[0][0] if named else str(lower_name(before))), text[give.end() :]
    if order is None:
        phone = PHONE.search(text)
        if phone:
            return phone.group(0).strip(), text[phone.end() :]
        match = re.search(
            r"\b(?:call|ring|phone|dial)\s+(?:to\s+)?(.+?)" + NAME_STOP, text, re.IGNORECASE
        )
        return (trim(match.group(1)), text[match.end() :]) if match else ("", "")
    rest = text[order.end() :]
    given = re.match(r"(.+?)\s+a\s+(?:quick\s+)?(?:call|ring|buzz)\b", rest, re.IGNORECASE)
    if order.group("verb").lower() == "give" and given:
        return trim(given.group(1)), rest[given.end() :]
    contact, end = _who(rest)
    return contact, rest[end:]


def _purpose(text: str, contact: str, after: str) -> str:
    """What the call is about, in the user's words, without the instructions around it."""
    if contact and not PHONE.fullmatch(contact) and (works := _AFFILIATION.match(after)):
        after = after[works.end() :]
    purpose = _PURPOSE_LEAD.match(after) or _PURPOSE_ANYWHERE.search(after)
    if purpose is None:
        # 'maria gonzalez, checking if the onboarding went ok': what to find out
        purpose = re.match(
            r"\s*[,:—–-]+\s*((?:checking|check|asking|ask|seeing|see|finding out|find out)\s+"
            r"(?:if|whether|how)\s+[^;.!?]+?)\s*(?:[;.!?]|,?\s+if\b|$)",
            after,
            re.IGNORECASE,
        )
    if purpose is None:
        # 'Give Mei Chen a call — check whether she got the contract; …'
        purpose = re.match(r"\s*[,:—–-]+\s*([^;.!?]+?)\s*(?:[;.!?]|,?\s+if\b|$)", after)
    said = trim(purpose.group(1)) if purpose else ""
    if said.lower() in _REFERENCES:
        said = ""  # 'call her back about that': what was said before the order
    if not said or re.match(r"if\b", said, re.IGNORECASE):
        anywhere = _PURPOSE_ANYWHERE.search(text)  # 'X asked about financing. Call her …'
        said = trim(anywhere.group(1)) if anywhere else ""
    if said.lower() in _REFERENCES:
        said = ""  # 'call her back about it': what the conversation was about (followups)
    # 'ask if he wants to reorder office chairs' → 'reorder office chairs'
    said = _ASK_IF_WANTS.sub("", said)
    # What follows ', if …', ';' or a dash is instructions, not the purpose.
    return trim(_PURPOSE_END.split(said)[0])


_ASK_IF_WANTS = re.compile(
    r"^(?:ask|check)(?:\s+(?:him|her|them))?\s+(?:if|whether)\s+(?:he|she|they)\s+(?:wants?"
    r"|would like|is interested in|are interested in|needs?)\s+(?:to\s+)?",
    re.IGNORECASE,
)
_PURPOSE_END = re.compile(
    r"\s*(?:[;—–]|\s-\s"
    r"|,\s*if\b|\s+if\s+(?:it's|it is|there's)\b"
    r"|,?\s+(?:and\s+)?if\s+(?:it|you|they|he|she|nobody|no one|there's)\s+"
    r"(?:goes?|gets?|hits?|reach(?:es)?|don't|doesn't|do not|does not|can't|is)\b"
    r"|,?\s+if\s+(?:voicemail|vm|no answer|busy|machine)\b|[.?!]\s|,\s*(?:she|he|they|we|i"
    r"|it|try|trying|aim|aiming|hoping|(?:the\s+)?goal|don't|do not|no voicemail|leave"
    r"|hang up|talking points|on voicemail)\b"
    r"|,?\s+and\s+(?:leave|hang up|don't|do not|if)\b"
    r"|,?\s+(?:the\s+|our\s+|my\s+)?goal(?:\s+is)?\b|,?\s+(?:try|trying)\s+to\b"
    # Dictated: the ask repeated after the purpose ('… the pilot can you call her').
    r"|,?\s+(?:can|could|would|will) (?:you|u)\b|,?\s+(?:pls|plz|please|thanks|thx|asap)$)"
)


# What the call should achieve: 'goal: book a demo', 'try to book a demo', 'aim to …'.
_GOAL = re.compile(
    r"\b(?:goal(?:\s+is)?(?:\s+to)?\s*:?|try(?:ing)? to|aim(?:ing)? to|objective(?:\s+is)?"
    r"(?:\s+to)?\s*:?|see if (?:you|we) can)\s+([^.;!?]+?)\s*(?:[.;!?]|,?\s+if\b"
    r"|,\s*(?:hang up|leave|don't|do not|and|then|talking points)\b|$)",
    re.IGNORECASE,
)


def call_ref(text: str) -> dict[str, Any]:
    """The call meant: an id, a number, a contact's name; {} for the latest call."""
    found = CALL_ID.search(text)
    if found and any(ch.isdigit() for ch in found.group(1)):
        return {"call": found.group(1)}
    phone = PHONE.search(text)
    if phone:
        return {"call": phone.group(0).strip()}
    names = person_names(text)
    if names:
        # 'Heading into a meeting with her boss — summarise my call with Camille Laurent'
        after_with = [n for n in names if re.search(r"\b(?:with|to|from)\s+$", text[: n[1]], re.I)]
        return {"call": (after_with or names)[0][0]}
    who = re.search(
        r"\b(?:call|calls|conversation|chat)\s+(?:with|to)\s+(.+?)" + NAME_STOP,
        text,
        re.IGNORECASE,
    )
    if who and trim(who.group(1)).lower() not in PRONOUNS:
        said = trim(who.group(1))
        if said[:1].isupper() or plain_name(said):
            return {"call": said}
    lower = lower_name(text)
    return {"call": lower} if lower else {}


_STATUSES = {
    "failed": "failed",
    "busy": "busy",
    "unanswered": "no answer",
    "no answer": "no answer",
    "no-answer": "no answer",
    "missed": "no answer",
    "completed": "completed",
    "finished": "completed",
    "in progress": "in progress",
    "ongoing": "in progress",
    "live": "in progress",
    "still running": "in progress",
    "still going": "in progress",
    "running right now": "in progress",
    "active": "in progress",
}

_NOT_ANSWERED = re.compile(
    r"\bno[- ]answers\b|\b(?:didn'?t|did not|wasn'?t|was not|weren'?t|were not|not|never)"
    r"\s+(?:get\s+|getting\s+|been\s+)?(?:answered|picked up)\b|\b(?:nobody|no one|no-one)"
    r"\s+(?:answered|picked up)\b|\bwent unanswered\b"
)

_CALL_COUNT = re.compile(
    r"\b(?:(?:last|latest|recent|past|previous|top|first)\s+(?P<a>\d{1,3}|[a-z]+)(?:\s+\w+)?"
    r"\s+calls|(?P<b>\d{1,3}|" + COUNT_WORDS + r")\s+(?:most\s+)?(?:recent|latest|last)"
    r"(?:\s+\w+)?\s+calls"
    # 'show 15 calls', 'list me ten calls with priya': a count right after the order.
    r"|(?:show|list|get|give|pull(?:\s+up)?|see)\s+(?:me\s+)?(?:my\s+|our\s+)?"
    r"(?P<c>\d{1,3}|" + COUNT_WORDS + r")\s+(?:\w+\s+)?calls)\b"
)


def _limit(count: re.Match[str] | None, *, most: int) -> int | None:
    """The count a `_CALL_COUNT` / `_HIT_COUNT` match asks for, if it is 1..`most`."""
    if count is None:
        return None
    said = next(g for g in count.groups() if g)
    limit = count_in(said.lower())
    return limit if limit and 0 < limit <= most else None


def list_calls_args(text: str, today: date | None = None) -> dict[str, Any]:
    """list_calls' arguments: how many, in which status, with whom and placed when
    ('failed calls since Tuesday' → status 'failed', period '2026-11-24..2026-11-29')."""
    lowered = text.lower()
    args: dict[str, Any] = {}
    period = period_named(text, today or datetime.now(UTC).date())
    if period:
        args["period"] = period
    count = _CALL_COUNT.search(lowered) or _HIT_COUNT.search(lowered)
    limit = _limit(count, most=100)
    if limit:
        args["limit"] = limit
    for cue, status in _STATUSES.items():
        if re.search(rf"\b{cue}\b", lowered):
            args["status"] = status
            break
    else:
        if _NOT_ANSWERED.search(lowered):
            args["status"] = "no answer"  # 'calls that didnt get answered', 'no-answers
    outcome = next((o for pattern, o in _OUTCOMES if pattern.search(lowered)), None)
    if outcome:
        args["outcome"] = outcome
    ref = call_ref(text).get("call")
    if ref:
        args["contact"] = ref
    return args


# How a call ended as people say it ('calls that went to voicemail', 'who was
# interested'), first match wins: 'not interested' before 'interested'.
_OUTCOMES: Final = tuple(
    (re.compile(pattern), outcome)
    for pattern, outcome in (
        (r"\b(?:not|weren't|wasn't|were not|was not|un)\s*interested\b", "not_interested"),
        (r"\binterested\b", "interested"),
        (r"\b(?:voice ?mails?|vms?|answering machines?)\b", "voicemail"),
        (
            r"\b(?:callbacks? (?:was |were )?booked|booked (?:a )?callbacks?"
            r"|asked (?:us |me )?to call (?:them |him |her )?back)\b",
            "callback_booked",
        ),
        (r"\b(?:opted out|opt[ -]?outs?|asked (?:us |me )?to stop calling)\b", "opted_out"),
    )
)


QUOTED = re.compile(r"(?:^|\s)[\"“‘']([^\"”’]+?)[\"”’'](?=[\s?.!,]|$)")

_SEARCH_TRIGGER = re.compile(
    r"\b(?:mentioned|mentioning|mentions?(?: of)?|brought up|bring up|bringing up"
    r"|talked about|talk about|talking about|asked about|ask about|asking about|asked for"
    r"|(?:say|said|mention|mentioned|bring up|brought up) anything (?:about|on|regarding)"
    r"|\bask(?:ed)? (?:us|me|you) (?:to|for|about)"
    r"|complained about|complain about|complaining about|said about|say about|discussed"
    r"|(?:search(?:ed)?|grep|scan|comb|dig)(?:\s+\S+){0,5}?\s+for"
    r"|look(?:ing)?\s+(?:through|in)(?:\s+\S+){0,5}?\s+for"
    r"|find(?:\s+\S+){0,3}?\s+(?:about|for|mentioning)"
    r"|look(?:ing)?\s+for(?:\s+(?:mentions?|anything|talk)\s+(?:of|about|on))?"
    r"|(?:tell|tells|told) (?:me|us|you) about|(?:think|thinks|thought|feel|feels|felt) about"
    r"|(?:said|say|says|told (?:me|us)|claimed)(?:\s+that)?(?=\s)"
    r"(?:(?:they|he|she|it|we)(?:'re|'s|'d|'ve|’re|’s|’d|’ve|\s+(?:are|were|is|was|had|have|would))?"
    r"(?=\s))?)\s+",
    re.IGNORECASE,
)

# Whose calls: "Priya Raman's calls", "the Tomás Ortega calls", "calls with Dana".
_WHOSE_CALLS = re.compile(
    r"(?P<who>(?:[^\W\d_][\w'’-]*\s+){0,3}[^\W\d_][\w'’-]*?)(?:'s|’s)?\s+"
    r"(?:calls?|conversations?|transcripts?)\b"
)

_SEARCH_SCOPE = re.compile(
    r"\s+(?:in|on|across|from|during)\s+(?:(?:my|our|the|all|any|all of my)\s+)?"
    r"(?P<whose>(?:[\w'’-]+\s+){0,3}?)"
    r"(?:calls?|transcripts?|conversations?)\b(?:\s+with\s+(?P<who>.+?))?\s*[.?!]*$",
    re.IGNORECASE,
)

_SEARCH_LEAD = re.compile(
    r"^\s*(?:please\s+)?(?:search|find|look)\s+(?:through\s+|in\s+)?(?:my\s+|our\s+|the\s+)?"
    r"(?:calls?|transcripts?)\s*(?:for|about|where|that|mentioning|with)?\s*"
    r"|^\s*(?:please\s+)?(?:find|look for|search for|dig up|pull)\s+(?!(?:calls?|my|our)\b)"
    r"|^\s*(?:who|which calls?)\s+(?:mentioned|said|talked about|asked about|brought up)\s+"
    r"|^\s*(?:please\s+)?(?:find|show|list|get)\s+(?:me\s+)?(?:the\s+)?(?:top\s+\d+\s+)?"
    r"(?:calls?|moments?)\s+(?:where|in which|when)\s+(?:(?:someone|anyone|people|customers?"
    r"|prospects?|they)\s+)?(?:(?:said|mentioned|wanted|asked for|asked about|talked about"
    r"|complained about|brought up)\s+)?",
    re.IGNORECASE,
)

_SEARCH_PASSIVE = re.compile(
    r"\b(?:in which|where|when)\s+(.+?)\s+(?:was|were|got|is|are|came up|come up)"
    r"(?:\s+(?:discussed|mentioned|brought up|raised|talked about))?\s*[.?!]*$",
    re.IGNORECASE,
)

# 'lately', 'this month' after what was said: when, not what (search has no period).
_WHEN_SEARCHED = re.compile(
    r"(?:\s+(?:lately|recently|so far|ever|at all|this (?:week|month|quarter|year)|last (?:week"
    r"|month|quarter|year)|today|yesterday|in (?:the )?(?:last|past) \w+ (?:days|weeks|months)))+$",
    re.IGNORECASE,
)


def search_args(text: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    quoted = QUOTED.search(text)
    triggers = list(_SEARCH_TRIGGER.finditer(text))
    passive = _SEARCH_PASSIVE.search(text)
    if quoted:
        query = quoted.group(1)
    elif passive and (not triggers or max(m.end() for m in triggers) >= len(text.rstrip(" .?!"))):
        query = passive.group(1)
        triggers = []
    elif triggers:
        last = max(triggers, key=lambda m: m.end())
        query = text[last.end() :]
    else:
        query = _SEARCH_LEAD.sub("", text)
    scope = _SEARCH_SCOPE.search(query)
    if scope:
        if scope.group("who"):
            args["contact"] = trim(scope.group("who"))
        elif names := person_names(scope.group("whose")):
            args["contact"] = names[-1][0]  # 'in the Tomás Ortega calls'
        elif lower := plain_name(scope.group("whose")):
            args["contact"] = lower  # 'in jorge salas calls'
        query = query[: scope.start()]
    query = re.sub(r"^(?:mentions? of|anything (?:about|on))\s+", "", query.strip(), flags=re.I)
    query = _WHO_SAID.sub("", query)
    with_who = re.search(
        r"\s+(?:with|w/?)\s+(" + LOWER + r"(?:\s+" + LOWER + r"){0,2})\s*[.?!]*$", query
    )
    if with_who and plain_name(with_who.group(1)) and "contact" not in args:
        args["contact"] = plain_name(with_who.group(1))  # '… on the glove orders w priya nair'
        query = query[: with_who.start()]
    query = _SAID_WHERE.sub("", query)
    query = _HIT_COUNT_TAIL.sub("", query)
    query = _WHEN_SEARCHED.sub("", trim(query))
    args["query"] = trim(query) or text.strip()
    if "contact" not in args:
        for whose in _WHOSE_CALLS.finditer(text):
            names = person_names(whose.group("who"))
            if names and whose.group("who").endswith(names[-1][0]):
                args["contact"] = names[-1][0]
                break
    if "contact" not in args:
        # A name before what was said is whose calls: 'Has Dana ever mentioned …'.
        said_at = triggers[-1].end() if triggers else (quoted.start() if quoted else 0)
        before = [n for n in person_names(text) if n[2] <= said_at]
        if before:
            args["contact"] = before[0][0]
        elif said_at and (lower := lower_name(text[:said_at])):
            args["contact"] = lower  # 'what did priya say about pricing'

    limit = _limit(_HIT_COUNT.search(text), most=50)
    if limit:
        args["limit"] = limit
    return args


# 'anyone who raised …', 'customers that mentioned …': who, before what was said.
_WHO_SAID = re.compile(
    r"^(?:anyone|anybody|someone|somebody|people|customers?|prospects?|leads?|any prospects?)"
    r"(?:\s+(?:who|that))?\s+(?:raised|mentioned|said|asked about|asked for|talked about"
    r"|complained about|brought up|had)\s+",
    re.IGNORECASE,
)

# 'on a call that they are already with Allianz' → 'already with Allianz'.
_SAID_WHERE = re.compile(
    r"^(?:(?:on|in|during)\s+(?:a|the|any|our|my)\s+calls?\s+)?(?:that\s+)?"
    r"(?:(?:they|he|she|we|it)(?:'re|'s|’re|’s|\s+are|\s+were|\s+was|\s+is)?\s+)?(?=\S)",
    re.IGNORECASE,
)

_HIT_COUNT_TAIL = re.compile(
    r"[,;]?\s*\b(?:(?:top|first|only|just|max|at most|up to)\s+(?:\d{1,2}|[a-z]+)"
    r"(?:\s+(?:hits|results|matches|quotes))?|\d{1,2}\s+(?:hits|results|matches|quotes))"
    r"(?:\s+only|\s+please)?\s*[.?!]*$",
    re.IGNORECASE,
)

_HIT_COUNT = re.compile(
    r"\b(?:top|first|only|just|max|at most|up to)\s+(?P<a>\d{1,2}|[a-z]+)\b(?:\s+(?:hits|results"
    r"|matches|quotes))?|\b(?P<b>\d{1,3})\s+(?:hits|results|matches|quotes|of them)\b",
    re.IGNORECASE,
)
