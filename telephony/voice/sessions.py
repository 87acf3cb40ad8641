"""The relay conversations live in this process, by call id.

Twilio's asynchronous answering-machine result arrives as a separate HTTP callback
while the call's websocket is open; the callback view finds the conversation here
and tells it. One process serves both (the websocket and the webhooks).
"""

from __future__ import annotations

import uuid
from typing import Protocol


class LiveConversation(Protocol):
    def machine_detected(self, answered_by: str) -> None: ...


class RelaySessions:
    def __init__(self) -> None:
        self._live: dict[uuid.UUID, LiveConversation] = {}

    def register(self, call_id: uuid.UUID, conversation: LiveConversation) -> None:
        self._live[call_id] = conversation

    def unregister(self, call_id: uuid.UUID, conversation: LiveConversation) -> None:
        if self._live.get(call_id) is conversation:
            del self._live[call_id]

    def on_machine(self, call_id: uuid.UUID, answered_by: str) -> None:
        conversation = self._live.get(call_id)
        if conversation is not None:
            conversation.machine_detected(answered_by)
