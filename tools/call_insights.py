"""call_insights and summarize_call: what a finished call amounted to.

Insights are written by the worker when a call ends; for a call that has ended but
has none yet they are written now. They are AI-generated (or rule-based offline) and
labelled as possibly inaccurate."""

from __future__ import annotations

from langchain.tools import ToolRuntime

from core.errors import KloseError, NotFound
from core.markdown import md_escape
from core.settings import get_settings
from insights.extract import LABEL, OUTCOME_LABELS
from insights.models import CallInsight
from insights.service import describe, generate_insights, get_insights
from telephony.models import Call, CallStatus
from tools.actions import read_tool
from tools.call_refs import resolve_call
from tools.context import AgentContext
from tools.metering import done


async def _insights(ctx: AgentContext, call: str | None) -> tuple[Call, CallInsight] | str:
    try:
        async with ctx.db.session() as session:
            found = await resolve_call(session, ctx.actor, call)
            try:
                return found, await get_insights(session, ctx.actor, found.id)
            except NotFound:
                pass
        if not CallStatus(found.status).terminal:
            return (
                f"Call {str(found.id)[:8]} is still {CallStatus(found.status).label}; "
                "its summary is written when it ends."
            )
        # Imported here: telephony.views pulls in FastAPI, which a CLI answer rarely needs.
        from telephony.views import openai_config

        written = await generate_insights(ctx.db, found.id, openai=openai_config(get_settings()))
        return found, written
    except KloseError as exc:
        return str(exc)


@read_tool(billable=True)
async def call_insights(runtime: ToolRuntime[AgentContext], call: str | None = None) -> str:
    """A call's insights: summary, outcome, objections (price, timing, competitor,
    authority, need), next steps and sentiment. `call` is a call id (or its first 8
    characters), a contact's name or number (their latest call), or empty for the
    latest call."""
    result = await _insights(runtime.context, call)
    if isinstance(result, str):
        return result
    found, insight = result
    return done(f"Call {str(found.id)[:8]}:\n{describe(insight)}")


@read_tool(billable=True)
async def summarize_call(runtime: ToolRuntime[AgentContext], call: str | None = None) -> str:
    """A short summary of a call and its outcome. `call` is a call id (or its first 8
    characters), a contact's name or number (their latest call), or empty for the
    latest call."""
    result = await _insights(runtime.context, call)
    if isinstance(result, str):
        return result
    found, insight = result
    outcome = OUTCOME_LABELS.get(insight.outcome, insight.outcome)
    summary = md_escape(insight.summary)
    return done(f"{LABEL}.\nCall {str(found.id)[:8]}: {summary}\nOutcome: {outcome}.")
