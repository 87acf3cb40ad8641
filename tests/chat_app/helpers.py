"""Shared by the chat tests: a rep in a workspace of their own with credits, and a
confirmation button that records its question and answers as told, and Dana's earlier
call asking to be called back about the renewal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

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
