"""analytics: call metrics by a dimension over a period, as a table, a chart and a CSV.

The metric layer (`insights.analytics`) builds the query with SQLAlchemy from named
metrics and dimensions — the model only picks names, it never writes SQL. Reps see
their own calls; managers their workspace and may pick a rep."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from langchain.tools import ToolRuntime

from accounts.models import Role
from core.errors import KloseError
from insights import analytics as metrics_layer
from insights import charts
from tools.actions import read_tool
from tools.context import AgentContext, Artifact
from tools.metering import done
from tools.rep_refs import rep_named


@read_tool(billable=True)
async def analytics(
    runtime: ToolRuntime[AgentContext],
    metrics: list[str],
    dimension: str | None = None,
    period: str = "this month",
    rep: str | None = None,
    chart: str | None = None,
) -> str:
    """Call analytics. `metrics`: any of calls, connected, connect_rate, talk_time_s,
    avg_duration_s, credits_spent, outcomes, objections, opt_outs. `dimension` (optional):
    day, week, month, rep, outcome, objection, hour_of_day, company. `period`: "today",
    "yesterday", "this week", "last week", "this month", "last month", "this quarter",
    "last 30 days", or "YYYY-MM-DD..YYYY-MM-DD". `rep`: a rep's (a team member's) name
    or email, to count only the calls that rep placed — use it for "Riley's calls" or
    "calls by Riley" when Riley is on the team (managers). `chart` (optional): the chart
    type the user asked for — bar, line or pie; when it does not suit the data the
    answer says why and draws the fitting one.
    Returns a table; a chart and a CSV file are attached in the chat."""
    ctx = runtime.context
    try:
        span = metrics_layer.parse_period(period, datetime.now(UTC), ctx.actor.time_zone)
        wanted, dimension, support = metrics_layer.presentable(metrics, dimension or None)
        query = metrics_layer.Query(
            metrics=wanted,
            dimension=dimension,
            period_start=span.start,
            period_end=span.end,
            rep_id=await rep_named(ctx, rep),
            tz=ctx.actor.time_zone,
        )
        async with ctx.db.session() as session:
            table = replace(await metrics_layer.run(session, ctx.actor, query), support=support)
    except KloseError as exc:
        return str(exc)
    scope = "your calls" if ctx.actor.role is Role.REP else "the workspace's calls"
    if query.rep_id is not None and ctx.actor.role is not Role.REP:
        scope = "that rep's calls"
    if not table.rows:
        return f"No calls {span.said} ({scope})."
    slug = "-".join([*table.metrics, *([table.dimension] if table.dimension else [])])
    choice = charts.choose(table, chart)
    ctx.artifacts.append(Artifact("plotly", table.title, metrics_layer.chart(table, chart)))
    ctx.artifacts.append(
        Artifact("file", f"{slug}-{span.start:%Y%m%d}.csv", metrics_layer.to_csv(table), "text/csv")
    )
    note = f"\n\n{choice.note}" if choice.note else ""
    return done(
        f"{table.title} ({scope}, times in {ctx.actor.time_zone}):\n\n"
        f"{metrics_layer.to_markdown(table)}{note}\n\n"
        f"A {_KIND_WORDS[choice.kind]} and a CSV download are attached."
    )


_KIND_WORDS = {"bar": "bar chart", "line": "line chart", "pie": "pie chart", "number": "chart"}
