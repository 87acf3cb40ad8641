"""What a manager reads: the figure JSON and the Markdown table of analytics answers.

Tables are built by hand (the metric layer's figures are checked against SQL in
test_analytics.py); here only their presentation is under test: ranked bars for
categories, counts beside a rate, percent on the table and on the axis, words instead of
keys, and the chart kind asked for when it suits the data (or a reason why not)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from insights.analytics import AnalyticsError, Table, chart, presentable, to_markdown
from insights.charts import choose

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=31)
KEYS = ("objection:", "outcome:", "talk_time_s", "connect_rate", "_")


def table(columns: tuple[str, ...], rows: list[tuple[Any, ...]], **kw: Any) -> Table:
    dimension = kw.pop("dimension", None)
    metrics = kw.pop("metrics", tuple(columns[1 if dimension else 0 :]))
    return Table(columns, rows, dimension, metrics, START, END, **kw)


def _text_of(figure: Any) -> str:
    """Every label a reader sees: title, axis titles, trace names, categories."""
    data = figure.to_plotly_json()
    seen = [data["layout"].get("title", {}).get("text", "")]
    for axis in ("xaxis", "yaxis", "yaxis2"):
        seen.append(str(data["layout"].get(axis, {}).get("title", {}).get("text", "")))
    for trace in data["data"]:
        seen.append(str(trace.get("name", "")))
        for key in ("x", "y", "labels"):
            seen.extend(str(v) for v in trace.get(key, ()) or () if isinstance(v, str))
        if "title" in trace:
            seen.append(str(trace["title"].get("text", "")))
    return " | ".join(seen)


OBJECTIONS_ROW = table(
    tuple(f"objection:{o}" for o in ("price", "timing", "competitor", "authority", "need")),
    [(3, 1, 5, 0, 2)],
    metrics=("objections",),
)


def test_top_objections_are_ranked_bars_one_per_objection_in_words() -> None:
    figure = chart(OBJECTIONS_ROW)
    (bars,) = figure.data  # one trace: a bar per objection, not a row of five traces
    assert bars.type == "bar" and bars.orientation == "h"
    assert list(bars.y) == ["Competitor", "Price", "No need", "Timing", "Not the decision maker"]
    assert list(bars.x) == [5.0, 3.0, 2.0, 1.0, 0.0]
    assert figure.layout.yaxis.autorange == "reversed"  # the largest on top
    assert figure.layout.title.text == "Calls by objection, 2026-10-01 to 2026-10-31"
    assert not any(key in _text_of(figure) for key in KEYS)
    markdown = to_markdown(OBJECTIONS_ROW).splitlines()
    assert markdown[0] == "| Objection | Calls |"
    assert markdown[2:4] == ["| Competitor | 5 |", "| Price | 3 |"]


def test_a_count_axis_is_marked_in_whole_calls() -> None:
    few = chart(OBJECTIONS_ROW)  # at most 5 calls: a tick at every call, none at 0.5
    assert few.layout.xaxis.dtick == 1 and few.layout.xaxis.tickformat == ",d"
    many = chart(
        table(("rep", "calls"), [("Ana", 40), ("Ben", 12)], dimension="rep", metrics=("calls",))
    )
    assert many.layout.xaxis.dtick is None and many.layout.xaxis.tickformat == ",d"
    rate = chart(
        table(
            ("rep", "connect_rate", "calls", "connected"),
            [("Ana", 0.5, 2, 1)],
            dimension="rep",
            metrics=("connect_rate",),
        )
    )
    assert rate.layout.xaxis.dtick is None and rate.layout.xaxis.ticksuffix == "%"


def test_outcomes_by_category_are_ranked_largest_first() -> None:
    outcomes = table(
        ("outcome", "calls"),
        [("not_interested", 2), ("interested", 7), ("unknown", 1), ("callback_booked", 4)],
        dimension="outcome",
    )
    (bars,) = chart(outcomes).data
    assert list(bars.y) == ["Interested", "Callback booked", "Not interested", "No outcome yet"]
    assert list(bars.x) == [7.0, 4.0, 2.0, 1.0]


RATE_BY_REP = table(
    ("rep", "connect_rate", "connected", "calls"),
    [("Ann Rep", 0.5, 2, 4), ("Bob Rep", 0.6667, 2, 3), ("Cy Rep", None, 0, 0)],
    dimension="rep",
    metrics=("connect_rate",),
    support=("connected", "calls"),
)


def test_a_connect_rate_is_a_percentage_on_the_axis_and_carries_its_counts() -> None:
    figure = chart(RATE_BY_REP)
    (bars,) = figure.data  # calls and connected are labels, not bars of their own
    assert list(bars.y) == ["Bob Rep", "Ann Rep", "Cy Rep"]
    assert list(bars.x) == [66.7, 50.0, None]
    assert figure.layout.xaxis.ticksuffix == "%"
    assert tuple(figure.layout.xaxis.range) == (0, 100)
    assert figure.layout.xaxis.title.text == "Connect rate (%)"
    assert list(bars.text) == ["66.7% · 2 of 3 connected", "50.0% · 2 of 4 connected", "no calls"]
    assert [list(c) for c in bars.customdata] == [[2.0, 3.0], [2.0, 4.0], [0.0, 0.0]]
    assert "Connected calls: %{customdata[0]" in bars.hovertemplate
    assert "Calls: %{customdata[1]" in bars.hovertemplate
    assert "%{x:.1f}%" in bars.hovertemplate
    lines = to_markdown(RATE_BY_REP).splitlines()
    assert lines[0] == "| Rep | Connect rate | Connected calls | Calls |"
    assert lines[2] == "| Ann Rep | 50.0% | 2 | 4 |"  # the table's own order: the layer's


def test_a_rate_over_days_is_a_line_on_a_0_to_100_percent_axis() -> None:
    days = table(
        ("day", "connect_rate", "connected", "calls"),
        [(date(2026, 10, 1), 0.25, 1, 4), (date(2026, 10, 2), None, 0, 0)],
        dimension="day",
        metrics=("connect_rate",),
        support=("connected", "calls"),
    )
    figure = chart(days)
    (line,) = figure.data
    assert line.type == "scatter" and line.mode == "lines+markers"
    assert list(line.y) == [25.0, None]
    assert figure.layout.yaxis.ticksuffix == "%" and tuple(figure.layout.yaxis.range) == (0, 100)
    assert figure.layout.xaxis.title.text == "Day"


def test_talk_time_is_in_minutes_in_words_on_table_and_axis() -> None:
    weeks = table(
        ("week", "talk_time_s", "calls"),
        [(date(2026, 9, 28), 930, 4), (date(2026, 10, 5), 120, 1)],
        dimension="week",
    )
    figure = chart(weeks)
    talk, calls = figure.data
    assert talk.name == "Talk time (min)" and list(talk.y) == [15.5, 2.0]
    assert figure.layout.yaxis.title.text == "Talk time (min)"
    assert calls.yaxis == "y2" and figure.layout.yaxis2.title.text == "Calls"
    assert figure.layout.title.text.startswith("Talk time and calls by week, 2026-10-01")
    assert to_markdown(weeks).splitlines()[:3] == [
        "| Week (from Monday) | Talk time (min) | Calls |",
        "| --- | --- | --- |",
        "| 2026-09-28 | 15.5 | 4 |",
    ]
    assert "talk time s" not in _text_of(figure).lower()


def test_a_pie_is_drawn_for_shares_of_a_whole() -> None:
    assert choose(OBJECTIONS_ROW, "pie").kind == "pie"
    figure = chart(OBJECTIONS_ROW, "pie")
    (pie,) = figure.data
    assert pie.type == "pie"
    assert list(pie.labels)[:2] == ["Competitor", "Price"] and list(pie.values)[:2] == [5.0, 3.0]


@pytest.mark.parametrize(
    ("subject", "words"),
    [
        (RATE_BY_REP, "a connect rate is not a share"),
        (
            table(("day", "calls"), [(date(2026, 10, 1), 3)], dimension="day"),
            "is a change over time",
        ),
        (table(("calls", "opt_outs"), [(4, 1)]), "separate totals"),
    ],
)
def test_a_pie_that_does_not_suit_the_data_is_refused_with_a_reason(
    subject: Table, words: str
) -> None:
    choice = choose(subject, "pie")
    assert choice.kind != "pie" and choice.note is not None and words in choice.note
    assert all(trace.type != "pie" for trace in chart(subject, "pie").data)


def test_totals_are_numbers_with_their_units() -> None:
    totals = table(("calls", "talk_time_s", "connect_rate"), [(10, 3600, 0.6)])
    figure = chart(totals)
    assert [t.type for t in figure.data] == ["indicator"] * 3
    assert [t.title.text for t in figure.data] == ["Calls", "Talk time (min)", "Connect rate"]
    assert [t.value for t in figure.data] == [10.0, 60.0, 60.0]
    assert figure.data[2].number.suffix == "%"


def test_a_hostile_name_stays_text_on_the_chart() -> None:
    companies = table(
        ("company", "calls"), [('<a href="http://evil.example">x</a>', 2)], dimension="company"
    )
    (bars,) = chart(companies).data
    assert "<a" not in bars.y[0] and "&lt;a" in bars.y[0]


def test_presentable_ranks_objections_and_adds_counts_to_a_rate() -> None:
    assert presentable(["objections"], None) == (("calls",), "objection", ())
    assert presentable(["outcomes"], None) == (("calls",), "outcome", ())
    assert presentable(["objections"], "objection") == (("calls",), "objection", ())
    assert presentable(["connect rate"], "rep") == (
        ("connect_rate", "connected", "calls"),
        "rep",
        ("connected", "calls"),
    )
    assert presentable(["calls", "connect_rate"], None) == (
        ("calls", "connect_rate", "connected"),
        None,
        ("connected",),
    )
    with pytest.raises(AnalyticsError, match="Unknown metric"):
        presentable(["revenue"], None)
