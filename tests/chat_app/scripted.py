"""An agent whose model asks for one given tool call and answers with its result: the
tools under test run exactly as in chat (runtime context, metering, confirmations),
whatever the offline router would have picked for the words."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import Field

from chat_app.agent import build_agent
from chat_app.llm.messages import message_text
from chat_app.llm.offline import OfflineChatModel


class ScriptedModel(OfflineChatModel):
    tool: str = ""
    args: dict[str, Any] = Field(default_factory=dict)

    def respond(self, messages: Sequence[BaseMessage]) -> AIMessage:
        results: list[ToolMessage] = []
        for message in reversed(messages):
            if isinstance(message, ToolMessage):
                results.append(message)
            elif isinstance(message, HumanMessage):
                break
        if results:
            return AIMessage(content="\n\n".join(message_text(m) for m in reversed(results)))
        call = {"name": self.tool, "args": self.args, "id": f"call_{uuid.uuid4().hex[:24]}"}
        return AIMessage(content="", tool_calls=[{**call, "type": "tool_call"}])


def scripted_agent(tool: str, **args: Any) -> Any:
    """The real agent graph, its model asking for `tool(**args)`."""
    return build_agent(ScriptedModel(tool=tool, args=args))
