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
from tools.metering import QueryMeter

# Asks the user a yes/no question (buttons in chat, a prompt in the CLI): True for yes,
# False for no, None when no answer came (the page was reloaded, the time ran out).
Confirm = Callable[[str], Awaitable[bool | None]]
# Asks the user for a short text answer (a code); None when they did not answer.
Ask = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True)
class Artifact:
    """Something a tool made for the user besides its text: a chart or a file. The chat
    shows it under the answer; the CLI lists it in `--json` output."""

    kind: Literal["plotly", "file", "audio"]
    name: str
    content: Any  # a plotly Figure, the file's text, or the audio's URL on this app
    mime: str = "text/plain"


def squash(text: str) -> str:
    """`text` with runs of white space as one space, trimmed."""
    return " ".join(text.split())


@dataclass(frozen=True)
class AgentContext:
    actor: Actor
    db: Database
    # The answer's price, reserved and charged only for billable work (tools.metering);
    # None outside a turn (a confirmation answered later meters itself).
    meter: QueryMeter | None = None
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
    # The conversation and the message being answered (None outside a turn).
    thread_id: uuid.UUID | None = None
    message_id: str | None = None
    # What the user typed or pasted in this conversation: their messages, and their
    # answers to `ask_text`. Evidence a tool quotes (consent wording) must come from here.
    user_texts: list[str] = field(default_factory=list)

    async def confirmed(self, question: str) -> bool | None:
        """The user's answer to `question`: True, False, or None when nobody answered
        (no one to ask, a reload, the time ran out). `--yes` in the CLI is a yes."""
        if self.auto_confirm:
            return True
        if self.confirm is None:
            return None
        return await self.confirm(question)

    async def ask_text(self, question: str) -> str | None:
        """A short text typed by the user in answer to `question` (None: no answer)."""
        answer = None if self.ask is None else await self.ask(question)
        if answer and answer.strip():
            self.user_texts.append(answer)
        return answer

    def user_wrote(self, text: str) -> bool:
        """Whether `text` appears verbatim (spacing aside) in something the user typed
        or pasted in this conversation."""
        wanted = squash(text)
        return bool(wanted) and any(wanted in squash(said) for said in self.user_texts)

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
