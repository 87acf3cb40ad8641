"""What every tool receives from the agent runtime, hidden from the model."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from accounts.otp import OtpProvider
from accounts.service import Actor
from billing.payments import Payments
from core.db import Database
from telephony.provider import Telephony

# Asks the user a yes/no question (buttons in chat, a prompt in the CLI).
Confirm = Callable[[str], Awaitable[bool]]
# Asks the user for a short text answer (a code); None when they did not answer.
Ask = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True)
class Artifact:
    """Something a tool made for the user besides its text: a chart or a file. The chat
    shows it under the answer; the CLI lists it in `--json` output."""

    kind: Literal["plotly", "file"]
    name: str
    content: Any  # a plotly Figure, or the file's text
    mime: str = "text/plain"


@dataclass(frozen=True)
class AgentContext:
    actor: Actor
    db: Database
    # Credits held for the answer being produced (shown by check_credits).
    pending_query_mc: int = 0
    # `klosesales ask --yes`: confirmations are answered yes.
    auto_confirm: bool = False
    confirm: Confirm | None = None
    payments: Payments | None = None
    otp: OtpProvider | None = None
    ask: Ask | None = None
    # Where links in answers point (the server's public URL).
    base_url: str = "http://127.0.0.1:8000"
    telephony: Telephony | None = None
    # Called with a call's id once place_call has placed it (the chat shows progress).
    watch_call: Callable[[uuid.UUID], Awaitable[None]] | None = None
    # Charts and files the tools made during this answer.
    artifacts: list[Artifact] = field(default_factory=list)

    async def confirmed(self, question: str) -> bool:
        if self.auto_confirm:
            return True
        if self.confirm is None:
            return False
        return await self.confirm(question)

    async def ask_text(self, question: str) -> str | None:
        return None if self.ask is None else await self.ask(question)

    def require_otp(self) -> OtpProvider:
        if self.otp is None:
            raise RuntimeError("verification codes are not configured in this process")
        return self.otp

    def require_telephony(self) -> Telephony:
        if self.telephony is None:
            raise RuntimeError("telephony is not configured in this process")
        return self.telephony

    def require_payments(self) -> Payments:
        if self.payments is None:
            raise RuntimeError("payments are not configured in this process")
        return self.payments
