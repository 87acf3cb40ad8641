"""The analytics tool's answers as a manager reads them, over seeded calls: objections
ranked one per row, a connect rate with its counts, the chart kind asked for (or why
not), and a rep named as the caller ("Riley's calls") read as a rep — a contact's name
gets a pointer to the calls with that contact instead. The words a manager types reach
these arguments through chat_app/llm/offline_router/analytics_charts.py (checked last)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from accounts.models import Role
from accounts.service import Actor
from chat_app.llm.offline_router.analytics_charts import analytics_request_args
from core.db import Database
from tests.accounts.helpers import make_member
from tools.analytics import analytics
from tools.context import AgentContext, Artifact

from .helpers import make_contact, seed_call


@dataclass
class _Runtime:
    context: AgentContext


async def _ask(db: Database, actor: Actor, **args: Any) -> tuple[str, list[Artifact]]:
    context = AgentContext(actor=actor, db=db)
    answer = await analytics.coroutine(runtime=_Runtime(context), **args)  # type: ignore[attr-defined]
    if isinstance(answer, tuple):  # (content, artifact) when the tool declares one
        answer = answer[0]
    return str(answer), context.artifacts


async def _team(db: Database) -> tuple[Actor, Actor]:
    """A manager and rep Riley Quinn; Riley placed 3 calls (2 connected) in the last 24 h,
    objections: price twice, timing once; the manager called once (no answer)."""
    manager = await make_member(db, Role.MANAGER)
    riley = await make_member(db, Role.REP, workspace_id=manager.actor.workspace_id)
    async with db.session() as session:
        await session.execute(
            text("UPDATE users SET name = 'Riley Quinn' WHERE id = :id"),
            {"id": riley.actor.user_id},
        )
        await session.commit()
    dana = await make_contact(db, riley.actor, name="Dana Price", company="Acme")
    at = datetime.now(UTC) - timedelta(hours=2)
    uid = riley.actor.user_id
    ins = {"outcome": "interested", "objections": ["price", "timing"]}
    await seed_call(db, dana, uid, at=at, duration_s=120, insight=ins)
    ins2 = {"outcome": "not_interested", "objections": ["price"]}
    await seed_call(db, dana, uid, at=at, duration_s=60, insight=ins2)
    await seed_call(db, dana, uid, at=at, status="no-answer", duration_s=0, outcome="no_answer")
    await seed_call(
        db, dana, manager.actor.user_id, at=at, status="busy", duration_s=0, outcome="busy"
    )
    return manager.actor, riley.actor


async def test_answers_a_manager_can_read(db: Database) -> None:
    manager, _ = await _team(db)

    answer, artifacts = await _ask(db, manager, metrics=["objections"], period="last 7 days")
    lines = answer.splitlines()
    assert "| Objection | Calls |" in lines
    assert lines.index("| Price | 2 |") < lines.index("| Timing | 1 |")  # ranked
    assert "objection:" not in answer
    figure = next(a.content for a in artifacts if a.kind == "plotly")
    (bars,) = figure.data
    assert list(bars.y)[:2] == ["Price", "Timing"] and list(bars.x)[:2] == [2.0, 1.0]

    answer, artifacts = await _ask(
        db, manager, metrics=["connect_rate"], dimension="rep", period="last 7 days"
    )
    assert "| Rep | Connect rate | Connected calls | Calls |" in answer
    assert "| Riley Quinn | 66.7% | 2 | 3 |" in answer
    figure = next(a.content for a in artifacts if a.kind == "plotly")
    assert figure.layout.xaxis.ticksuffix == "%" and tuple(figure.layout.xaxis.range) == (0, 100)
    assert figure.data[0].text[0] == "66.7% · 2 of 3 connected"

    answer, artifacts = await _ask(
        db, manager, metrics=["connect_rate"], dimension="day", period="last 7 days", chart="pie"
    )
    assert "A pie shows how one total splits into parts" in answer and "line chart" in answer
    assert all(t.type != "pie" for a in artifacts if a.kind == "plotly" for t in a.content.data)

    answer, artifacts = await _ask(
        db, manager, metrics=["calls"], dimension="outcome", period="last 7 days", chart="pie"
    )
    assert "A pie chart and a CSV download are attached." in answer
    (pie,) = next(a.content for a in artifacts if a.kind == "plotly").data
    assert pie.type == "pie" and "Not interested" in list(pie.labels)


async def test_a_reps_name_reads_as_the_rep_and_a_contacts_name_gets_a_pointer(
    db: Database,
) -> None:
    manager, _ = await _team(db)
    today = date.today()
    args = analytics_request_args("show me Riley's calls last week", today)
    assert args["rep"] == "Riley" and args["metrics"] == ["calls"]
    assert analytics_request_args("calls by Riley last week", today)["rep"] == "Riley"
    assert "rep" not in analytics_request_args("calls by day last week", today)
    assert analytics_request_args("top objections this month as a pie", today)["chart"] == "pie"

    args = analytics_request_args("show me Riley's calls", today) | {"period": "last 7 days"}
    answer, _ = await _ask(db, manager, **args)
    assert "that rep's calls" in answer and "| Calls |" in answer
    assert "| 3 |" in answer  # Riley's three calls, not the team's
    # Asked for the overview, the same rep's figures side by side.
    overview = {"metrics": ["calls", "connect_rate", "talk_time_s", "connected"]}
    answer, _ = await _ask(db, manager, **(args | overview))
    assert "| Calls | Connect rate | Talk time (min) | Connected calls |" in answer
    assert "| 3 | 66.7% | 3.0 | 2 |" in answer  # calls, connect rate, talk time, connected

    answer, artifacts = await _ask(db, manager, metrics=["calls"], rep="Dana", period="today")
    assert "no rep matching 'Dana'" in answer
    assert "Dana Price is one of your contacts" in answer and artifacts == []


def test_the_offline_router_sends_rep_and_chart_requests_to_analytics() -> None:
    from chat_app.agent import TOOLS
    from chat_app.llm.offline_router import route

    names = frozenset(t.name for t in TOOLS)
    for message, wanted in (
        ("show me Riley's calls", {"rep": "Riley"}),
        ("calls by Riley last week", {"rep": "Riley", "period": "last week"}),
        ("top objections this month as a pie chart", {"chart": "pie"}),
    ):
        chosen = route(message, names)
        assert chosen is not None and chosen.intent.tool == "analytics", message
        assert wanted.items() <= chosen.args.items(), (message, chosen.args)
