"""The offline chat model: a learned intent classifier and rules, no network, honest.

It implements `bind_tools`, so the same `create_agent` graph runs with it as with
OpenAI: a user message is routed to a tool call (see `offline_router`); the tool's
result comes back as the answer. What it won't or can't do is refused in a rep's words
(`offline_router.refusals`): not allowed, not possible, or not understood, with the
closest thing it can do. Only an admin (`admin=True`, set per request by the agent) is
told that the full assistant needs OPENAI_API_KEY.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from chat_app.llm import followups
from chat_app.llm.messages import message_text
from chat_app.llm.offline_router import refusals, route, small_talk
from chat_app.llm.offline_router.route import CHANGES, unsupported
from core.timezones import today_in

# tools.actions.KIND: where a declared tool says whether it reads or writes.
WRITE_KIND_KEY = "klosesales_tool_kind"
CAPABILITIES = refusals.capabilities(admin=False)
GREETING = refusals.greeting(admin=False)


def _tool_name(tool: dict[str, Any] | type | Callable[..., Any] | BaseTool) -> str:
    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, dict) and "function" in tool:
        return str(tool["function"]["name"])
    return str(convert_to_openai_tool(tool)["function"]["name"])


class OfflineChatModel(BaseChatModel):
    """A deterministic stand-in for a chat model, used when no API key is set."""

    tool_names: frozenset[str] = frozenset()
    # Whether the user is a platform admin (the only one told about OPENAI_API_KEY).
    admin: bool = False
    # The user's IANA time zone: "today", "this week" … are that zone's (set per request).
    time_zone: str = "UTC"
    # A fixed day for evaluations and tests; None: today in `time_zone`.
    today: date | None = None
    # The user's own country (ISO code): phone numbers typed nationally are read as its.
    region: str = "US"
    # The bound tools that write (declared so in tools.actions): never for a question.
    write_tools: frozenset[str] = frozenset()
    # Names of the user's contacts and reps, when the caller knows them: a name typed
    # with a typo is matched to one of these (offline_router.slots).
    known_names: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "klosesales-offline"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        names = frozenset(_tool_name(t) for t in tools)
        if names == self.tool_names:
            return self  # the agent binds the same tools on every model call
        writes = frozenset(
            t.name
            for t in tools
            if isinstance(t, BaseTool) and (t.metadata or {}).get(WRITE_KIND_KEY) == "write"
        )
        return self.model_copy(update={"tool_names": names, "write_tools": writes})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.respond(messages))])

    def declined(self, text: str) -> str:
        """Why `text` was not acted on: not possible (no tool does it) or not understood."""
        if unsupported(text):
            return refusals.not_possible(text)
        return refusals.not_understood(admin=self.admin)

    def respond(self, messages: Sequence[BaseMessage]) -> AIMessage:
        # Tool results since the last user message: answer with them.
        results: list[ToolMessage] = []
        for message in reversed(messages):
            if isinstance(message, ToolMessage):
                results.append(message)
            elif isinstance(message, HumanMessage):
                break
        if results:
            return AIMessage(content="\n\n".join(message_text(m) for m in reversed(results)))

        last_human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        if last_human is None:
            return AIMessage(content=refusals.capabilities(admin=self.admin))
        text = message_text(last_human)
        refused = refusals.unsafe_refusal(text)
        if refused is not None:
            return AIMessage(content=refused)  # not allowed: never routed to a tool
        # A follow-up ('call them again', 'and last week?', 'yes', an answer to the
        # question asked) is read against the conversation before routing on its own.
        day = self.today or today_in(self.time_zone)
        followup = followups.resolve(messages, self.tool_names, today=day)
        if followup is not None:
            return followup.message()
        said = small_talk.reply(text)  # thanks, a stray "yes", what a call would cost
        if said is not None:
            return AIMessage(content=said)
        chosen = route(
            text,
            self.tool_names,
            today=day,
            region=self.region,
            changing=CHANGES | self.write_tools,
            contacts=self.known_names,
        )
        if chosen is None:
            return AIMessage(content=self.declined(text))
        if chosen.intent.tool is None:
            return AIMessage(content=chosen.intent.reply or refusals.greeting(admin=self.admin))
        return AIMessage(
            content="",
            tool_calls=[
                {
                    "name": chosen.intent.tool,
                    "args": chosen.args,
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "tool_call",
                }
            ],
        )
