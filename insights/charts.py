"""How an analytics `Table` is shown to a manager: human labels, units, and a chart.

Contracts (tests/insights/test_charts.py checks the figure JSON):

* labels are words, never keys: `talk_time_s` → "Talk time (min)", `objection:price` →
  "Price", `not_interested` → "Not interested"; rep and company names are shown as they
  are (they are the user's own text, escaped where Markdown renders them);
* units are the same in the table and on the chart: a rate is a percentage (0–100, with
  a "%" on the axis and in the cells), talk time is in minutes, an average call in
  seconds;
* categories (reps, outcomes, objections, companies) are ranked bars, largest first, one
  bar per category; a single row of categories (objections over a period) is turned
  into such a ranking; days, weeks and months are lines; totals are numbers;
* a rate carries its counts: the table's `support` columns (calls and connected beside a
  connect rate) are in each bar's label and hover, not bars of their own;
* a requested chart kind is used when it suits the data; otherwise `choose` says why
  not, in words the answer can show (a pie only shows one figure split into parts of a
  whole: a count over categories, never a rate or an average, never a time series).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    import plotly.graph_objects as go  # type: ignore[import-untyped]

    from insights.analytics import Cell, Table

Kind = Literal["bar", "line", "pie", "number"]
Unit = Literal["percent", "minutes", "seconds", "credits", "calls"]
CHART_KINDS: Final = ("bar", "line", "pie")

COLUMN_LABELS: Final[dict[str, str]] = {
    "calls": "Calls",
    "connected": "Connected calls",
    "connect_rate": "Connect rate",
    "talk_time_s": "Talk time (min)",
    "avg_duration_s": "Average call (s)",
    "credits_spent": "Credits spent",
    "opt_outs": "Opt-outs",
}
DIMENSION_LABELS: Final[dict[str, str]] = {
    "day": "Day",
    "week": "Week (from Monday)",
    "month": "Month",
    "rep": "Rep",
    "outcome": "Outcome",
    "objection": "Objection",
    "hour_of_day": "Hour of day",
    "company": "Company",
}
CATEGORY_LABELS: Final[dict[str, str]] = {
    "interested": "Interested",
    "not_interested": "Not interested",
    "callback_booked": "Callback booked",
    "voicemail": "Voicemail",
    "no_answer": "No answer",
    "opted_out": "Opted out",
    "unknown": "No outcome yet",
    "price": "Price",
    "timing": "Timing",
    "competitor": "Competitor",
    "authority": "Not the decision maker",
    "need": "No need",
}
# Rows of one kind of category, as columns of a single row ("objection:price").
_FAMILIES: Final = ("objection", "outcome")
_CATEGORIES: Final = frozenset({"rep", "outcome", "objection", "company"})
_TIMES: Final = frozenset({"day", "week", "month"})
_ADDITIVE: Final = frozenset({"calls", "minutes", "credits"})
# Up to this many calls, a count axis is marked at every call.
COUNT_TICK_EVERY_UNIT_UP_TO: Final = 10


def unit_of(column: str) -> Unit:
    """What a column's figures are counted in, as shown (not as stored)."""
    if column.endswith("_rate"):
        return "percent"
    if column == "talk_time_s":
        return "minutes"
    if column.endswith("_s"):
        return "seconds"
    if column == "credits_spent":
        return "credits"
    return "calls"


def column_label(column: str) -> str:
    """A figure column's heading: "Connect rate", "Talk time (min)", "Price"."""
    if ":" in column:
        return category_label(column.split(":", 1)[1])
    return COLUMN_LABELS.get(column, column.replace("_", " ").capitalize())


def dimension_label(dimension: str | None) -> str:
    return DIMENSION_LABELS.get(dimension or "", (dimension or "").replace("_", " ").capitalize())


def category_label(value: str) -> str:
    """An outcome's or objection's key in words; anything else as it is."""
    return CATEGORY_LABELS.get(value, value)


def key_label(dimension: str | None, cell: Cell) -> str:
    """A row's key in words: outcomes and objections named, hours as 14:00, dates ISO;
    rep and company names untouched."""
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.isoformat()
    if dimension == "hour_of_day" and isinstance(cell, int):
        return f"{cell:02d}:00"
    if dimension in ("outcome", "objection") and isinstance(cell, str):
        return category_label(cell)
    return str(cell)


def shown(column: str, cell: Cell) -> float | None:
    """A figure in the unit it is shown in: a rate ×100, talk time in minutes."""
    if not isinstance(cell, int | float | Decimal) or isinstance(cell, bool):
        return None
    value = float(cell)
    unit = unit_of(column)
    if unit == "percent":
        return round(value * 100, 1)
    if unit == "minutes":
        return round(value / 60, 1)
    return value


def cell_text(column: str, cell: Cell) -> str:
    """A figure as the table shows it: "66.7%", "12.5" minutes, counts as they are."""
    value = shown(column, cell)
    if value is None:
        return ""
    unit = unit_of(column)
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "minutes":
        return f"{value:.1f}"
    if isinstance(cell, Decimal):
        return str(cell)
    return str(cell)


def title(table: Table) -> str:
    """The title in words: "Connect rate by rep, 2026-10-01 to 2026-10-31"."""
    from insights.analytics import period_text

    names = [_metric_name(m) for m in table.metrics]
    names = [names[0], *(n.lower() for n in names[1:])]
    figures = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    by = f" by {table.dimension.replace('_', ' ')}" if table.dimension else ""
    return f"{figures}{by}, {period_text(table)}"


def _metric_name(metric: str) -> str:
    return {"outcomes": "Outcomes", "objections": "Objections"}.get(
        metric, column_label(metric).split(" (")[0]
    )


# --- ranking a single row of categories ------------------------------------------------


def ranked(table: Table) -> Table:
    """A totals row made only of one family of categories ("objection:price", …) as a
    ranking: one row per category, largest first (ties by label). Anything else as is."""
    if table.dimension is not None or len(table.rows) != 1:
        return table
    families = {c.split(":", 1)[0] for c in table.columns}
    if len(families) != 1 or not all(":" in c for c in table.columns):
        return table
    (family,) = families
    if family not in _FAMILIES:
        return table
    pairs = [(c.split(":", 1)[1], v) for c, v in zip(table.columns, table.rows[0], strict=True)]
    pairs.sort(key=lambda kv: (-(shown("calls", kv[1]) or 0.0), category_label(kv[0])))
    return replace(
        table,
        columns=(family, "calls"),
        rows=[(key, value) for key, value in pairs],
        dimension=family,
        metrics=("calls",),
        units={"calls": "calls"},
        support=(),
    )


# --- choosing the kind -------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    kind: Kind
    note: str | None = None  # why the kind asked for was not used


def plotted(table: Table) -> list[str]:
    """The figure columns drawn (support columns are only labels)."""
    offset = 1 if table.dimension else 0
    return [c for c in table.columns[offset:] if c not in table.support]


def _default(table: Table) -> Kind:
    if table.dimension is None:
        return "number"
    return "line" if table.dimension in _TIMES else "bar"


def choose(table: Table, requested: str | None) -> Choice:
    """The chart kind for `table`: the one requested when it suits the data, else the
    default (lines over time, bars for categories, numbers for totals) with a note."""
    table = ranked(table)
    default = _default(table)
    wanted = (requested or "").strip().lower() or None
    if wanted in ("donut", "doughnut"):
        wanted = "pie"
    if wanted is None or wanted == default:
        return Choice(default)
    if wanted not in CHART_KINDS:
        return Choice(default, f"I can draw bar, line or pie charts, not {wanted!r} ones.")
    what = title(table).split(",")[0]
    if wanted == "pie":
        return _pie(table, default, what)
    if wanted == "line":
        if table.dimension in _TIMES:
            return Choice("line")
        return Choice(
            default,
            f"A line joins points in time order; {what.lower()} has no such order, "
            "so here it is as bars.",
        )
    # bars
    if table.dimension is None:
        return Choice(default, "These are single totals, so here they are as numbers.")
    return Choice("bar")


def _pie(table: Table, default: Kind, what: str) -> Choice:
    shown_as = {"bar": "bars", "line": "a line chart", "number": "numbers"}[default]
    columns = plotted(table)
    if table.dimension is None:
        return Choice(
            default,
            "A pie shows how one total splits into parts, and these are separate totals "
            f"with nothing to split, so here they are as {shown_as}.",
        )
    if table.dimension in _TIMES or table.dimension == "hour_of_day":
        return Choice(
            default,
            f"A pie shows how one total splits into parts; {what.lower()} is a change "
            f"over time, so here it is as {shown_as}.",
        )
    if len(columns) != 1:
        return Choice(
            default,
            f"A pie can show one figure at a time, and this has {len(columns)}, so here "
            f"they are as {shown_as}. Ask for one (e.g. “pie of calls by outcome”) for a pie.",
        )
    (column,) = columns
    if unit_of(column) not in _ADDITIVE:
        return Choice(
            default,
            f"A pie shows shares of one total, and a {column_label(column).lower()} is "
            "not a share of anything (the slices would not add up to a whole), so here "
            f"it is as {shown_as}.",
        )
    index = table.columns.index(column)
    values = [shown(column, row[index]) or 0.0 for row in table.rows]
    if sum(values) <= 0:
        return Choice(default, f"Every figure is zero, so there is no pie to cut: {shown_as}.")
    return Choice("pie")


# --- the figure --------------------------------------------------------------------------


def figure(table: Table, requested: str | None = None) -> go.Figure:
    """The Plotly figure of `table` (see the module's contracts)."""
    import plotly.graph_objects as go

    choice = choose(table, requested)
    table = ranked(table)
    fig = go.Figure()
    columns = plotted(table)
    if choice.kind == "number":
        _numbers(fig, table, columns)
    elif choice.kind == "pie":
        _pie_trace(fig, table, columns[0])
    elif table.dimension in _CATEGORIES:
        _ranked_bars(fig, table, columns)
    else:
        _over_an_axis(fig, table, columns, line=choice.kind == "line")
    fig.update_layout(title={"text": title(table)}, showlegend=len(fig.data) > 1)
    return fig


def _values(table: Table, column: str) -> list[float | None]:
    index = table.columns.index(column)
    return [shown(column, row[index]) for row in table.rows]


def _keys(table: Table) -> list[str]:
    """Row keys for the figure; "<" and ">" as entities, so a company or rep name is
    text and never one of the few HTML tags Plotly draws (a link, a style)."""
    return [
        key_label(table.dimension, row[0]).replace("<", "&lt;").replace(">", "&gt;")
        for row in table.rows
    ]


def _support(table: Table) -> tuple[list[list[float | None]], str]:
    """customdata rows and the hover lines of the table's support columns."""
    if not table.support:
        return [], ""
    data = [[shown(c, row[table.columns.index(c)]) for c in table.support] for row in table.rows]
    lines = "".join(
        f"<br>{column_label(c)}: %{{customdata[{i}]:,.0f}}" for i, c in enumerate(table.support)
    )
    return data, lines


def _bar_text(table: Table, column: str) -> list[str]:
    """Each bar's label: the figure, and for a rate its counts ("54.5% · 6 of 11")."""
    index = table.columns.index(column)
    texts = []
    for row in table.rows:
        text = cell_text(column, row[index])
        if unit_of(column) == "percent" and {"connected", "calls"} <= set(table.columns):
            connected = row[table.columns.index("connected")]
            calls = row[table.columns.index("calls")]
            text = f"{text} · {connected} of {calls} connected" if calls else "no calls"
        texts.append(text)
    return texts


def _axis(unit: Unit, label: str, top: float | None = None) -> dict[str, object]:
    """A value axis from zero. Calls are whole: a small count gets a tick per call
    (Plotly would mark 0.5, 1.5 …), a larger one whole-number labels."""
    if unit == "percent":
        return {"title": {"text": f"{label} (%)"}, "range": [0, 100], "ticksuffix": "%"}
    axis: dict[str, object] = {"title": {"text": label}, "rangemode": "tozero"}
    if unit == "calls":
        axis["tickformat"] = ",d"
        if top is not None and top <= COUNT_TICK_EVERY_UNIT_UP_TO:
            axis["dtick"] = 1
    return axis


def count_axis(label: str, values: Sequence[float | None]) -> dict[str, object]:
    """The axis of a chart of call counts (see `_axis`)."""
    return _axis("calls", label, _top(values))


def _top(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _top_of(table: Table, columns: Sequence[str]) -> float | None:
    return _top([v for c in columns for v in _values(table, c)])


def _hover_value(column: str) -> str:
    unit = unit_of(column)
    if unit == "percent":
        return "%{VALUE:.1f}%"
    if unit == "minutes":
        return "%{VALUE:,.1f} min"
    if unit == "seconds":
        return "%{VALUE:,.1f} s"
    return "%{VALUE:,}"


def _ranked_bars(fig: go.Figure, table: Table, columns: Sequence[str]) -> None:
    """Categories as horizontal bars, largest first (top), one bar per category."""
    import plotly.graph_objects as go

    primary = unit_of(columns[0])
    same = [c for c in columns if unit_of(c) == primary]
    order = sorted(
        range(len(table.rows)),
        key=lambda i: (-(_values(table, columns[0])[i] or 0.0), _keys(table)[i]),
    )
    table_sorted = _reorder(table, order)
    keys = _keys(table_sorted)
    custom, extra = _support(table_sorted)
    for column in same:
        hover = (
            f"%{{y}}<br>{column_label(column)}: {_hover_value(column).replace('VALUE', 'x')}"
            f"{extra}<extra></extra>"
        )
        fig.add_trace(
            go.Bar(
                x=_values(table_sorted, column),
                y=keys,
                orientation="h",
                name=column_label(column),
                text=_bar_text(table_sorted, column),
                textposition="auto",
                customdata=custom or None,
                hovertemplate=hover,
            )
        )
    fig.update_layout(
        barmode="group",
        xaxis=_axis(primary, _axis_label(same), _top_of(table, same)),
        yaxis={
            "title": {"text": dimension_label(table.dimension)},
            "autorange": "reversed",
            "type": "category",
        },
        height=max(320, 60 + 34 * len(keys) * max(1, len(same))),
    )


def _reorder(table: Table, order: Sequence[int]) -> Table:
    return replace(table, rows=[table.rows[i] for i in order])


def _axis_label(columns: Sequence[str]) -> str:
    if len(columns) == 1:
        return column_label(columns[0])
    unit = unit_of(columns[0])
    return {
        "calls": "Calls",
        "credits": "Credits",
        "minutes": "Minutes",
        "seconds": "Seconds",
        "percent": "Rate",
    }[unit]


def _over_an_axis(fig: go.Figure, table: Table, columns: Sequence[str], *, line: bool) -> None:
    """Days, weeks, months (lines, or bars when asked) and hours of the day (bars): the
    first unit on the left axis, a second unit on the right one."""
    import plotly.graph_objects as go

    units: list[Unit] = list(dict.fromkeys(unit_of(c) for c in columns))[:2]
    keys = _keys(table)
    custom, extra = _support(table)
    for column in columns:
        unit = unit_of(column)
        if unit not in units:
            continue
        axis = "y" if unit == units[0] else "y2"
        hover = (
            f"%{{x}}<br>{column_label(column)}: {_hover_value(column).replace('VALUE', 'y')}"
            f"{extra}<extra></extra>"
        )
        common = {
            "x": keys,
            "y": _values(table, column),
            "name": column_label(column),
            "yaxis": axis,
            "customdata": custom or None,
            "hovertemplate": hover,
        }
        if line:
            fig.add_trace(go.Scatter(mode="lines+markers", connectgaps=False, **common))
        else:
            fig.add_trace(go.Bar(**common))
    on_left = [c for c in columns if unit_of(c) == units[0]]
    layout: dict[str, object] = {
        "xaxis": {
            "title": {"text": dimension_label(table.dimension)},
            "type": "date" if table.dimension in _TIMES else "category",
        },
        "yaxis": _axis(units[0], _axis_label(on_left), _top_of(table, on_left)),
        "barmode": "group",
    }
    if len(units) > 1:
        on_right = [c for c in columns if unit_of(c) == units[1]]
        layout["yaxis2"] = {
            **_axis(units[1], _axis_label(on_right), _top_of(table, on_right)),
            "overlaying": "y",
            "side": "right",
        }
    fig.update_layout(**layout)


def _pie_trace(fig: go.Figure, table: Table, column: str) -> None:
    import plotly.graph_objects as go

    fig.add_trace(
        go.Pie(
            labels=_keys(table),
            values=_values(table, column),
            name=column_label(column),
            sort=True,
            direction="clockwise",
            textinfo="label+percent",
            hovertemplate=f"%{{label}}<br>{column_label(column)}: %{{value:,}} "
            "(%{percent})<extra></extra>",
        )
    )


def _numbers(fig: go.Figure, table: Table, columns: Sequence[str]) -> None:
    """Totals as big numbers side by side, each with its unit."""
    import plotly.graph_objects as go

    count = len(columns)
    row = table.rows[0] if table.rows else ()
    for i, column in enumerate(columns):
        value = shown(column, row[table.columns.index(column)]) if row else None
        unit = unit_of(column)
        fig.add_trace(
            go.Indicator(
                mode="number",
                value=value,
                title={"text": column_label(column)},
                number={
                    "suffix": "%" if unit == "percent" else "",
                    "valueformat": ".1f" if unit in ("percent", "minutes", "seconds") else ",",
                },
                domain={"x": [i / count, (i + 1) / count], "y": [0, 1]},
            )
        )
    fig.update_layout(height=260)
