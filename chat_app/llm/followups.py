"""Follow-ups: a message read against the conversation it belongs to.

The offline model (chat_app.llm.offline) calls `resolve` before routing a message on its
own. From the thread it reads the past exchanges (`exchanges`): what the user said,
which tool answered with which arguments, what that answer was *about* (the contact and
call a tool resolved: the `{"about": …}` artifact of its ToolMessage, tools.about, kept
with the thread in PostgreSQL) and what the assistant said last. Then:

1. **An answer to the question the assistant asked** — the consent wording ("What exact
   wording did they agree to?"), the billing country, who to call, which of several
   contacts — fills that one argument of the tool that asked, unless the message is a
   new request (it reads as an order or a question the router recognises), which is then
   handled as such: the wording question never swallows "call Jordan Lee about …".
2. **"yes" / "no" to a confirmation** the assistant asked: yes repeats the proposing tool
   call with the same arguments, no answers that nothing was done (free). In a live
   conversation a proposal still pending in the database is answered before the model
   runs (`answer_confirmation`, called by chat_app.turns): it runs at most once
   (tools.actions), after a reload or from another process too; one that expired says so.
3. **"again"** repeats the previous tool call.
4. **One argument changed**: "and last week?" (same tool, another period), "what about
   Riley?" (same tool, another contact — or rep, for analytics).
5. **References** in a full request: "call them again about the renewal", "summarize that
   call", "the same contact", "what did she say" resolve to the contact / call the
   conversation was last about. A reference with nothing to refer to is asked back (free).

Building a thread for tests and evaluations: `context_messages(items)`, where each item is
either a past user turn `{"user": text, "tool": name | None, "args": {...}, "about":
{"contact": name, "call": 8-hex id}}` (`about` keys optional; `tool` None for an answer
without a tool) or an assistant message `{"assistant": "question text"}` (the assistant's
last words of the turn before it, e.g. the question it asked back). The result is the
list of LangChain messages the live app would have stored for those turns; append the
new `HumanMessage` and give it to the model.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    ToolMessage,
    messages_to_dict,
)

from chat_app.llm.messages import message_text

if TYPE_CHECKING:
    from chat_app.turns import ToolCallRecord
    from tools.context import AgentContext

# Tools that write: a "yes" repeats their proposal; their answer was a question.
WRITE_TOOLS = frozenset(
    {"add_contact", "record_consent", "buy_credits", "place_call", "end_call", "change_mobile"}
)
# The argument naming a person, per tool ("what about Riley?" changes it).
PERSON_ARG = {
    "place_call": "contact",
    "list_calls": "contact",
    "search_calls": "contact",
    "record_consent": "contact",
    "revoke_consent": "contact",
    "delete_contact": "contact",
    "edit_contact": "contact",
    "add_dnc": "phone",
    "call_status": "call",
    "summarize_call": "call",
    "call_insights": "call",
    "get_transcript": "call",
    "play_recording": "call",
    "end_call": "call",
    "analytics": "rep",
}
# The argument naming one call ("that call").
CALL_ARG = {
    name: "call"
    for name in (
        "call_status",
        "summarize_call",
        "call_insights",
        "get_transcript",
        "play_recording",
        "end_call",
    )
}
# Tools asked about a period ("and last week?" changes it).
PERIOD_TOOLS = frozenset({"analytics", "list_calls"})

NOTHING_DONE = "OK — I won't. Nothing was done and nothing was charged."
DEFAULT_PURPOSE = "a quick introduction"
FOLLOW_UP_PURPOSE = "a follow-up on our last conversation"


# --- reading the thread -----------------------------------------------------------------


@dataclass
class Exchange:
    """One past turn: the user's words, the (last) tool that answered and its arguments,
    what it was about, and the assistant's last words."""

    user: str
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    about: dict[str, str] = field(default_factory=dict)
    answer: str = ""


def exchanges(messages: Iterable[BaseMessage]) -> list[Exchange]:
    """The past turns in `messages`, oldest first (messages before the first user
    message are ignored)."""
    found: list[Exchange] = []
    for message in messages:
        if isinstance(message, HumanMessage):
            found.append(Exchange(user=message_text(message)))
        elif not found:
            continue
        elif isinstance(message, AIMessage):
            if message.tool_calls:
                call = message.tool_calls[-1]
                found[-1].tool, found[-1].args = call["name"], dict(call["args"])
                if set(call["args"]) == {"answer", "proposal"}:  # a yes / no to a proposal
                    found[-1].args = _proposed_args(found[:-1], call["name"])
            else:
                found[-1].answer = message_text(message)
        elif isinstance(message, ToolMessage):
            artifact = message.artifact
            if isinstance(artifact, Mapping) and isinstance(artifact.get("about"), Mapping):
                found[-1].about = {str(k): str(v) for k, v in artifact["about"].items() if v}
    return found


def _proposed_args(past: Sequence[Exchange], tool: str) -> dict[str, Any]:
    """The arguments of the newest earlier call of `tool` (the proposal a yes answered)."""
    earlier = next((e for e in reversed(past) if e.tool == tool), None)
    return dict(earlier.args) if earlier is not None else {}


def last_about(past: Sequence[Exchange]) -> dict[str, str]:
    """What the conversation was last about (the newest turn that was about anything)."""
    for exchange in reversed(past):
        if exchange.about:
            return exchange.about
    return {}


def context_messages(items: Iterable[Mapping[str, Any]]) -> list[BaseMessage]:
    """The thread the live app would have stored for `items` (see the module docstring):
    `{"user", "tool", "args", "about"}` turns and `{"assistant": text}` messages."""
    messages: list[BaseMessage] = []
    pending_answer: AIMessage | None = None  # a turn's closing words, unless replaced
    for item in items:
        if "assistant" in item:
            pending_answer = None
            messages.append(AIMessage(content=str(item["assistant"])))
            continue
        if pending_answer is not None:
            messages.append(pending_answer)
        user = str(item.get("user", ""))
        messages.append(HumanMessage(content=user, id=uuid.uuid4().hex))
        tool = item.get("tool")
        about = {k: str(v) for k, v in dict(item.get("about") or {}).items() if v}
        if not tool:
            pending_answer = AIMessage(content="(answered without a tool)")
            continue
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        args = dict(item.get("args") or {})
        messages.append(
            AIMessage(
                content="",
                tool_calls=[{"name": str(tool), "args": args, "id": call_id, "type": "tool_call"}],
            )
        )
        what = ", ".join(f"{k} {v}" for k, v in about.items()) or "nothing in particular"
        result = f"(result of {tool}, about {what})"
        messages.append(
            ToolMessage(
                content=result,
                tool_call_id=call_id,
                name=str(tool),
                artifact={"about": about} if about else None,
            )
        )
        pending_answer = AIMessage(content=result)
    if pending_answer is not None:
        messages.append(pending_answer)
    return messages


# --- reading the message ----------------------------------------------------------------

_YES = re.compile(
    r"^(?:yes|yeah|yep|yup|ya|y|sure|ok|okay|k|confirm(?:ed)?|correct|right|affirmative"
    r"|absolutely|definitely|of course|please do|do it|go ahead|go for it|proceed|continue"
    r"|sounds good|that'?s right|let'?s do it|yes please|please)"
    r"(?:[\s,!.]+(?:please|go ahead|do it|thanks|thank you|continue|proceed|confirm(?:ed)?"
    r"|place it|call (?:them|him|her)|buy it|add (?:it|them|him|her)|record it|that'?s fine"
    r"|sure|ok|okay))*[\s!.]*$",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^(?:no|nope|nah|n|cancel|stop|don'?t|do not|never ?mind|not now|no thanks|no thank you"
    r"|abort|decline|forget it|skip(?: it)?|hold off|wait)"
    r"(?:[\s,!.]+(?:thanks|thank you|cancel(?: it)?|don'?t|please|not now|forget it|stop"
    r"|that'?s fine|leave it))*[\s!.]*$",
    re.IGNORECASE,
)


def yes_no(text: str) -> bool | None:
    """True for a short yes ("yes", "sure, go ahead"), False for a short no ("no",
    "cancel"), None for anything else."""
    clean = " ".join(text.replace("’", "'").split())
    if _YES.match(clean):
        return True
    if _NO.match(clean):
        return False
    return None


_AGAIN_ONLY = re.compile(
    r"^(?:(?:please|pls|ok|okay|now|and)\s+)*(?:again|do (?:it|that) again|same again"
    r"|(?:one more|once more)(?: time)?|repeat (?:it|that)|try (?:it |that )?again"
    r"|run (?:it|that) again)(?:[\s,;—–-]+(?:(?:the )?same (?:thing|as before|deal|again)|same))?"
    r"[\s!.?]*(?:please)?[\s!.?]*$",
    re.IGNORECASE,
)

_CHANGE = re.compile(
    r"^(?:(?:and|but|ok|okay|so|also|then)[\s,]+)?(?:(?:now\s+|then\s+)?(?:do|run)\s+(?:the\s+same"
    r"|that|it|this)(?:\s+(?:thing|one|again))?\s+(?:for|with)"
    r"|(?:what|how)\s+(?:about|abt|bout)(?:\s+for)?"
    r"|wbu|what\s+of|and\s+for|what\s+if\s+(?:i'?m|i\s+am|we'?re|we\s+are|i\s+was|we\s+were)"
    r"(?:\s+in)?|what\s+if"
    r"|and\s+with|same\s+(?:thing\s+)?(?:for|with)|now(?:\s+for|\s+with)?|and|for|with"
    r"|only)"
    r"\s+(?P<rest>.+?)\s*[?.!]*$",
    re.IGNORECASE,
)

# Words that refer back to the person last spoken about.
_PERSON_REF = re.compile(
    r"\b(?:the\s+same\s+(?:contact|person|prospect|lead|customer|client|guy|lady|one)"
    r"|(?:that|this)\s+(?:contact|person|prospect|lead|customer|client|guy|lady|woman|man)"
    r"|him|her|them|em|he|she|they|his|their|hers)\b",
    re.IGNORECASE,
)
# Words that refer back to the call last spoken about.
_CALL_REF = re.compile(
    r"\b(?:(?:that|this|the\s+same|the\s+previous|that\s+last|the)\s+(?:call|conversation"
    r"|one)|the\s+(?:latest|last|most\s+recent|newest)\s+one|it)\b"
    r"|\b(?:of|for|from|on)\s+(?:that|this)(?=\s*[?.!]*$)",  # 'the transcript of that'
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(
    r"\b(?:his|her|their)\s+(?=(?:\w+\s+){0,2}?(?:call|calls|conversation"
    r"|transcript|recording|summary|number|phone|consent|outcome|insights)\b)",
    re.IGNORECASE,
)
_OBJECT = re.compile(
    r"\b(?:the\s+same\s+(?:contact|person|prospect|lead|customer|client|guy|lady|one)"
    r"|(?:that|this)\s+(?:contact|person|prospect|lead|customer|client|guy|lady|woman|man)"
    r"|him|her|them|he|she|they)\b",
    re.IGNORECASE,
)
_ABOUT_THAT = re.compile(
    r"\b(?:about|regarding|re|on)\s+(?:it|that|this|the same(?: thing)?)\s*[?.!]*$", re.IGNORECASE
)
_AGAIN = re.compile(r"\b(?:again|once more|one more time)\b", re.IGNORECASE)
_PURPOSE_GIVEN = re.compile(r"\b(?:about|regarding|re:|concerning|to|for)\s+\S", re.IGNORECASE)

# What the assistant asked back, recognised by its words (as the tools word them).
_ASKED_WORDING = re.compile(r"exact wording", re.IGNORECASE)
_ASKED_COUNTRY = re.compile(r"billing country|which country", re.IGNORECASE)
_ASKED_WHO = re.compile(r"who should i call|which contact\?|who do you mean", re.IGNORECASE)
_ASKED_WHICH = re.compile(
    r"which one do you mean|several (?:contacts|calls) match|which one\?", re.IGNORECASE
)

# A message opening like an order or a question: a new request, not an answer.
_REQUEST_OPENING = re.compile(
    r"^\s*(?:(?:please|pls|ok|okay|now|hey|so|and|also|actually|instead|no|wait|hold on|hang on"
    r"|one sec(?:ond)?|sorry|oh|oops|btw|quick question|before that|first)[\s,.!]+)*"
    r"(?:(?:can|could|would|will)\s+you\b|i\s+(?:want|need|would like)\s+(?:you\s+)?to\b"
    r"|let'?s\b|call|ring|phone|dial|add|record|log|summari[sz]e|show|list|find|search|get"
    r"|give|buy|purchase|estimate|check|play|hang|end|place|make|compare|chart|plot|what|how"
    r"|who|when|which|why|where|is|are|was|were|did|do|does|has|have|tell|pull|open|read"
    r"|transcript|cancel)\b",
    re.IGNORECASE,
)


def _route(text: str, tools: frozenset[str], today: date) -> tuple[str, dict[str, Any]] | None:
    """The single-message router's choice for `text`: (tool, args), or None (also for an
    intent answered without a tool)."""
    from chat_app.llm.offline_router import route

    chosen = route(text, tools, today=today)
    if chosen is None or chosen.intent.tool is None:
        return None
    return chosen.intent.tool, dict(chosen.args)


def _answered_without_a_tool(text: str, tools: frozenset[str], today: date) -> bool:
    """Whether the router answers `text` itself (what is not allowed, a greeting)."""
    from chat_app.llm.offline_router import route

    chosen = route(text, tools, today=today)
    return chosen is not None and chosen.intent.tool is None


def is_new_request(text: str, tools: frozenset[str], today: date | None = None) -> bool:
    """Whether `text`, given as the answer to a question, is a new request instead: it
    opens like an order or a question and the router finds a tool for it."""
    if not _REQUEST_OPENING.match(text) or yes_no(text) is not None:
        return False
    return _route(text, tools, today or datetime.now(UTC).date()) is not None


def looks_like_request(text: str) -> bool:
    """`is_new_request` with every tool available (for answers collected outside the
    model, e.g. the chat's text prompt)."""
    from chat_app.agent import TOOLS

    return is_new_request(text, frozenset(t.name for t in TOOLS))


def screened(
    ask: Callable[[str], Awaitable[str | None]], on_request: Callable[[str], None]
) -> Callable[[str], Awaitable[str | None]]:
    """`ask` (a question put to the user, answered in text), except that an answer that
    reads as a new request (`looks_like_request`) is not taken as the answer: it goes to
    `on_request`, to be handled as a request of its own, and the question counts as
    unanswered (None). "call Jordan Lee about …" typed at the consent-wording prompt is
    never stored as consent."""

    async def asking(question: str) -> str | None:
        answer = await ask(question)
        if answer and looks_like_request(answer.strip()):
            on_request(answer.strip())
            return None
        return answer

    return asking


# --- resolving --------------------------------------------------------------------------


@dataclass(frozen=True)
class Followup:
    """What a follow-up resolved to: a tool call, or a reply without one."""

    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    reply: str | None = None

    def message(self) -> AIMessage:
        if self.tool is None:
            return AIMessage(content=self.reply or "")
        return AIMessage(
            content="",
            tool_calls=[
                {
                    "name": self.tool,
                    "args": self.args,
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "tool_call",
                }
            ],
        )


def resolve(
    messages: Sequence[BaseMessage], tools: frozenset[str], *, today: date | None = None
) -> Followup | None:
    """The follow-up the last user message of `messages` makes to the conversation before
    it (see the module docstring), or None when it is a request of its own (route it)."""
    if not messages or not isinstance(messages[-1], HumanMessage):
        return None
    text = " ".join(message_text(messages[-1]).split())
    past = exchanges(messages[:-1])
    if not text:
        return None
    day = today or datetime.now(UTC).date()
    opening = _opening_question(messages[:-1])
    if not past and opening:
        # A starter asked first ('who should I call, and what is it about?'): answered.
        found = _answered(text, [Exchange(user="", answer=opening)], tools, day)
        if found is not None:
            return found if found.tool is None or found.tool in tools else None
    if not past:
        return _referred(text, past, tools, day)  # 'call him' with no one before: asked
    for step in (_answered, _confirmed, _again, _changed, _refined):
        found = step(text, past, tools, day)
        if found is not None:
            return found if found.tool is None or found.tool in tools else None
    return _referred(text, past, tools, day)


def _opening_question(messages: Sequence[BaseMessage]) -> str:
    """The assistant's question when the thread opens with one (a starter's), else ''."""
    if messages and all(isinstance(m, AIMessage) and not m.tool_calls for m in messages):
        said = message_text(messages[-1])
        return said if said.rstrip().endswith("?") else ""
    return ""


def _answered(text: str, past: list[Exchange], tools: frozenset[str], day: date) -> Followup | None:
    """An answer to the question the last turn asked back."""
    from chat_app.llm.answers import answer_args, asked_for, chosen_option

    last = past[-1]
    if yes_no(text) is not None:
        return None
    tool = last.tool
    if not tool:
        if not _ASKED_WHO.search(last.answer) or is_new_request(text, tools, day):
            return None
        tool = "place_call"
        last = Exchange(user=last.user, tool=tool, answer=last.answer)
    slots = asked_for(last.answer, tool)
    for slot in (s for s in slots if s.typed):
        if found := answer_args(slot, text, tool, day, last.answer):
            # 'hang up' to 'leave a voicemail or hang up?': the answer, not a new request
            return Followup(last.tool, {**last.args, **found})
    if not _asked_back(last) and not slots:
        return None
    if is_new_request(text, tools, day):
        return None  # routed on its own, whatever was asked
    if last.tool == "record_consent" and _ASKED_WORDING.search(last.answer):
        wording = text.strip().strip("\"'“”‘’").strip()
        return Followup(last.tool, {**_without(last.args, "wording"), "wording": wording})
    if last.tool in ("estimate_purchase", "buy_credits") and _ASKED_COUNTRY.search(last.answer):
        from chat_app.llm.offline_router.billing import purchase_args

        place = {k: v for k, v in purchase_args(f"for {text}").items() if k != "package" and v}
        if "country" in place:
            return Followup(last.tool, {**last.args, **place})
        return None
    if last.tool == "place_call" and _ASKED_WHO.search(last.answer):
        routed = _route(f"call {text}", tools, day)
        if routed is not None and routed[0] == "place_call" and routed[1].get("contact"):
            return Followup("place_call", routed[1])
        return None
    key = PERSON_ARG.get(tool)
    if key is not None and _ASKED_WHICH.search(last.answer) and len(text.split()) <= 6:
        picked = chosen_option(text, last.answer)  # 'the first one' among those listed
        return Followup(last.tool, {**last.args, key: picked.strip(" ?.!")})
    for slot in (s for s in slots if not s.typed):
        if found := answer_args(slot, text, tool, day, last.answer):
            return Followup(last.tool, {**last.args, **found})  # a purpose, a source, a reason
    return None


def _asked_back(last: Exchange) -> bool:
    """Whether the last turn ended with one of the questions `_answered` can fill."""
    return any(
        pattern.search(last.answer)
        for pattern in (_ASKED_WORDING, _ASKED_COUNTRY, _ASKED_WHO, _ASKED_WHICH)
    )


def _asked_to_confirm(last: Exchange) -> bool:
    return last.tool in WRITE_TOOLS and (
        last.answer.rstrip().endswith("?") or last.answer.startswith("Nothing done yet")
    )


def _confirmed(
    text: str, past: list[Exchange], tools: frozenset[str], day: date
) -> Followup | None:
    """Yes / no to the confirmation the last turn asked for."""
    answer = yes_no(text)
    if answer is None or not _asked_to_confirm(past[-1]):
        return None
    if not answer:
        return Followup(reply=NOTHING_DONE)
    return Followup(past[-1].tool, dict(past[-1].args))


def _again(text: str, past: list[Exchange], tools: frozenset[str], day: date) -> Followup | None:
    """'again', 'do it again': the previous tool call once more."""
    if not _AGAIN_ONLY.match(text):
        return None
    last = next((e for e in reversed(past) if e.tool), None)
    if last is None or last.tool is None:
        return None
    call = last.about.get("call")
    if last.tool in CALL_ARG and call:
        # 'how did it go?' → 'again': the call asked about, placed once more
        placed = next(
            (e for e in reversed(past) if e.tool == "place_call" and e.about.get("call") == call),
            None,
        )
        if placed is not None:
            return Followup("place_call", dict(placed.args))
    return Followup(last.tool, dict(last.args))


def _changed(text: str, past: list[Exchange], tools: frozenset[str], day: date) -> Followup | None:
    """'and last week?', 'what about Riley?': the previous tool call with one argument
    changed (a period, or the person it was about)."""
    from chat_app.llm.offline_router.dates import expand_shorthand, period_named
    from chat_app.llm.offline_router.entities import person_names

    match = _CHANGE.match(text)
    last = next((e for e in reversed(past) if e.tool), None)
    if match is None and len(text.split()) <= 4 and period_named(text, day):
        match = _CHANGE.match(f"and {text}")  # 'last week?' alone: the period changed
    if match is None or last is None or last.tool is None or len(text.split()) > 8:
        return None
    rest = re.sub(
        r"(?:[\s,]+(?:pls|plz|please|thanks|thx|only|alone|instead))+$",
        "",
        match.group("rest"),
        flags=re.I,
    )
    if _REQUEST_OPENING.match(rest):
        return None  # 'now call Jordan Lee about …' is a request of its own
    rest = re.sub(r"[\s,]+(?:too|as well|also)$", "", rest, flags=re.I)
    args = dict(last.args)
    if last.tool in CAMPAIGN_TOOLS and (aspect := _CAMPAIGN_ASPECT.fullmatch(rest.strip(" ?.!"))):
        # 'and the results?' after its status: the same campaign, the other question
        other = "campaign_results" if aspect.group("results") else "campaign_status"
        return Followup(other, {k: v for k, v in args.items() if k == "campaign"})
    if last.tool in CAMPAIGN_TOOLS:
        # 'and the webinar follow-up one?': the same question about another campaign
        campaign = re.sub(
            r"^(?:the|my|our)\s+|\s+(?:campaign|one)$", "", rest.strip(" ?.!"), flags=re.I
        )
        return Followup(last.tool, {**args, "campaign": campaign}) if campaign else None
    key = PERSON_ARG.get(last.tool)
    if key is not None and (number := _PHONE.fullmatch(rest.strip(" ?.!"))):
        return Followup(last.tool, {**args, key: number.group(0)})  # 'and 312-555-0148 too'
    if last.tool == "analytics" and _WHOLE_TEAM.fullmatch(rest.strip(" ?.!")):
        return Followup(last.tool, _without(args, "rep")) if "rep" in args else None
    period = period_named(rest, day)
    if period:
        if last.tool not in PERIOD_TOOLS:
            return None
        args["period"] = period
        rest = _strip_period(expand_shorthand(rest))  # 'same for ytd': nothing else changed
    if rest:
        names = person_names(rest)
        name = names[0][0] if names else _bare_name(rest)
        key = PERSON_ARG.get(last.tool)
        if name is None or key is None:
            return None if not period else Followup(last.tool, args)
        args[key] = name
        if key == "rep" and args.get("dimension") == "rep":
            args.pop("dimension")
    elif not period:
        return None
    return Followup(last.tool, args)


CAMPAIGN_TOOLS = frozenset(
    {"pause_campaign", "resume_campaign", "cancel_campaign", "campaign_status", "campaign_results"}
)
_PHONE = re.compile(r"\+?\(?\d[\d\s().-]{6,}\d")
_CAMPAIGN_ASPECT = re.compile(
    r"(?:the\s+|its\s+|their\s+)?(?:(?P<results>results?|numbers|outcomes?|final numbers)"
    r"|status|progress)(?:\s+so\s+far)?",
    re.IGNORECASE,
)
_WHOLE_TEAM = re.compile(
    r"(?:the\s+)?(?:whole|entire)\s+(?:team|company|workspace|org)|everyone|everybody|all reps"
    r"|all the reps|the team|team|overall|all of us|company wide|team wide",
    re.IGNORECASE,
)

_STATUS_ONLY = re.compile(
    r"^(?:(?:ok|okay|and|just|now|so)\s+)*(?:only|just|show(?: me)?(?: only)?|what about|and)\s+"
    r"(?:the\s+)?(?P<status>failed|busy|unanswered|no[- ]answer|missed|completed|finished"
    r"|in progress|ongoing)(?:\s+(?:ones|calls))?\s*(?:pls|please)?[?.!]*$",
    re.IGNORECASE,
)
_STATUS_NAMES = {"unanswered": "no answer", "no-answer": "no answer", "missed": "no answer"}
_STATUS_NAMES |= {"finished": "completed", "ongoing": "in progress"}


def _refined(text: str, past: list[Exchange], tools: frozenset[str], day: date) -> Followup | None:
    """'only the failed ones' (after a list of calls), 'same but as a bar chart', 'by rep',
    'and for France?' (after an estimate): the previous tool call, narrowed or redrawn."""
    last = next((e for e in reversed(past) if e.tool), None)
    if last is None or last.tool is None or len(text.split()) > 8:
        return None
    if last.tool == "list_calls" and (status := _STATUS_ONLY.match(text)):
        word = status.group("status").lower().replace("no answer", "no-answer")
        return Followup(last.tool, {**last.args, "status": _STATUS_NAMES.get(word, word)})
    if last.tool in ("list_calls", "list_contacts") and _NARROWED.match(text):
        narrowed = _narrowed(last.tool, text, day)
        if narrowed:
            return Followup(last.tool, {**last.args, **narrowed})
    if last.tool == "analytics":
        return _redrawn(text, last)
    change = _CHANGE.match(text)
    if last.tool in ("estimate_purchase", "buy_credits") and change is not None:
        from chat_app.llm.offline_router.billing import catalog_packages, purchase_args

        where = f"for {change.group('rest')}"
        place = {k: v for k, v in purchase_args(where).items() if k != "package" and v}
        packages = catalog_packages(change.group("rest").lower())
        if len(packages) == 1:  # 'what about the pro pack': another package, same place
            place["package"] = packages[0]
        kept = dict(last.args)
        if "country" in place and "postal_code" not in place:
            kept.pop("postal_code", None)  # another country: the old postal code is not in it
        return Followup(last.tool, {**kept, **place}) if place else None
    if last.tool == "list_contacts" and change is not None and len(text.split()) <= 5:
        # 'and for acme?' after the contacts at Globex: the same list for another company
        query = re.sub(
            r"^(?:the\s+(?:ones\s+)?(?:at|from)\s+|(?:at|from)\s+|the\s+)",
            "",
            change.group("rest").strip(" ?.!"),
            flags=re.I,
        )
        if query and not _REQUEST_OPENING.match(query) and "query" in last.args:
            return Followup(last.tool, {**last.args, "query": query})
    if last.tool == "search_calls" and change is not None and len(text.split()) <= 5:
        # 'and pricing?' after a search: the same search for other words (a person named
        # instead was read by `_changed`).
        query = re.sub(r"^(?:the|a|an)\s+", "", change.group("rest").strip(" ?.!"), flags=re.I)
        return Followup(last.tool, {**last.args, "query": query}) if query else None
    return None


# 'just the ones we've never called', 'only the no-answers': the same list, narrowed.
_NARROWED = re.compile(
    r"^(?:(?:ok|okay|and|now|so|but)[\s,]+)*(?:just|only|show only|show me only|now only"
    r"|filter (?:to|for|by)|narrow (?:it )?(?:to|down to))\b",
    re.IGNORECASE,
)


def _narrowed(tool: str, text: str, day: date) -> dict[str, Any]:
    """The filters a narrowing message adds to a list (its tool's own extractor)."""
    from chat_app.llm.offline_router.calls import list_calls_args
    from chat_app.llm.offline_router.contacts_admin import list_contacts_args

    if tool == "list_calls":
        found = list_calls_args(re.sub(r"\bno[- ]answers\b", "no answer", text, flags=re.I), day)
        return {k: v for k, v in found.items() if k in ("status", "period", "limit")}
    found = list_contacts_args(text, day)
    return {k: v for k, v in found.items() if k in ("called", "consent")}


# What a redraw says besides the chart or the breakdown (nothing else may be left).
_REDRAW_LEFT = re.compile(
    r"\b(?:same|but|and|ok|okay|now|then|so|can|could|you|u|make|it|show|me|draw|do|redo"
    r"|that|this|as|an?|the|in|into|with|pls|please|instead|chart|graph|plot|view|pie|donut"
    r"|doughnut|line|bar|bars|column|trend|by|per|each|every|for|split|broken|break|down"
    r"|rep|reps|day|days|daily|week|weekly|month|monthly|outcome|objection|hour|of|hourly"
    r"|time|company|account|team|member)\b|[^\w\s]|\s+"
)


def _redrawn(text: str, last: Exchange) -> Followup | None:
    """The last analytics question as another chart or broken down another way, when the
    message asks for nothing but that ('as a pie', 'same but by rep')."""
    from chat_app.llm.offline_router.analytics import _DIMENSION_CUES, _METRIC_CUES
    from chat_app.llm.offline_router.analytics_charts import chart_kind

    lowered = " ".join(text.lower().split())
    metrics = [m for cue, m in _METRIC_CUES if re.search(cue, lowered)]
    change = _CHANGE.match(lowered)
    also = re.search(r"[\s,]+(?:too|as well|also)[?.!]*$", lowered)
    rest = change.group("rest") if change else lowered
    rest = re.sub(r"[\s,]+(?:too|as well|also)[?.!]*$", "", rest)
    for cue, _ in _METRIC_CUES:
        rest = re.sub(cue, " ", rest)
    if metrics and not (change or also or re.match(r"^(?:but\s+|ok\s+|now\s+)*same\b", lowered)):
        return None  # a new figure asked on its own: a request of its own
    if _REDRAW_LEFT.sub("", rest):
        return None  # more than a redraw: a request of its own
    args = dict(last.args)
    if metrics:
        # 'same for talk time', 'what about talk time': another figure, the same breakdown
        # and period; 'connect rate too': one more figure.
        before = list(last.args.get("metrics") or []) if also else []
        args["metrics"] = list(dict.fromkeys([*before, *metrics]))
    if kind := chart_kind(text):
        args["chart"] = kind
    dimension = next((d for cue, d in _DIMENSION_CUES if re.search(cue, lowered)), None)
    if dimension is not None:
        args["dimension"] = dimension
    return Followup(last.tool, args) if args != last.args else None


_PERIOD_WORDS = re.compile(
    r"\b(?:(?:this|last|past|previous|the\s+last|the\s+past|next)\s+(?:\d+\s+)?"
    r"(?:day|days|week|weeks|month|months|quarter|year|\w+day)|today|yesterday"
    r"|(?:since|in|during|for)\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|q[1-4]"
    r"|\d)\w*(?:\s+\d+)?)\b",
    re.IGNORECASE,
)


def _strip_period(text: str) -> str:
    return " ".join(_PERIOD_WORDS.sub(" ", text).replace(",", " ").split()).strip(" ?.!")


def _bare_name(text: str) -> str | None:
    """A short capitalised run ('Riley', 'Riley Chen') that names someone."""
    from chat_app.llm.offline_router.entities import plain_name

    words = text.strip(" ?.!,").split()
    if 1 <= len(words) <= 3 and all(w[:1].isupper() for w in words):
        return " ".join(words)
    if 1 <= len(words) <= 2 and " ".join(words).islower():
        return plain_name(" ".join(words))  # 'what about kwame?'
    return None


# When route() finds nothing for a message that refers back: its words name the tool.
_FALLBACK = (
    (re.compile(r"\b(?:say|said|says|transcript|words)\b", re.I), "get_transcript"),
    (re.compile(r"\b(?:recording|listen|hear)\b", re.I), "play_recording"),
    (re.compile(r"\b(?:status|ringing|still on|connected)\b", re.I), "call_status"),
    (re.compile(r"\b(?:go|went|summar\w*|recap|outcome|happen\w*)\b", re.I), "summarize_call"),
    (re.compile(r"\b(?:objections?|sentiment|insights?|mood|interested)\b", re.I), "call_insights"),
)


# A short question about a call's parts ('and the transcript?', 'play the recording of
# that'): about the call the conversation was last about.
_IMPLIED_CALL = re.compile(
    r"^(?:(?:and|ok|okay|so|now|also|what's|whats|what is|show|show me|play|get|pull up"
    r"|can i see|can i hear|let me see|let me hear)\s+)*(?:(?:the|its|the full)\s+)?(?:transcript"
    r"|recording|audio|insights|sentiment|objections|next steps)(?:\s+(?:of|for)\s+(?:that|it"
    r"|this))?\s*(?:pls|please)?[?.!]*$",
    re.IGNORECASE,
)


def _referred(text: str, past: list[Exchange], tools: frozenset[str], day: date) -> Followup | None:
    """A request that refers back ('call them again about the renewal', 'summarize that
    call', 'what did she say'): routed on its own, then the argument that refers back
    is set to the contact / call the conversation was last about."""
    person = _PERSON_REF.search(text)
    call_ref = _CALL_REF.search(text) or _IMPLIED_CALL.search(text)
    if person is None and call_ref is None:
        return None
    about = last_about(past)
    name, call = about.get("contact"), about.get("call")
    routed = _route(text, tools, day)
    if routed is None and _answered_without_a_tool(text, tools, day):
        return None  # not allowed, or a greeting: answered as routed, never asked who
    if routed is None:
        fallback = next((tool for pattern, tool in _FALLBACK if pattern.search(text)), None)
        if fallback is None or fallback not in tools:
            return None
        routed = (fallback, {})
    tool, args = routed
    filled = _from_earlier(tool, args, text, past, call)
    if filled is not None:
        return filled
    key = PERSON_ARG.get(tool)
    if key is None or key == "rep" or tool == "end_call":
        return None  # nothing in it names the person referred to (or: the call in progress)
    current = str(args.get(key) or "")
    # 'what did she say about pricing': her calls; 'where they mentioned …': anyone's.
    one_person = person is not None and person.group(0).lower() in _ONE_PERSON
    refers = _is_reference(current) or (not current and (tool != "search_calls" or one_person))
    if not refers:
        return None  # it names someone itself ('summarize the call with Dana')
    if not name:
        if person is None and tool in CALL_ARG:
            return None  # 'how did it go' with nothing before: their latest call
        ref = person or call_ref
        word = ref.group(0) if ref is not None else "that"
        return Followup(
            reply=f"Who do you mean by “{word}”? Tell me the contact's name. "
            "Nothing was done or charged."
        )
    if tool in CALL_ARG:
        possessive = person is not None and _POSSESSIVE.search(text) is not None
        args[key] = name if possessive or not call else call
    else:
        args[key] = name
    if tool == "place_call" and (
        (
            _AGAIN.search(text)
            and (
                args.get("purpose") in (None, "", DEFAULT_PURPOSE)
                or not _PURPOSE_GIVEN.search(text)
            )
        )
        or (args.get("purpose") == DEFAULT_PURPOSE and _ABOUT_THAT.search(text))
    ):
        earlier = _earlier_purpose(past, name)
        if earlier:
            args["purpose"] = earlier
        elif not _AGAIN.search(text):
            args["purpose"] = FOLLOW_UP_PURPOSE  # 'call her back about it', after her call
    return Followup(tool, args)


_ONE_PERSON = frozenset({"he", "she", "him", "her", "his", "hers"})
_THEM = re.compile(r"\b(?:them|they|those|these|em|all of them)\b", re.IGNORECASE)
_CALL_IN_PROGRESS = re.compile(r"\b(?:it|that|this|that call|the call)\b", re.IGNORECASE)


def _earlier_arg(past: Sequence[Exchange], key: str, tools: Iterable[str]) -> Any:
    """`key`'s value in the newest earlier call of one of `tools`, or None."""
    wanted = frozenset(tools)
    for exchange in reversed(past):
        if exchange.tool in wanted and exchange.args.get(key):
            return exchange.args[key]
    return None


def _from_earlier(
    tool: str, args: Mapping[str, Any], text: str, past: Sequence[Exchange], call: str | None
) -> Followup | None:
    """A reference that the conversation's earlier calls fill, beyond a person or a call:
    'pause it' (the campaign last asked about), 'ok buy it' (the package just
    estimated), 'hang it up' (the call just placed), 'start a campaign calling them'
    (the company whose contacts were just listed). None: nothing of the kind."""
    if tool in CAMPAIGN_TOOLS and not args.get("campaign"):
        name = _earlier_arg(past, "campaign", CAMPAIGN_TOOLS)
        return Followup(tool, {**args, "campaign": name}) if name else None
    if tool in ("buy_credits", "estimate_purchase") and not args.get("package"):
        quoted = ("estimate_purchase", "buy_credits", "list_packages")
        package = _earlier_arg(past, "package", quoted)
        if not package:
            return None
        found = {**args, "package": package}
        for key in ("country", "postal_code"):
            if not found.get(key) and (value := _earlier_arg(past, key, quoted)):
                found[key] = value
        return Followup(tool, found)
    if tool == "end_call" and not args.get("call") and call and _CALL_IN_PROGRESS.search(text):
        return Followup(tool, {**args, "call": call})
    last = next((e for e in reversed(past) if e.tool), None)
    if (
        tool == "end_call"
        and not call
        and last is not None
        and last.tool in (*CAMPAIGN_TOOLS, "create_campaign")
        and _CALL_IN_PROGRESS.search(text)
    ):
        # 'stop it' while a campaign is the subject: pause that campaign (no call is)
        name = _earlier_arg(past, "campaign", CAMPAIGN_TOOLS)
        return Followup("pause_campaign", {"campaign": name} if name else {})
    if (
        tool == "create_campaign"
        and not (args.get("company") or args.get("contacts"))
        and _THEM.search(text)
        and (company := _earlier_arg(past, "query", ("list_contacts",)))
    ):
        return Followup(tool, {**args, "company": company})
    return None


def _is_reference(value: str) -> bool:
    """Whether an extracted argument is a word referring back, not a name."""
    clean = value.strip().lower()
    return bool(clean) and (
        bool(_OBJECT.fullmatch(clean))
        or bool(_CALL_REF.fullmatch(clean))
        or clean in ("it", "that", "this", "that one", "this one", "same", "the same", "em", "'em")
        or bool(re.fullmatch(r"(?:his|her|their)(?:\s+\w+){0,2}", clean))
    )


def _earlier_purpose(past: Sequence[Exchange], name: str) -> str | None:
    """The purpose of the last call proposed to `name` in this conversation."""
    for exchange in reversed(past):
        if exchange.tool == "place_call" and exchange.about.get("contact") == name:
            purpose = exchange.args.get("purpose")
            return str(purpose) if purpose else None
    return None


def _without(args: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in keys}


# --- a confirmation answered in a live conversation -------------------------------------


@dataclass(frozen=True)
class Answered:
    """A yes / no that answered the conversation's proposal: the messages to store with
    the thread (the tool call, its result with what it was about, the answer) and the
    tool call as the turn reports it."""

    messages: list[BaseMessage]
    calls: list[ToolCallRecord]


async def answer_confirmation(ctx: AgentContext, text: str) -> Answered | None:
    """Answer the conversation's newest proposal when `text` is a plain yes or no to it
    (a reload, or another process, may have come in between): a proposal still pending
    is decided (tools.actions.decide: at most once); one that expired unanswered, or
    was already answered, is said to be so — nothing runs. None when `text` is not a
    yes / no or the conversation has no proposal it can answer (the model handles it)."""
    from chat_app.turns import ToolCallRecord
    from tools import actions
    from tools.models import ActionStatus

    answer = yes_no(text)
    if answer is None or ctx.thread_id is None:
        return None
    newest = await actions.last_action(ctx, ctx.thread_id)
    if newest is None:
        return None
    if newest.status is ActionStatus.PENDING and not newest.expired:
        result, artifact = await actions.decide_noting(ctx, newest.id, yes=answer)
    elif not await _last_turn_was_about(ctx, newest.id, newest.message_id):
        return None  # an "ok" long after the proposal was settled is not an answer to it
    elif newest.expired:
        await actions.expire_unanswered(ctx, ctx.thread_id)
        result, artifact = actions.EXPIRED, None
    else:
        result, artifact = actions.ALREADY_ANSWERED, None
    messages, record = _answer_messages(newest.tool, newest.id, answer, result, artifact)
    return Answered(messages, [ToolCallRecord(record.id, record.name, record.args, result)])


async def _last_turn_was_about(
    ctx: AgentContext, action_id: uuid.UUID, proposed_in: str | None
) -> bool:
    """Whether the conversation's turn before this one proposed the action or answered
    it (a "yes" right after it refers to it; one many turns later does not)."""
    from sqlalchemy import select

    from chat_app.models import AssistantTurn

    async with ctx.db.session() as session:
        row = (
            await session.execute(
                select(AssistantTurn.message_id, AssistantTurn.tool_calls)
                .where(
                    AssistantTurn.thread_id == ctx.thread_id,
                    AssistantTurn.message_id != (ctx.message_id or ""),
                )
                .order_by(AssistantTurn.created_at.desc())
                .limit(1)
            )
        ).one_or_none()
    if row is None:
        return False
    answered = any(
        isinstance(call, dict) and (call.get("args") or {}).get("proposal") == str(action_id)
        for call in row.tool_calls or []
    )
    return row.message_id == proposed_in or answered


@dataclass(frozen=True)
class _Call:
    id: str
    name: str
    args: dict[str, Any]


def _answer_messages(
    tool: str, action_id: uuid.UUID, yes: bool, result: str, artifact: dict[str, Any] | None
) -> tuple[list[BaseMessage], _Call]:
    """The thread's record of a yes / no to a proposal: the tool call it answered (its
    arguments name the proposal), the result with what it was about, the answer."""
    call = _Call(
        f"call_{uuid.uuid4().hex[:24]}",
        tool,
        {"answer": "yes" if yes else "no", "proposal": str(action_id)},
    )
    messages: list[BaseMessage] = [
        AIMessage(
            content="",
            tool_calls=[{"name": tool, "args": call.args, "id": call.id, "type": "tool_call"}],
        ),
        ToolMessage(content=result, tool_call_id=call.id, name=tool, artifact=artifact),
        AIMessage(content=result),
    ]
    return messages, call


async def record_decision(
    ctx: AgentContext,
    action_id: uuid.UUID,
    *,
    yes: bool,
    result: str,
    artifact: dict[str, Any] | None,
) -> None:
    """Store a button's answer to a proposal (pressed outside any turn: after a reload)
    in the proposal's conversation, as if the user had typed it, so that what it did —
    the call it placed — is what the conversation is about next."""
    from sqlalchemy import insert, select

    from chat_app.models import AssistantMessage
    from chat_app.turns import _lock_thread, _next_seq
    from tools.models import PendingAction

    async with ctx.db.session() as session:
        row = (
            await session.execute(
                select(PendingAction.tool, PendingAction.thread_id).where(
                    PendingAction.id == action_id, PendingAction.user_id == ctx.actor.user_id
                )
            )
        ).one_or_none()
        if row is None or row.thread_id is None:
            return
        said = HumanMessage(content="yes" if yes else "no", id=f"button-{uuid.uuid4().hex}")
        messages, _ = _answer_messages(row.tool, action_id, yes, result, artifact)
        await _lock_thread(session, row.thread_id)
        seq = await _next_seq(session, row.thread_id)
        await session.execute(
            insert(AssistantMessage),
            [
                {"thread_id": row.thread_id, "seq": seq + offset, "message": stored}
                for offset, stored in enumerate(messages_to_dict([said, *messages]))
            ],
        )
        await session.commit()
