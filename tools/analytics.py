"""analytics: call metrics by a dimension over a period, as a table, a chart and a CSV.

The metric layer (`insights.analytics`) builds the query with SQLAlchemy from named
metrics and dimensions — the model only picks names, it never writes SQL. Reps see
their own calls; managers their workspace and may pick a rep."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from langchain.tools import ToolRuntime
from sqlalchemy import func, or_, select

from accounts.models import Role, User
from core.errors import KloseError
from core.markdown import md_escape
from insights import analytics as metrics_layer
from insights import charts
from telephony.access import visible_contacts
from telephony.models import Contact
from tools.actions import read_tool
from tools.context import AgentContext, Artifact
from tools.metering import done


async def _rep_id(ctx: AgentContext, rep: str | None) -> uuid.UUID | None:
    if not rep or rep.strip().lower() in ("all", "everyone", "team", "all reps"):
        return None
    wanted = rep.strip().lower()
    if wanted in ("me", "my", "mine", "myself"):
        return ctx.actor.user_id
    async with ctx.db.session() as session:
        users = (
            await session.scalars(
                select(User).where(
                    User.workspace_id == ctx.actor.workspace_id,
                    or_(
                        func.lower(User.email) == wanted,
                        func.lower(User.name).contains(wanted, autoescape=True),
                    ),
                )
            )
        ).all()
        contact = None
        if not users:  # "Riley's calls" where Riley is a contact, not a rep
            contact = await session.scalar(
                select(Contact.name)
                .where(
                    visible_contacts(ctx.actor),
                    func.lower(Contact.name).contains(wanted, autoescape=True),
                )
                .order_by(Contact.name)
                .limit(1)
            )
    if not users:
        hint = (
            f" {md_escape(contact)} is one of your contacts: for calls with them, ask "
            f"“show calls with {md_escape(contact)}”."
            if contact
            else ""
        )
        raise metrics_layer.AnalyticsError(
            f"There is no rep matching '{md_escape(rep)}' in your workspace.{hint}"
        )
    if len(users) > 1:
        names = "; ".join(f"{md_escape(u.name)} ({md_escape(u.email)})" for u in users)
        raise metrics_layer.AnalyticsError(f"Which rep do you mean: {names}?")
    return users[0].id


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
            rep_id=await _rep_id(ctx, rep),
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
        return f"No calls in {span.label} ({scope})."
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
