"""Insights' job: write a call's insights once it has ended (queued by the call service)."""

from __future__ import annotations

import logging
import uuid

import procrastinate

from core.db import Database
from core.errors import NotFound
from insights.models import CallInsight
from insights.service import generate_insights
from integrations.webhooks import emit
from telephony.voice.agent import OpenAIConfig

log = logging.getLogger(__name__)


async def insights_ready(db: Database, insight: CallInsight) -> None:
    """Tell the workspace's webhook receivers (`call.insights_ready`, once per call);
    a failure is logged, the insights stay written."""
    try:
        async with db.session() as session:
            await emit(
                session,
                insight.workspace_id,
                "call.insights_ready",
                {
                    "id": str(insight.call_id),
                    "ai_generated": True,
                    "summary": insight.summary,
                    "outcome": insight.outcome,
                    "sentiment": insight.sentiment,
                    "objections": list(insight.objections or ()),
                    "next_steps": list(insight.next_steps or ()),
                },
                dedupe_key=f"call.insights_ready:{insight.call_id}",
            )
            await session.commit()
    except Exception:
        log.exception("call.insights_ready for %s could not be emitted", insight.call_id)


def register(db: Database, openai: OpenAIConfig | None) -> procrastinate.Blueprint:
    """Insights' tasks bound to a database and model, as a blueprint for the job app.

    `generate_call_insights(call_id=...)` (queue "insights") writes or rewrites one
    call's insights; a call that does not exist is logged and dropped, not retried.
    """
    blueprint = procrastinate.Blueprint()

    @blueprint.task(
        name="generate_call_insights",
        queue="insights",
        pass_context=False,
        retry=procrastinate.RetryStrategy(max_attempts=3, wait=30),
    )
    async def generate_call_insights(call_id: str) -> None:
        try:
            stored = await generate_insights(db, uuid.UUID(call_id), openai=openai)
        except (NotFound, ValueError):
            log.warning("no call %r to write insights for", call_id)
            return
        log.info("insights for call %s written by %s", call_id, stored.generator)
        await insights_ready(db, stored)

    return blueprint
