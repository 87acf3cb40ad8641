"""What every tool receives from the agent runtime, hidden from the model."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.service import Actor
from core.db import Database


@dataclass(frozen=True)
class AgentContext:
    actor: Actor
    db: Database
    # Credits held for the answer being produced (shown by check_credits).
    pending_query_mc: int = 0
    # `klosesales ask --yes`: confirmations are answered yes.
    auto_confirm: bool = False
