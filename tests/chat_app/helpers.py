"""Shared by the chat tests: a rep in a workspace of their own with credits, and a
confirmation button that records its question and answers as told."""

from __future__ import annotations

import uuid

from accounts import service as accounts
from accounts.models import Role
from accounts.service import Actor
from billing import ledger
from core.db import Database


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


class Asked:
    """The confirmation button: records each question, answers as told."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[str] = []

    async def __call__(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer
