"""How a campaign is going and what it achieved: progress, outcomes, connect rate,
callbacks booked, opt-outs and credits — as text, a table, a Plotly chart and a CSV.

Everything is read from the calls the campaign's dials placed (`dial_queue` ⋈
`calls`), so a call counts once whatever its target's state; credits are what the
ledger settled for those calls (each call billed once, by its final callback).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.money import credits_label
from campaigns.models import Campaign
from campaigns.windows import CampaignWindow
from core.csv_safe import write_csv
from core.markdown import md_escape
from insights import charts

OUTCOME_LABELS = {
    "connected": "connected",
    "interested": "interested",
    "not_interested": "not interested",
    "callback_booked": "callback booked",
    "voicemail": "voicemail",
    "no_answer": "no answer",
    "opted_out": "opted out",
    "busy": "busy",
    "failed": "failed",
    "in_progress": "in progress",
}

_OUTCOMES = """
SELECT CASE
    WHEN c.settled_at IS NULL THEN 'in_progress'
    ELSE coalesce(c.outcome, CASE
        WHEN c.status = 'completed' AND c.answered_by LIKE 'machine%' THEN 'voicemail'
        WHEN c.status = 'completed' THEN 'connected'
        WHEN c.status = 'no-answer' THEN 'no_answer'
        WHEN c.status = 'busy' THEN 'busy'
        ELSE 'failed' END) END AS outcome,
    count(*) AS calls,
    count(*) FILTER (WHERE c.answered_at IS NOT NULL
        AND coalesce(c.answered_by, 'human') NOT LIKE 'machine%') AS connected,
    coalesce(sum(c.cost_mc), 0) AS cost_mc,
    coalesce(sum(c.duration_s) FILTER (WHERE c.status = 'completed'), 0) AS talk_s
FROM dial_queue d JOIN calls c ON c.id = d.call_id
WHERE d.campaign_id = :id
GROUP BY 1 ORDER BY 2 DESC, 1
"""
_TARGETS = """
SELECT status, count(*) FROM campaign_targets WHERE campaign_id = :id GROUP BY status
"""


@dataclass
class CampaignResults:
    campaign: Campaign
    outcomes: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    targets: dict[str, int] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return sum(row[1] for row in self.outcomes)

    @property
    def connected(self) -> int:
        return sum(row[2] for row in self.outcomes)

    @property
    def credits_mc(self) -> int:
        return sum(row[3] for row in self.outcomes)

    def count(self, outcome: str) -> int:
        return sum(row[1] for row in self.outcomes if row[0] == outcome)

    @property
    def connect_rate(self) -> float:
        ended = self.calls - self.count("in_progress")
        return self.connected / ended if ended else 0.0

    def progress(self) -> str:
        """One paragraph: status, contacts done and left, calls, connect rate, credits."""
        c = self.campaign
        t = self.targets
        total = sum(v for k, v in t.items() if k != "excluded")
        done = t.get("done", 0)
        live = t.get("queued", 0) + t.get("calling", 0)
        waiting = t.get("waiting", 0)
        window = CampaignWindow(tuple(c.days), c.window_start, c.window_end).label
        state = c.status if not c.finished_reason else f"{c.status} ({c.finished_reason})"
        return (
            f"Campaign “{md_escape(c.name)}” ({str(c.id)[:8]}) is **{state}**: "
            f"{done} of {total} contacts finished, {live} being called now, {waiting} "
            f"waiting (schedule {window}; at most {c.max_concurrent} at a time). "
            f"{self.calls} calls placed, {self.connected} connected "
            f"({self.connect_rate:.0%} connect rate), {self.count('callback_booked')} "
            f"callbacks booked, {self.count('opted_out')} opt-outs; "
            f"{credits_label(self.credits_mc)} spent of a {credits_label(c.budget_mc)} budget."
            + (f" {t['excluded']} contacts were left out." if t.get("excluded") else "")
        )

    def table_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for outcome, calls, connected, cost, talk in self.outcomes:
            rows.append([OUTCOME_LABELS.get(outcome, outcome), calls, connected, talk, cost / 1000])
        return rows

    def markdown(self) -> str:
        head = (
            "| outcome | calls | connected | talk time (s) | credits |\n|---|---:|---:|---:|---:|"
        )
        body = [
            f"| {md_escape(str(r[0]))} | {r[1]} | {r[2]} | {r[3]} | {r[4]:g} |"
            for r in self.table_rows()
        ]
        total = (
            f"| **total** | {self.calls} | {self.connected} | "
            f"{sum(int(str(r[3])) for r in self.table_rows())} | {self.credits_mc / 1000:g} |"
        )
        return "\n".join([head, *body, total])

    def csv(self) -> str:
        return write_csv(
            ["outcome", "calls", "connected", "talk_time_s", "credits"],
            [*self.table_rows(), ["total", self.calls, self.connected, "", self.credits_mc / 1000]],
        )

    def chart(self) -> go.Figure:
        rows = self.table_rows()
        counts = [int(r[1]) for r in rows]
        figure = go.Figure(go.Bar(x=[str(r[0]) for r in rows], y=counts, name="Calls"))
        figure.update_layout(
            title=f"{self.campaign.name}: calls by outcome",
            xaxis={"title": {"text": "Outcome"}, "type": "category"},
            yaxis=charts.count_axis("Calls", counts),
        )
        return figure


async def results(session: AsyncSession, campaign: Campaign) -> CampaignResults:
    out = CampaignResults(campaign)
    params = {"id": campaign.id}
    for row in (await session.execute(text(_OUTCOMES), params)).all():
        out.outcomes.append(
            (
                str(row.outcome),
                int(row.calls),
                int(row.connected),
                int(row.cost_mc),
                int(row.talk_s),
            )
        )
    for status, n in (await session.execute(text(_TARGETS), params)).all():
        out.targets[str(status)] = int(n)
    return out


async def campaign_calls(session: AsyncSession, campaign_id: uuid.UUID) -> int:
    value = await session.scalar(
        text("SELECT count(*) FROM dial_queue WHERE campaign_id = :id AND status = 'placed'"),
        {"id": campaign_id},
    )
    return int(value or 0)
