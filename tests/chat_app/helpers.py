"""Shared by the chat tests: a rep in a workspace of their own with credits, and a
confirmation button that records its question and answers as told, and Dana's earlier
call asking to be called back about the renewal."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from accounts import service as accounts
from accounts.models import Role
from accounts.service import Actor
from billing import ledger
from core.db import Database
from telephony.models import Contact
from tests.insights.helpers import seed_call
from tests.telephony.helpers import add_contact, number_callable_now


async def funded_rep(db: Database, credits_mc: int) -> Actor:
    async with db.session() as s:
        ws = await accounts.create_workspace(s, "Chat Co")
        user = await accounts.create_user(
            s,
            workspace=ws,
            email=f"rep-{uuid.uuid4().hex[:8]}@example.test",
            name="Rep",
            password="correct horse",
            role=Role.REP,
        )
        if credits_mc:
            await ledger.grant(
                s, ws.id, amount_mc=credits_mc, idempotency_key=f"g:{ws.id}", source="test"
            )
        await s.commit()
        return Actor.of(user)


async def seed_dana_renewal(db: Database, actor: Actor) -> tuple[Contact, uuid.UUID]:
    """Dana Whitfield (callable now) in `actor`'s contacts, and the id of her interested
    call of three hours ago in which she asked to be called about the renewal."""
    dana = await add_contact(db, actor, name="Dana Whitfield", phone=number_callable_now())
    call_id = await seed_call(
        db,
        dana,
        actor.user_id,
        at=datetime.now(UTC) - timedelta(hours=3),
        duration_s=80,
        cost_mc=80_000,
        outcome="interested",
        turns=[
            ("agent", "Hi Dana, this is an AI assistant calling for Acme. It's recorded."),
            ("prospect", "The renewal is coming up; call me about it."),
        ],
        insight={
            "outcome": "interested",
            "summary": "Dana wants to talk about the renewal.",
            "objections": [],
            "next_steps": ["call about the renewal"],
        },
    )
    return dana, call_id


class Asked:
    """The confirmation button: records each question, answers as told."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[str] = []

    async def __call__(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer


def ask_cli(
    database: Database, data_dir: Path, base: str, email: str, text: str, *options: str
) -> str:
    """One `klosesales ask` process for `email` (stdin not a terminal: nobody confirms
    unless `--yes` is among `options`) against the server at `base` on the same data;
    it must exit 0. Its standard output."""
    env = {
        **os.environ,
        "DATABASE_URL": database.url.render_as_string(hide_password=False),
        "DATA_DIR": str(data_dir),
        "PUBLIC_BASE_URL": base,
        "SIM_CARRIER_ODDS": "answered=1",
        "SIM_CARRIER_PACE_S": "0.05",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("TWILIO_AUTH_TOKEN", "PADDLE_WEBHOOK_SECRET", "OPENAI_API_KEY"):
        env.pop(name, None)
    command = [sys.executable, "-m", "chat_app.cli", "ask", "--user", email, *options, text]
    proc = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout
