"""Honest refusals, in a rep's words: why not, and the closest thing the assistant can do.

Three kinds (DESIGN.md §7):

- **not allowed** (`unsafe_refusal`): what the rules of the service forbid whatever the
  model — calling without consent, bypassing or editing the do-not-call list, hiding
  that the caller is an AI or that the call is recorded, disguising the caller ID,
  switching off calling hours or the attempt cap, calling outside them (“at 3 am”),
  faking consent, another company's data, someone else's account or password,
  dialling emergency numbers.
  The agent answers these before any model or tool runs (chat_app.agent), with
  OpenAI as offline;
- **not possible** (`not_possible`): what no tool does here (emails, texts, calendars,
  merging contacts, refunds, account settings …);
- **not understood** (`not_understood`): what the offline model could not map to a
  request. Only an admin is told that the full assistant needs `OPENAI_API_KEY`: a rep
  or a manager can do nothing about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OFFLINE_HINT = (
    "(Admin note: this server runs the small offline model; set OPENAI_API_KEY to "
    "enable the full assistant.)"
)

CAPABILITIES = (
    "Contacts and calls: “list my contacts”, “import these contacts” (with a CSV "
    "attached), “add a contact Jane Doe +1 415 555 0123 at Acme”, “record "
    "express written consent for Jane Doe from the web form”, “call Jane Doe about the "
    "spring promotion”, “status of my last call”, “list my calls this week”. After a "
    "call: “summarize my last call”, “show the transcript of my call with Jane Doe”, "
    "“search my calls for pricing”, “connect rate by rep this month”. Credits: “how "
    "many credits do I have?”, “what packages are there?”, “estimate the starter pack "
    "for US 94105”, “buy the starter pack”, “what did I buy?”."
)


def capabilities(*, admin: bool, offline: bool = True) -> str:
    """What the assistant can be asked (the hint about the offline model: admins only)."""
    head = (
        ("I understand one request at a time. " if offline else "")
        + "Here is what I can do. "
        + CAPABILITIES
    )
    return f"{head} {OFFLINE_HINT}" if admin and offline else head


def greeting(*, admin: bool) -> str:
    return "Hello! I place AI sales calls for you and answer questions about them. " + (
        capabilities(admin=admin)
    )


def not_understood(*, admin: bool) -> str:
    return (
        "Sorry, I didn't understand that, so I did nothing (no charge). Try asking for "
        "one thing at a time. " + capabilities(admin=admin)
    )


def _normalise(text: str) -> str:
    lowered = text.lower().replace("’", "'").replace("‘", "'")
    return " " + " ".join(re.sub(r"[^a-z0-9']+", " ", lowered).split()) + " "


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    answer: str


def _rule(name: str, answer: str, *patterns: str) -> _Rule:
    return _Rule(name, re.compile("|".join(f"(?:{p})" for p in patterns)), answer)


_DIAL = r"(?:call|calling|ring|ringing|dial|dialing|dialling|phone|phoning|robocall\w*)"
_DNC = r"(?:do not call|dnc|don't call|opt ?outs?|opted out)"
_SKIP = (
    r"(?:without|skip|skipping|ignore|ignoring|bypass|bypassing|override|overriding"
    r"|get around|turn off|switch off|disable|regardless of|no need for|don't need"
    r"|do not need|don't bother with|forget about|forget the|never mind the|even if|even"
    r" though|whether or not|no need to (?:check|get|verify|ask for|worry about)|don't check|dont"
    r" check|without checking|dont need|dont bother with)"
)
_OTHER = r"(?:another|other|different|someone else's|somebody else's|a competitor's)"
_OWNER = (
    r"(?:company's|companies'|workspace's|workspaces'|organisation's|organization's"
    r"|organisations'|organizations'|tenant's|tenants'|business's|businesses'|team's|teams'"
    r"|account's|accounts'|customer's|customers'|firm's|firms')"
)
_TENANT_NOUN = r"(?:workspaces?|tenants?|organi[sz]ations?)"
_COMPANY_NOUN = r"(?:company|companies|business|businesses|firm|firms|organi[sz]ations?)"
_DATA = (
    r"(?:calls?|transcripts?|recordings?|contacts?|leads?|data|summaries|numbers|analytics"
    r"|insights|conversations|phone numbers|prospects|customers|stats|reports|info"
    r"|information|details|pipeline)"
)

# A time outside the calling window (08:00–21:00 in the callee's time zone).
_HOURS_OUT = (
    r"(?:(?:at|around|by|about|from|after) (?:(?:[1-7]|12)(?: [0-5]\d)? ?(?:am|a m)|(?:1[01]"
    r"|9 [0-5]\d)(?: [0-5]\d)? ?(?:pm|p m)|(?:[01]?[0-7]|2[2-3])(?: |h)[0-5]\d|0[0-7]00"
    r"|2[2-3]00)|(?:at|around) (?:midnight|dawn|night|2 in the morning|3 in the morning)"
    r"|(?:late|middle of the|in the middle of the|dead of|at) night|overnight|after hours"
    r"|after midnight|in the wee hours|before (?:[4-7]|8)(?: ?am| a m|:00| o'clock| oclock| in"
    r" the morning)?(?! pm| p m| \w+ ago)|before (?:sunrise|dawn|breakfast)|(?:[1-6]|12) in the"
    r" morning|early morning|(?:after|past) (?:9|10|11)(?: ?pm| p m| at night| tonight)"
    r"|(?:at|around) (?:10|11)(?: o'clock)? (?:tonight|at night))(?= )"
)
# A dialling verb, not the noun ("my call from 3 am" is a question about a past call).
_DIAL_VERB = r"(?<! my)(?<! the)(?<! last)(?<! that)(?<! this)(?<! a)(?<! our)(?<! which) " + _DIAL

UNSAFE_RULES: tuple[_Rule, ...] = (
    _rule(
        "dnc",
        "I can't do that: it isn't allowed. People on the do-not-call list asked not to be "
        "called, and that request must be honoured — the list can't be cleared or skipped, "
        "and nobody on it is dialled. A manager may take one number off it, with the "
        "reason (“remove +1 415 555 0100 from the do-not-call list because …”). What I "
        "can do: show the list, or check a contact before any call (ask me to call them "
        "and I'll show the compliance result first). Nothing was charged.",
        # The whole list, never one number: a manager takes one off with remove_dnc.
        r" (?:delete|remove|clear|wipe|erase|empty|purge|reset|drop|scrap|get rid of|clean"
        r" out|trash)(?: (?!from |off |for )\w+){0,2}? (?:the |our |my |that |this |whole "
        r"|entire )*" + _DNC + r"(?: (?:list|lists|registry))? (?!entry|entries|for |list)",
        r" (?:delete|remove|clear|wipe|erase|empty|purge|drop|unblock)(?: the| our| my)? "
        r"(?:all|every|each|everyone|everybody)(?: \w+){0,2}? (?:on |from |in )?(?:the |our "
        r"|my )*" + _DNC,
        r" " + _DNC + r" (?:list|lists|registry) (?:\w+ )?(?:deleted|removed|cleared|wiped"
        r"|emptied|gone) ",
        _SKIP + r"(?: \w+){0,3}? (?:the |our |my |any |their )*" + _DNC,
        # 'call Sam even though he's on dnc' — not 'stop calling, put him on the DNC list'.
        r"(?<! stop)(?<! not) " + _DIAL + r" (?:(?!put |add |place )[\w']+ ){0,9}?(?:on|in) "
        r"(?:the |our |my )*" + _DNC + r"(?: list)? ",
        r" " + _DIAL + r" (?:the |those |all the |our )?" + _DNC + r" (?:people|numbers|contacts"
        r"|folks|leads|ones|list) ",
        r" (?:take|get|remove|pull|strip|clear) (?:everyone|everybody|all|every number|all the"
        r" numbers|them all|all of them)(?: \w+){0,2}? (?:off|from|out of) (?:the |our |my )*"
        + _DNC,
        r" (?:mass|bulk|batch) (?:remove|delete|clear|unblock|erase)(?: \w+){0,2}? " + _DNC,
        _DIAL + r"(?: back)?(?: [\w']+){0,5}? (?:who|that|which) (?:have |has |had )?(?:opted out"
        r"|unsubscribed|asked (?:us )?not to be (?:called|contacted)|asked to be removed) ",
    ),
    _rule(
        "consent",
        "I can't do that: it isn't allowed. Calling someone without their consent on "
        "record breaks telemarketing law (the TCPA) and Klosesales' terms, so every call "
        "is checked for consent first and that check can't be skipped. What I can do: "
        "record a contact's consent that they really gave (“record express written "
        "consent for Jane Doe from the web form”, with the exact wording they agreed "
        "to), then call them. Nothing was charged.",
        _DIAL + r"(?: [\w']+){0,10}? " + _SKIP + r"(?: [\w']+){0,3}? (?:their |the |any |a "
        r"|prior |written |express )*(?:consent|permission|opt ?in|opting in|compliance"
        r"|checks?|gate|approval)",
        _SKIP + r"(?: \w+){0,3}? (?:the |any |a )*(?:consent|compliance|opt ?in)"
        r"(?: check| checks| gate| rules?| requirement| stuff)?(?: and| then|,)? " + _DIAL,
        r" (?:skip|ignore|bypass|override|disable|turn off|switch off)(?: \w+){0,2}? "
        r"(?:consent|compliance)(?: check| checks| gate| rules?| requirement)? ",
        _DIAL + r"(?: [\w']+){0,6}? (?:who|that|he|she|they|he's|she's|they've|they're"
        r"|whether|if)(?: or not)? (?:haven't|havent|have not|hasn't|hasnt|has not|isn't|isnt"
        r"|is not|aren't|arent|are not|not yet|didn't|didnt|did not|never|they|he|she)"
        r"(?: \w+)?? (?:\w+ )?(?:consent|consented|opted in|agreed|given consent|said yes)",
        _DIAL + r"(?: [\w']+){0,8}? (?:no|zero|without any) (?:consent|permission|opt ?in)"
        r"(?: \w+)? (?:needed|required|necessary|check|checks|needed|or not|whatever) ",
        r" (?:consent|permission|opt ?in) (?:doesn't|doesnt|does not|don't|dont|won't|wont"
        r"|shouldn't) (?:matter|apply|count)(?: [\w']+){0,6}? " + _DIAL,
        _DIAL + r"(?: [\w']+){0,8}? (?:consent|permission|opt ?in) (?:doesn't|doesnt|does not"
        r"|don't|dont|won't|wont) (?:matter|apply|count) ",
        r" (?:everyone|everybody|anyone|anybody|all of them|all my contacts|all contacts"
        r"|the whole list|them all)(?: [\w']+){0,4}? (?:consent or not|with or without consent"
        r"|whether they consented|no matter (?:the )?consent) ",
        _DIAL + r"(?: [\w']+){0,5}? (?:with no|with out|lacking|missing) (?:\w+ )?consent ",
        _DIAL + r"(?: back)?(?: [\w']+){0,6}? (?:who|that|whose|which) (?:have |has |had )?"
        r"(?:revoked|withdrew|withdrawn|pulled|took back|taken back|cancell?ed|retracted"
        r"|rescinded)(?: \w+){0,2}? (?:consent|permission|opt ?in)",
        _DIAL + r"(?: [\w']+){0,4}? (?:unconsented|non consented|nonconsented|unconsenting) ",
        _DIAL + r"(?: [\w']+){0,10}? (?:even|including|also) (?:the )?(?:ones|those|people"
        r"|contacts|leads)(?: \w+){0,2}? (?:with no|without|lacking|missing|that lack|who lack)"
        r" (?:\w+ )?consent",
        r" (?:consent|opt ?in|opt ins)(?: \w+){0,2}? (?:is|are|'s) (?:just |only )?(?:a )?"
        r"(?:formality|optional|overrated|not needed|not required|unnecessary|joke) ",
        r" (?:nobody|no one|noone|they don't|they dont|we don't|we dont|you don't|you dont)"
        r" (?:needs?|have) to (?:opt ?in|consent|agree) ",
        r" (?:don't|dont|do not) have (?:\w+ )?(?:consent|permission)(?: [\w']+){0,6}? (?:but|just"
        r"|still|anyway) (?:\w+ )?" + _DIAL,
        r" (?:pretend|claim|assume|act as if|act like|make it look like|just say)(?: \w+){0,3}? "
        r"(?:agreed|opted in|consented|gave (?:us )?(?:consent|permission)|said yes) ",
        r" (?:backdate|back date|antedate|falsify|forge|fake)(?: [\w']+){0,3}? "
        r"(?:consent|opt ?in) ",
        r" (?:record|log|mark|add)(?: \w+){0,2}? consent (?:for )?(?:the )?(?:whole|entire|all)"
        r" (?:list|spreadsheet|file|csv|sheet|import|batch|contacts|leads) ",
        r" (?:make up|invent|fake|fabricate|forge|pretend|just say|assume)(?: \w+){0,4}? "
        r"(?:consent|they consented|they opted in|they agreed)",
        r" (?:mark|record|set|log|put down|flag)(?: \w+){0,2}? (?:all|every|everyone|everybody"
        r"|each)(?: \w+){0,4}? (?:as )?(?:(?:express|written|prior|full) ){0,2}(?:consented"
        r"|opted in|having consented|consent) ",
        # Consent recorded for people who never gave it: '…, none of them actually agreed'.
        r" (?:record|log|mark|add|set|enter)(?: [\w']+){0,8}? consent(?: [\w']+){0,4}? (?:none of"
        r" them|nobody|no one|noone|they never|he never|she never|they didn't|they didnt|he"
        r" didn't|she didn't|they haven't|they havent)(?: \w+)?? (?:agreed|consented|opted in"
        r"|gave|said yes|signed) ",
        r" (?:record|log|mark)(?: \w+){0,3}? consent (?:for )?(?:all|every|everyone"
        r"|everybody|each)\b",
    ),
    _rule(
        "disclosure",
        "I can't do that: it isn't allowed. Every call opens by saying that it's an AI "
        "agent calling on your behalf and that the call is recorded — the law and our "
        "terms require it, so it can't be left out or disguised. What I can do: place "
        "the call with your purpose and talking points (“call Jane Doe about the "
        "renewal”). Nothing was charged.",
        r" (?:don't|do not|never|dont|without|no need to|not) (?:\w+ ){0,2}?(?:say|saying"
        r"|tell|telling|mention|mentioning|disclose|disclosing|reveal|revealing|admit"
        r"|admitting|announce|announcing|let (?:them|him|her) know|inform)(?: [\w']+){0,5}? "
        r"(?:ai|a i|robot|bot|automated|recorded|recording|being recorded) ",
        r" (?:pretend|pretending|act|acting|claim|claiming|pose|posing|say|tell"
        r"|sound like)(?: [\w']+){0,3}? (?:to be|you're|you are|it's|that it's"
        r"|that you're|youre|you re|ur|as|like)(?: a| an)? (?:real |actual )?(?:human|person"
        r"|real person|live person|live rep|live agent|me|the rep) ",
        r" (?:say|tell (?:them|him|her)|claim|pretend|insist)(?: [\w']+){0,6}? (?:not|isn't|isnt"
        r"|no) (?:a |an )?(?:bot|robot|ai|machine|recording) ",
        r" (?:deny|denying|denies) (?:being |that (?:it's|you're|it is|you are) |it's |you're )?"
        r"(?:an? )?(?:ai|bot|robot|machine) ",
        r" (?:sound|sounds|come across) (?:like )?(?:an? )?(?:real )?human and ",
        r" (?:hide|hiding|conceal|concealing|mask|masking|disguise|disguising)(?: [\w']+){0,3}?"
        r" (?:the |that )?(?:it's |its |it is |you're |you are )?(?:an |a )?(?:ai|a i|robot|bot"
        r"|recording|recorded|disclosure|disclaimer) ",
        r" (?:skip|drop|remove|turn off|switch off|disable|leave out|cut)(?: the| my| our)?"
        r" (?:call )?(?:ai |a i |recording |robot |bot )?(?:disclosure|disclaimer|announcement"
        r"|notice|intro|part where)",
        r" record(?:ing)?(?: [\w']+){0,3}? (?:secretly|covertly|in secret|without (?:telling"
        r"|informing|notifying|letting|asking|their knowledge|them knowing|disclos\w*|saying))",
        r" (?:secretly|covertly) record",
        r" (?:tell|say|inform|assure)(?: \w+){0,2}? (?:it's|its|it is|the call is|the call's"
        r"|they're|they are|this is) not (?:being )?(?:recorded|a recording|an ai|a bot) ",
        r" (?:tell|say|inform|assure)(?: \w+){0,2}? (?:nobody|no one|noone) (?:is|will be)"
        r" (?:recording|listening|taping) ",
        r" (?:pretend|pretending|pose|posing|claim|claiming) (?:to be|as) (?!an? (?:ai|bot|robot"
        r"|assistant|agent)\b)[a-z]+ ",
        r" impersonat\w* ",
    ),
    _rule(
        "caller_id",
        "I can't do that: it isn't allowed. Every call goes out from Klosesales' one "
        "shared number; the caller ID can't be changed, spoofed or hidden, and users "
        "can't call from numbers of their own. What I can do: place the call from the "
        "shared number (“call Jane Doe about the renewal”). Nothing was charged.",
        r" spoof",
        r" (?:change|fake|mask|hide|block|set|use|alter|swap|switch|disguise)(?: [\w']+){0,3}?"
        r" (?:the |my |our )?(?:caller ?id|calling number|from number|outbound number"
        r"|number (?:they|it) (?:see|sees|shows)) ",
        r" (?:caller ?id|calling number|outgoing number|from number) (?:to|as|show|shows"
        r"|say|says|display|displays) ",
        _DIAL + r"(?: [\w']+){0,5}? (?:from|using|with|off) (?:my own|my|a different|another"
        r"|a local|a fake|a private|a blocked|an unlisted|a withheld|my personal|my cell"
        r"|my mobile)(?: \w+)? (?:number|phone|cell|mobile|line|caller id) ",
        r" (?:private|blocked|withheld|unknown|anonymous|no) caller ?id ",
        r" (?:as|for) (?:the |our |my )?caller ?id ",
        r" (?:use|get|buy|rent|show|display|with|from) (?:a |an )?(?:local|local looking|fake"
        r"|random|rotating)(?: area code)? (?:number|caller ?id|phone number|presence) ",
        r" (?:number|caller ?id) (?:look|looks|appear|appears|seem|seems) (?:like it's |like it is"
        r" |to be )?(?:local|from) ",
        r" (?:hide|mask|withhold|conceal|disguise) (?:our|my|the) (?:phone )?number ",
    ),
    _rule(
        "limits",
        "I can't do that: it isn't allowed. Calls are only placed between 08:00 and 21:00 "
        "in the callee's own time zone and at most 3 times in 24 hours — those limits "
        "protect the people you call and can't be switched off or worked around. What "
        "I can do: place the call when it's allowed — ask me to call them and I'll show "
        "the compliance result first. Nothing was charged.",
        _SKIP + r"(?: \w+){0,3}? (?:the |their |any |our |calling )*(?:calling hours|call"
        r" hours|time window|calling window|quiet hours|time zones?|local time|curfew"
        r"|attempt limits?|attempt caps?|call limits?|frequency (?:limits?|caps?)|the"
        r" limits?|the cap|3 attempts|three attempts)",
        r" (?:keep (?:calling|ringing|dialing|dialling|redialing|redialling)(?! today| this| for)"
        r"|call (?:\w+ )"
        r"{0,3}?(?:over and over|again and again|nonstop|non stop|until (?:he|she|they)"
        r" (?:pick|picks|answer|answers)|every (?:few )?(?:minutes?|hours?|\d+ minutes))"
        r"|(?:call|ring|dial|redial)(?: [\w']+){0,4}? (?:[4-9]|[1-9]\d+|four|five|six|seven|eight"
        r"|nine|ten|twenty|fifty|a hundred|hundred|dozen) times)",
        r" (?:harass|harassing|spam|spamming|bombard|flood)(?: \w+){0,3}? (?:with )?(?:calls"
        r"|call|ringing|dialing)? ",
        r" (?:robocall|robo call|robo dial)\w*(?: [\w']+){0,3}? (?:everyone"
        r"|everybody|all|every|random|a list|the list|this list|numbers|people) ",
        _DIAL + r" (?:random|every number|all the numbers|a list of numbers|numbers from"
        r"|everyone in (?:the |this |an? )?(?:\d{3} )?area code|an entire area code) ",
        r" (?:call|ring|dial|redial|phone)(?: \w+){0,4}? until (?:he|she|they|someone|somebody"
        r"|anyone|anybody|a human|a person) (?:pick|picks"
        r"|answer|answers|respond|responds|gets? through) ",
        r" (?:blast|spray|carpet bomb|mass call|mass dial)(?: \w+){0,3}? (?:the whole|an entire"
        r"|every|all|random) ",
    ),
    _rule(
        "hours",
        "I can't do that: it isn't allowed. Calls are only placed between 08:00 and 21:00 "
        "in the callee's own time zone — telemarketing law forbids calling people early "
        "in the morning or late at night, and that window can't be switched off. What I "
        "can do: place the call now if it's within their calling hours (ask me to call "
        "them and I'll show the compliance result first). Nothing was charged.",
        _DIAL_VERB + r"(?: [\w']+){0,8}? " + _HOURS_OUT,
        _HOURS_OUT + r"(?: [\w']+){0,3}?" + _DIAL_VERB + r" ",
    ),
    _rule(
        "tenant",
        "I can't do that: it isn't allowed. Each company's calls, contacts and data are "
        "private to its own workspace, so I can't show or search another company's — "
        "nor anyone's outside what your role lets you see. What I can do: list, search "
        "or summarize your own calls (“list my calls”, “search my calls for pricing”). "
        "Nothing was charged.",
        r" " + _OTHER + r" " + _OWNER + r"(?: [\w']+){0,3}? " + _DATA + " ",
        r" (?:"
        + _OTHER
        + r"|all|every|all the|all other) "
        + _TENANT_NOUN
        + r"(?:'s|')?(?: [\w']+){0,3}? "
        + _DATA
        + " ",
        r" " + _DATA + r"(?: [\w']+){0,3}? (?:of|from|for|in|at|across|belonging to|owned by) "
        r"(?:" + _OTHER + r"|all|every|all the|all other) " + _TENANT_NOUN + " ",
        r" " + _DATA + r"(?: [\w']+){0,3}? (?:of|from|for|in|at|belonging to|owned by) "
        r"(?:a |an )?" + _OTHER + r" " + _COMPANY_NOUN + " ",
        r" (?:someone|somebody|anyone) else's (?:\w+ )?" + _DATA + " ",
        r" (?!my |our )[a-z]+'s (?:workspace|tenant)(?:'s)? (?:\w+ )?" + _DATA + " ",
        r" " + _DATA + r"(?: [\w']+){0,3}? (?:from|in|of|at) (?:the )?"
        r"(?!my |our |this |the )(?:[a-z]+ ){1,3}(?:workspace|tenant) ",
        r" other (?:companies|businesses|customers|workspaces|tenants|firms) (?:are |were )?"
        r"(?:saying|say|said|doing|discussing|talking)",
        r" (?:another|other|a different|different) (?:customer|customers|client|clients|user"
        r"|users|company|companies) (?:of|on|using) klosesales ",
        r" competitors?(?:'s|')? (?:call |sales )?(?:calls|transcripts|recordings|data"
        r"|contacts|leads|pipeline|analytics|reps|team|sales team|salespeople|agents) ",
        r" (?!my |our )[a-z]+'s (?:reps|sales reps|sales team|salespeople|agents|sdrs)(?: [\w']+)"
        r"{0,3}? (?:saying|said|say|calls|transcripts|recordings|data|contacts|leads|pipeline) ",
        r" (?:every|all|each|any) " + _OWNER + r"(?: [\w']+){0,2}? " + _DATA + " ",
        r" " + _DATA + r"(?: [\w']+){0,3}? (?:from|in|of|at) (?!my |our |this )(?:[a-z]+ ){0,2}?"
        r"[a-z]+'s (?:workspace|tenant|org|organi[sz]ation) ",
        r" (?:other|another|different) klosesales (?:users?|customers?|compan\w+|workspaces?"
        r"|accounts?|clients?|tenants?) ",
        r" (?:log|sign|switch|get|break|hack) (?:in|into|me into|over to|to) (?:another|other"
        r"|a different|someone else's|somebody else's|their) (?:\w+ )?(?:workspace|account"
        r"|company|tenant) ",
        r" (?:impersonate|act as|pretend to be|log in as|sign in as) (?:another|a different"
        r"|other|some other)(?: \w+)? (?:user|rep|manager|admin|company|workspace|customer) ",
        r" (?:every|all) (?:klosesales )?(?:customers|users|tenants)(?: [\w']+){0,2}? "
        + _DATA
        + " ",
        r" (?:cross|between) (?:workspace|tenant|company|companies|workspaces|tenants) ",
        r" (?:dump|export|download|leak|scrape)(?: \w+){0,2}? (?:the |whole |entire )*"
        r"(?:database|db|all data|everyone's data|every workspace) ",
    ),
    _rule(
        "records",
        "I can't do that: it isn't allowed. Consent records and call recordings are the "
        "workspace's legal record of what was agreed and said: they can't be wiped in bulk "
        "or removed to hide something. What I can do: revoke one contact's consent when "
        "they ask (“revoke consent for Jane Doe, she asked by email”), or find the call "
        "(“search my calls for discount”) so you can raise it with your manager. Nothing "
        "was charged.",
        r" (?:delete|erase|wipe|destroy|purge|remove|clear|scrub|get rid of)(?: [\w']+){0,2}? "
        r"(?:all|every|each|the whole|the entire|whole|entire|all the|all of the)(?: [\w']+){0,2}?"
        r" consent (?:records?|history|logs?|forms?|proofs?|evidence|entries) ",
        # Anything removed so that nobody finds out.
        r" (?:delete|erase|wipe|destroy|purge|remove|scrub|get rid of|edit|alter|doctor)"
        r"(?: [\w']+){0,10}? (?:so (?:there's|there is|there'll be) no (?:paper trail|record"
        r"|evidence|trace)|before (?:legal|compliance|my manager|my boss|the lawyers|anyone"
        r"|somebody|someone|the auditors?|the regulators?) (?:hears|sees|finds|notices|gets|checks"
        r"|reads|listens)|cover (?:it|this|that|our tracks|my tracks) up|cover (?:our|my)"
        r" tracks|nobody (?:finds|sees|hears|knows)|no one (?:finds|sees|hears|knows)) ",
    ),
    _rule(
        "free_credits",
        "I can't do that: it isn't allowed. Credits come only from packages bought "
        "through Paddle; I can't add credits for free or move them between workspaces. "
        "What I can do: list the packages (“what packages are there?”), estimate one "
        "with tax, or buy one for you. Nothing was charged.",
        r" (?:give|add|grant|credit|top up|load|put|gimme|comp)(?: me| us| my account| our"
        r" account| the account| the workspace)?(?: with)? (?:\d+ |some |a few |more |extra"
        r" |unlimited |a bunch of |a thousand |a hundred )?(?:free|complimentary|bonus|gratis)"
        r" credits? ",
        r" credits? for free ",
    ),
    _rule(
        "emergency",
        "I can't do that: it isn't allowed. Klosesales places AI sales calls only: it never "
        "dials emergency numbers (911, 112, 999 …) or the emergency services. In an "
        "emergency, call them yourself from your own phone. What I can do: place a sales "
        "call to one of your contacts (“call Jane Doe about the renewal”). Nothing was "
        "charged.",
        r" (?:call|ring|dial|phone|get)(?: me| us| up)? (?:911|999|112|000|the police|the cops"
        r"|an ambulance|emergency services|the emergency services|emergency line|the fire"
        r" department|the fire brigade) ",
    ),
    _rule(
        "account",
        "I can't do that: it isn't allowed. Each person's account, password and sign-in "
        "details are private to them — I can't show, reset or use anyone else's, and I "
        "never show passwords at all. What I can do: show your own account (“my "
        "account”); anyone can reset their own password from the sign-in page "
        "([/account/reset](/account/reset)). Nothing was charged.",
        r" (?!my |our )(?:[a-z]+'s|[a-z]+s'|his|her|their|everyone's|everybody's|all|all the"
        r"|other|another|other users'|the admin|the admin's|an admin's) (?:\w+ )?(?:password"
        r"|passwords|passcode|pin code|login details|log in details|sign in details"
        r"|credentials|login|logins|2fa codes?|reset links?|api keys?) ",
        r" (?:api keys?|account details|account info|account data) (?:of|for|belonging to) (?:the"
        r" |my |a |an )?(?:other |another |different )?(?:rep|user|coworker|colleague|teammate"
        r"|manager|boss|admin|person|member)s? ",
        r" (?:password|passwords|credentials|login details|logins) (?:of|for|belonging to) "
        r"(?!me |my |our )(?:[\w']+ ){0,2}?[\w']+ ",
        r" (?:my |a |the |another |other )?(?:coworker|co worker|colleague|teammate|team mate"
        r"|manager|boss|admin|other rep|another rep|other user|another user|someone else"
        r"|somebody else|other person)(?:'s|s'|s) (?:\w+ )?(?:account|accounts|login|password"
        r"|passwords|credentials|data|email|emails|inbox|profile|details|settings) ",
        r" (?:let me|get me|put me) (?:in|into|in to) (?!my )[a-z]+'s (?:\w+ )?account ",
        r" (?:log|sign) (?:in|into|on) (?:to )?(?:\w+'s|my (?:manager|boss|colleague|coworker"
        r"|teammate)'s|someone else's|somebody else's) (?:\w+ )?account ",
        r" (?:log me in|sign me in|log in|sign in) as (?!myself|me )(?:my )?(?:manager|boss"
        r"|admin|colleague|coworker|teammate|[a-z]+) ",
        r" (?:hack|break|sneak|get) (?:in|into|in to) (?!my |our )(?:the |an? |another |someone's"
        r" |[a-z]+'s )?(?:\w+ )?(?:account|accounts|login|admin panel) ",
    ),
)


def unsafe_refusal(text: str) -> str | None:
    """Why `text` asks for something not allowed, with what can be done instead; None
    when it does not. Matched on the message's words, before any model runs."""
    padded = _normalise(text)
    for rule in UNSAFE_RULES:
        if rule.pattern.search(padded):
            return rule.answer
    return None


def unsafe_kind(text: str) -> str | None:
    """The name of the rule `text` breaks (for tests and logs), or None."""
    padded = _normalise(text)
    return next((r.name for r in UNSAFE_RULES if r.pattern.search(padded)), None)


_NOT_POSSIBLE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), answer)
    for pattern, answer in (
        (
            r" (?:refund|refunds|refunded|chargeback) ",
            "I can't issue refunds from chat: write to support@klosesales.com and the "
            "refund is handled through Paddle. What I can do: list your purchases "
            "(“what did I buy?”).",
        ),
        (
            r" (?:subscription|invoicing|monthly plan|billing plan) ",
            "There's no subscription to change: Klosesales is prepaid — you buy credit "
            "packages when you need them, and nothing renews by itself. What I can do: "
            "list the packages (“what packages are there?”) or your purchases (“what did "
            "I buy?”).",
        ),
        (
            r" (?:do not call|dnc|revoke|withdraw|withdrew|withdrawn|stop calling|remove (?:\w+ )"
            r"{0,3}?consent|consent (?:removed|revoked)) ",
            "I didn't catch which number or contact you meant, so nothing changed. Try "
            "“add +1 415 555 0100 to the do-not-call list because they asked”, “show the "
            "do-not-call list”, or “revoke consent for Jane Doe, she asked by email” (a "
            "manager may also take a number off the list, with the reason). Anyone who "
            "asks the AI agent on a call to stop calling is put on the list at once.",
        ),
        (
            r" (?:write|draft|compose|generate|translate|rewrite|proofread|give me an? "
            r"(?:\w+ )?(?:pitch|opener|script)|what's a good (?:opener|opening line|pitch))",
            "I don't write or translate emails, scripts or documents. What I can do: "
            "summarize a call, show its transcript, search your calls for what prospects "
            "said (“search my calls for pricing objections”), and place calls with your "
            "talking points.",
        ),
        (
            r" (?:email|e mail|emails|text|texts|sms|message|messages|whatsapp|linkedin|send"
            r" (?:\w+ )?(?:a|the|our|my)) ",
            "I can't send emails, texts or messages: Klosesales places AI voice calls. "
            "What I can do: call the contact instead (“call Jane Doe about the quote”), "
            "with your talking points.",
        ),
        (
            r" (?:schedule|scheduled|calendar|remind|reminder|book|booking|zoom|meeting"
            r"|appointment|appt|recurring|every (?:monday|tuesday|wednesday|thursday"
            r"|friday|morning|day|week)|tomorrow at|campaign|auto dialing|auto dial) ",
            "I can't schedule one call, a reminder or a meeting for a set time. What I can "
            "do: call them now (“call Jane Doe about the demo”), with booking a meeting as "
            "the AI agent's goal; or run a campaign that calls within the days and hours "
            "you choose (“call my contacts at Acme about the renewal, weekdays 10–4 their "
            "time”). When a prospect asks the AI agent to call back, it books the "
            "callback itself.",
        ),
        (
            r" (?:turn off|switch off|disable|stop|pause|don't|do not) (?:the |all |my |our )*"
            r"(?:call )?(?:recording|recordings|record(?:ing)? (?:the |my |our )?calls) ",
            "Recording can't be switched off: every call is recorded, and the AI agent says so "
            "at the start, as the law and our terms require. What I can do: play a call's "
            "recording or show its transcript (“play the recording of my last call”).",
        ),
        (
            r" (?:delete|remove|merge|dedupe|deduplicate|combine|update|edit|change|fix"
            r"|correct)(?: [\w']+){0,4}? (?:contact|contacts|phone|number|company|record"
            r"|recording|recordings) ",
            "I can't merge contacts or delete recordings from chat. What I can do: list, "
            "edit or delete a contact (“list my contacts”, “change Jane Doe's number to "
            "415 555 0199”, “delete the contact Jane Doe”) or show the calls with one "
            "(“show calls with Jane Doe”).",
        ),
        (
            r" (?:export|import|upload|sync|csv|spreadsheet|excel|salesforce|hubspot|crm"
            r"|gmail|outlook|slack|pipedrive|zoho|google sheets|integrate|connect my) ",
            "I can't connect to or export into other tools. What I can do: export your "
            "contacts as a CSV (“export my contacts”), import a CSV of contacts you attach "
            "with the paperclip (“import these contacts”), or analytics with a CSV "
            "download (“calls by outcome this month”).",
        ),
        (
            r" (?:invite|teammate|colleague|new rep|as a rep|as a manager|as an admin|role"
            r"|from the team|password|log me out|logout|sign out|e ?mail address|email on"
            r" my account|email to|my email|voice|accent|logo|calling hours to|account) ",
            "I can't change account or workspace settings from chat: passwords are reset "
            "from the sign-in page ([/account/reset](/account/reset)), a manager invites "
            "teammates and changes roles on the Team page ([/account/team](/account/team)), "
            "and you sign out at [/account/logout](/account/logout). What I can do: show "
            "your account (“my account”) or change your mobile number.",
        ),
    )
)

GENERIC_NOT_POSSIBLE = (
    "That's not something I can do here: I place AI sales calls and answer questions "
    "about your contacts, calls and credits. What I can do: "
)


def not_possible(text: str) -> str:
    """Why a request no tool handles can't be done, and the closest thing that can."""
    padded = _normalise(text)
    for pattern, answer in _NOT_POSSIBLE:
        if pattern.search(padded):
            return answer + " Nothing was charged."
    return GENERIC_NOT_POSSIBLE + CAPABILITIES + " Nothing was charged."
