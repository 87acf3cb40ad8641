"""The analytics metric layer: metrics × one dimension × filters, over the calls a user
may see, built with SQLAlchemy Core (no SQL text from a model or a user ever runs).

A `Query` names metrics (`METRICS`), an optional dimension (`DIMENSIONS`), a period
(`parse_period` turns "this month", "last 30 days", "2026-11-01..2026-11-15" … into one)
and optionally a rep; it is validated on construction, with messages that list what is
valid. `run` scopes it the way `telephony.access` does — reps see the calls of their own
contacts, managers their workspace's, admins everyone's — and returns a `Table`, which
`to_csv`, `to_markdown` and `chart` (a Plotly figure) present.

Definitions (a call belongs to the period in which it was placed, `calls.created_at`):

* calls: calls placed;
* connected: calls that ended `completed`, lasted more than 0 s and were not answered by
  a machine (voicemail is not a connection);
* connect_rate: connected / calls;
* talk_time_s: seconds of connected calls; avg_duration_s: talk_time_s / connected;
* credits_spent: credits charged for the calls (milli-credits / 1000, exact);
* outcomes: calls per outcome — the insight's outcome, else the call's own (busy and
  failed read as no answer); objections: calls on which each objection was raised;
* opt_outs: calls whose outcome is opted out.

Days, weeks (starting Monday), months and hours of day are those of the query's time
zone; time dimensions list every bucket of the period, empty ones as zeros.
"""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ARRAY,
    DateTime,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from accounts.models import Role, User
from accounts.service import Actor
from core.csv_safe import write_csv
from core.errors import KloseError
from core.markdown import md_escape
from insights.models import CallInsight
from telephony.access import visible_contacts
from telephony.models import Call, Contact
from telephony.voice.intents import OBJECTIONS

if TYPE_CHECKING:
    import plotly.graph_objects as go  # type: ignore[import-untyped]

OUTCOMES: Final = (
    "interested",
    "not_interested",
    "callback_booked",
    "voicemail",
    "no_answer",
    "opted_out",
)
NO_OUTCOME: Final = "unknown"
NO_COMPANY: Final = "(no company)"

METRICS: Final[dict[str, str]] = {
    "calls": "calls placed",
    "connected": "calls answered by a person",
    "connect_rate": "connected calls / calls placed",
    "talk_time_s": "seconds talked on connected calls",
    "avg_duration_s": "average length of a connected call, in seconds",
    "credits_spent": "credits charged for calls",
    "outcomes": "calls per outcome",
    "objections": "calls per objection raised",
    "opt_outs": "calls where the prospect opted out",
}
DIMENSIONS: Final[dict[str, str]] = {
    "day": "day the call was placed",
    "week": "week (from Monday) the call was placed",
    "month": "month the call was placed",
    "rep": "rep who placed the call",
    "outcome": "outcome of the call",
    "objection": "objection raised on the call",
    "hour_of_day": "hour of day the call was placed",
    "company": "the contact's company",
}
TIME_DIMENSIONS: Final = frozenset({"day", "week", "month"})
_METRIC_ALIASES: Final = {
    "talk_time": "talk_time_s",
    "avg_duration": "avg_duration_s",
    "average_duration": "avg_duration_s",
    "credits": "credits_spent",
    "outcome": "outcomes",
    "objection": "objections",
    "opt_out": "opt_outs",
}
_DIMENSION_ALIASES: Final = {
    "hour": "hour_of_day",
    "outcomes": "outcome",
    "objections": "objection",
    "reps": "rep",
    "contact_company": "company",
}
MAX_PERIOD_DAYS: Final = 3660

Cell = int | float | Decimal | str | date | None


class AnalyticsError(KloseError, ValueError):
    """A question the analytics layer cannot answer as asked; nothing was run."""


def _name(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw.strip().lower())


def _metric(raw: str) -> str:
    name = _name(raw)
    name = _METRIC_ALIASES.get(name, name)
    if name not in METRICS:
        raise AnalyticsError(f"Unknown metric {raw!r}. Metrics: {', '.join(METRICS)}.")
    return name


def _dimension(raw: str) -> str:
    name = _name(raw)
    name = _DIMENSION_ALIASES.get(name, name)
    if name not in DIMENSIONS:
        raise AnalyticsError(f"Unknown dimension {raw!r}. Dimensions: {', '.join(DIMENSIONS)}.")
    return name


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise AnalyticsError(
            f"Unknown time zone {tz!r}; use an IANA name such as America/New_York."
        ) from None


@dataclass(frozen=True)
class Query:
    """Metrics by one dimension (None: totals) over [period_start, period_end), for one
    rep or all the actor may see. Validated (and names normalised) on construction."""

    metrics: tuple[str, ...]
    dimension: str | None
    period_start: datetime
    period_end: datetime
    rep_id: uuid.UUID | None = None
    tz: str = "UTC"

    def __post_init__(self) -> None:
        if isinstance(self.metrics, str):
            raise AnalyticsError("metrics must be a list of names, not one string.")
        if not self.metrics:
            raise AnalyticsError(f"Ask for at least one metric: {', '.join(METRICS)}.")
        object.__setattr__(self, "metrics", tuple(dict.fromkeys(map(_metric, self.metrics))))
        if self.dimension is not None:
            object.__setattr__(self, "dimension", _dimension(self.dimension))
        _zone(self.tz)
        for when in (self.period_start, self.period_end):
            if when.tzinfo is None:
                raise AnalyticsError("Period bounds need a time zone.")
        now = datetime.now(UTC)
        if self.period_start > now:
            raise AnalyticsError(
                f"The period starts in the future ({self.period_start:%Y-%m-%d %H:%M %Z}); "
                "there are no calls to count yet."
            )
        if self.period_end <= self.period_start:
            raise AnalyticsError("The period ends before it starts.")
        if self.period_end - self.period_start > timedelta(days=MAX_PERIOD_DAYS):
            raise AnalyticsError("A period can be at most ten years long.")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


@dataclass(frozen=True)
class Table:
    """A result: the dimension's column (if any) then one column per figure."""

    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    dimension: str | None
    metrics: tuple[str, ...]
    period_start: datetime
    period_end: datetime
    tz: str = "UTC"
    units: dict[str, str] = field(default_factory=dict)
    # Figure columns shown beside another as its counts (calls and connected beside a
    # connect rate): in the table, and in the chart's labels rather than as bars.
    support: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """In words: "Connect rate by rep, 2026-10-01 to 2026-10-31"."""
        from insights.charts import title

        return title(self)


def period_text(table: Table) -> str:
    """The table's period as its first and last day in its time zone."""
    first = table.period_start.astimezone(ZoneInfo(table.tz))
    last = (table.period_end - timedelta(microseconds=1)).astimezone(ZoneInfo(table.tz))
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"


def presentable(
    metrics: Sequence[str], dimension: str | None
) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """The question as it reads best: (metrics, dimension, support).

    * objections (or outcomes) alone over a period are ranked per objection (outcome):
      calls by objection, one row each, rather than one wide row of columns;
    * a connect rate comes with its counts: calls and connected are added after it
      (returned as `support`) unless asked for already.
    Names are checked (AnalyticsError) and normalised."""
    wanted = list(dict.fromkeys(map(_metric, metrics)))
    dim = _dimension(dimension) if dimension else None
    for family in ("objection", "outcome"):
        if dim is None and wanted == [f"{family}s"]:
            return ("calls",), family, ()
        if dim == family and f"{family}s" in wanted:
            wanted.remove(f"{family}s")
    wanted = wanted or ["calls"]
    support = tuple(
        m for m in ("connected", "calls") if "connect_rate" in wanted and m not in wanted
    )
    return (*wanted, *support), dim, support


# --- periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive
    label: str

    @property
    def said(self) -> str:
        """The period as a sentence ends with it: "yesterday", "last week", "in the last 7
        days", "in March 2026", "from 2026-11-01 to 2026-11-05"."""
        label = self.label
        if ".." in label:
            first, last = label.split("..", 1)
            return f"from {first} to {last}"
        if label in ("today", "yesterday") or label.startswith("this "):
            return label
        if label.startswith("last "):
            return f"in the {label}" if label[5:6].isdigit() else label
        return f"in {label}"


_MONTHS: Final = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m
}
_LAST_N = re.compile(r"^(?:the )?(?:last|past) (\d{1,4}) (day|week|month)s?$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|to|–|—)\s*(\d{4}-\d{2}-\d{2})$")
_MONTH_NAME = re.compile(r"^(?:in )?([a-z]+)(?: (\d{4}))?$")
PERIOD_FORMS: Final = (
    "today, yesterday, this/last week, this/last month, this/last quarter, this/last year, "
    "last N days/weeks/months, a month name (e.g. October 2026), or YYYY-MM-DD..YYYY-MM-DD"
)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_period(phrase: str, now: datetime, tz: str = "UTC") -> Period:
    """The period a phrase names, as [start, end) in `tz`. "This …" periods end now."""
    zone = _zone(tz)
    words = " ".join(phrase.strip().lower().split())
    today = now.astimezone(zone).date()
    tomorrow = _midnight(today + timedelta(days=1), zone)

    def span(first: date, after: date, label: str) -> Period:
        end = min(_midnight(after, zone), tomorrow)
        return Period(_midnight(first, zone), end, label)

    monday = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    fixed = {
        "today": (today, today + timedelta(days=1)),
        "yesterday": (today - timedelta(days=1), today),
        "this week": (monday, monday + timedelta(days=7)),
        "last week": (monday - timedelta(days=7), monday),
        "this month": (month, _add_months(month, 1)),
        "last month": (_add_months(month, -1), month),
        "this quarter": (quarter, _add_months(quarter, 3)),
        "last quarter": (_add_months(quarter, -3), quarter),
        "this year": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "last year": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
    }
    if words in fixed:
        return span(*fixed[words], words)
    if match := _LAST_N.match(words):
        count, unit = int(match.group(1)), match.group(2)
        if count < 1:
            raise AnalyticsError("Count at least one day, week or month.")
        first = {
            "day": today - timedelta(days=count - 1),
            "week": today - timedelta(days=7 * count - 1),
            "month": _add_months(today.replace(day=1), -count + 1),
        }[unit]
        return span(first, today + timedelta(days=1), words)
    if match := _RANGE.match(words):
        try:
            first, last = (date.fromisoformat(match.group(i)) for i in (1, 2))
        except ValueError:
            raise AnalyticsError(f"{phrase!r} is not a valid date range.") from None
        if last < first:
            raise AnalyticsError("The period ends before it starts.")
        return Period(
            _midnight(first, zone), _midnight(last + timedelta(days=1), zone), f"{first}..{last}"
        )
    if (match := _MONTH_NAME.match(words)) and match.group(1) in _MONTHS:
        number = _MONTHS[match.group(1)]
        year = int(match.group(2)) if match.group(2) else today.year
        if not match.group(2) and number > today.month:
            year -= 1  # "October" in March means last October
        first = date(year, number, 1)
        return span(first, _add_months(first, 1), f"{calendar.month_name[number]} {year}")
    raise AnalyticsError(f"I can't read the period {phrase!r}. Try: {PERIOD_FORMS}.")


# --- the query -----------------------------------------------------------------------------


def _connected() -> ColumnElement[bool]:
    """A call answered by a person: completed, longer than 0 s, not a machine."""
    return and_(
        Call.status == "completed",
        Call.duration_s > 0,
        not_(func.coalesce(Call.answered_by, "").startswith("machine")),
        func.coalesce(Call.answered_by, "") != "fax",
    )


def _outcome() -> ColumnElement[str]:
    """The insight's outcome, else the call's own (busy and failed as no answer)."""
    return func.coalesce(
        CallInsight.outcome,
        case((Call.outcome.in_(("busy", "failed")), literal("no_answer")), else_=Call.outcome),
        literal(NO_OUTCOME),
    )


def _needs_insights(query: Query) -> bool:
    return query.dimension in ("outcome", "objection") or bool(
        {"outcomes", "objections", "opt_outs"} & set(query.metrics)
    )


def _aggregates(query: Query) -> list[ColumnElement[Any]]:
    """The SQL aggregates the metrics need, labelled (derived figures come later)."""
    wanted = set(query.metrics)
    out: list[ColumnElement[Any]] = [func.count().label("calls")]
    if wanted & {"connected", "connect_rate", "avg_duration_s"}:
        out.append(func.count().filter(_connected()).label("connected"))
    if wanted & {"talk_time_s", "avg_duration_s"}:
        out.append(func.coalesce(func.sum(Call.duration_s).filter(_connected()), 0).label("talk"))
    if "credits_spent" in wanted:
        out.append(func.coalesce(func.sum(Call.cost_mc), 0).label("cost_mc"))
    if wanted & {"outcomes", "opt_outs"}:
        out.extend(func.count().filter(_outcome() == o).label(f"o_{o}") for o in OUTCOMES)
    if "objections" in wanted:
        out.extend(
            func.count().filter(CallInsight.objections.contains([o])).label(f"x_{o}")
            for o in OBJECTIONS
        )
    return out


def _dimension_column(query: Query) -> ColumnElement[Any] | None:
    match query.dimension:
        case "day" | "week" | "month":
            # The number of the bucket (1 = the first of `_buckets`) a call falls in, by
            # binary search over the buckets' first instants, worked out here with the
            # zone's rules (DST included). Cheaper per call than shifting every
            # `created_at` into the zone and truncating it (`date_trunc('week',
            # timezone(tz, created_at))`), which doubled the weekly question's time.
            starts = [_midnight(day, query.zone) for day in _time_buckets(query)]
            return func.width_bucket(
                Call.created_at, literal(starts, ARRAY(DateTime(timezone=True)))
            )
        case "hour_of_day":
            # date_part (double precision), not EXTRACT (numeric since PostgreSQL 14).
            return cast(func.date_part("hour", func.timezone(query.tz, Call.created_at)), Integer)
        case "rep":
            return Call.__table__.c.placed_by
        case "outcome":
            return _outcome()
        case "company":
            return func.coalesce(Contact.company, NO_COMPANY)
    return None


async def _scope(session: AsyncSession, actor: Actor, query: Query) -> list[ColumnElement[bool]]:
    """WHERE clauses: the calls `actor` may see, in the period, of the rep asked about."""
    where: list[ColumnElement[bool]] = [
        Call.created_at >= query.period_start,
        Call.created_at < query.period_end,
    ]
    if actor.role is not Role.ADMIN:
        where.append(Call.workspace_id == actor.workspace_id)
    if actor.role is Role.REP:
        where.append(Call.contact_id.in_(select(Contact.id).where(visible_contacts(actor))))
    if query.rep_id is not None:
        if actor.role is Role.REP and query.rep_id != actor.user_id:
            raise AnalyticsError("Reps see their own calls only; ask without naming a rep.")
        rep = await session.get(User, query.rep_id)
        if rep is None or (actor.role is Role.MANAGER and rep.workspace_id != actor.workspace_id):
            raise AnalyticsError("There is no such rep in your workspace.")
        where.append(Call.placed_by == query.rep_id)
    return where


def statement(
    query: Query, where: Sequence[ColumnElement[bool]], workspace_id: uuid.UUID | None
) -> Select[Any]:
    """The one SELECT that answers `query` within `where` (and `workspace_id`, None for
    every workspace): joins only what it reads."""
    dim = _dimension_column(query)
    source: Any = Call.__table__
    if _needs_insights(query):
        # An insight is written after its call was placed, so one of a call in the period
        # was created after the period started: that bound (and the workspace) lets the
        # join read the recent insights only (index ix_call_insights_workspace_created).
        joined = [CallInsight.call_id == Call.id, CallInsight.created_at >= query.period_start]
        if workspace_id is not None:
            joined.append(CallInsight.workspace_id == workspace_id)
        if query.dimension == "objection":  # a call without an insight raised none
            joined.append(func.cardinality(CallInsight.objections) > 0)
            source = source.join(CallInsight.__table__, and_(*joined))
        else:
            source = source.outerjoin(CallInsight.__table__, and_(*joined))
    if query.dimension == "company":
        source = source.join(Contact.__table__, Contact.id == Call.contact_id)
    if query.dimension == "objection":
        unnested = (
            func.unnest(CallInsight.objections).table_valued("objection").render_derived().lateral()
        )
        source = source.join(unnested, true())
        dim = unnested.c.objection
    columns = [dim.label("dim")] if dim is not None else []
    stmt = select(*columns, *_aggregates(query)).select_from(source).where(*where)
    return stmt.group_by("dim") if dim is not None else stmt


def _figures(query: Query, row: dict[str, Any]) -> list[Cell]:
    """The requested metrics' cells from one aggregated row, in column order."""
    out: list[Cell] = []
    for metric in query.metrics:
        calls, connected = int(row["calls"]), int(row.get("connected") or 0)
        match metric:
            case "calls":
                out.append(calls)
            case "connected":
                out.append(connected)
            case "connect_rate":
                out.append(round(connected / calls, 4) if calls else None)
            case "talk_time_s":
                out.append(int(row["talk"]))
            case "avg_duration_s":
                out.append(round(int(row["talk"]) / connected, 1) if connected else None)
            case "credits_spent":
                out.append(Decimal(int(row["cost_mc"])) / 1000)
            case "outcomes":
                out.extend(int(row[f"o_{o}"]) for o in OUTCOMES)
            case "objections":
                out.extend(int(row[f"x_{o}"]) for o in OBJECTIONS)
            case "opt_outs":
                out.append(int(row["o_opted_out"]))
    return out


def _metric_columns(query: Query) -> list[str]:
    names: list[str] = []
    for metric in query.metrics:
        if metric == "outcomes":
            names.extend(f"outcome:{o}" for o in OUTCOMES)
        elif metric == "objections":
            names.extend(f"objection:{o}" for o in OBJECTIONS)
        else:
            names.append(metric)
    return names


def _units(columns: Sequence[str]) -> dict[str, str]:
    units = {"connect_rate": "ratio", "credits_spent": "credits"}
    return {c: units.get(c, "s" if c.endswith("_s") else "calls") for c in columns}


def _time_buckets(query: Query) -> list[date]:
    """The first day of every day, week or month bucket of the period, in order."""
    zone = query.zone
    first = query.period_start.astimezone(zone).date()
    last = (query.period_end - timedelta(microseconds=1)).astimezone(zone).date()
    if query.dimension == "week":
        first -= timedelta(days=first.weekday())
    if query.dimension == "month":
        first = first.replace(day=1)
    out: list[date] = []
    day = first
    while day <= last:
        out.append(day)
        day = (
            _add_months(day, 1)
            if query.dimension == "month"
            else day + timedelta(days=7 if query.dimension == "week" else 1)
        )
    return out


async def _rep_labels(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each rep's name; with the email too where two reps share a name."""
    users = await session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    found = list(users.all())
    names = [name for _, name, _ in found]
    return {
        uid: (f"{name} <{email}>" if names.count(name) > 1 else name) for uid, name, email in found
    }


async def run(session: AsyncSession, actor: Actor, query: Query) -> Table:
    """Answer `query` over the calls `actor` may see (AnalyticsError: nothing ran)."""
    where = await _scope(session, actor, query)
    workspace_id = None if actor.role is Role.ADMIN else actor.workspace_id
    result = await session.execute(statement(query, where, workspace_id))
    fetched = [dict(r) for r in result.mappings().all()]
    metric_columns = _metric_columns(query)
    if query.dimension is None:
        row = fetched[0] if fetched else {"calls": 0}
        rows: list[tuple[Cell, ...]] = [tuple(_figures(query, _zeros(query) | row))]
        return Table(
            tuple(metric_columns),
            rows,
            None,
            query.metrics,
            query.period_start,
            query.period_end,
            query.tz,
            _units(metric_columns),
        )
    by_key: dict[Any, dict[str, Any]] = {r["dim"]: r for r in fetched}
    keyed: list[tuple[Cell, list[Cell]]]
    if query.dimension in TIME_DIMENSIONS or query.dimension == "hour_of_day":
        # Every bucket of the period, in order, empty ones too: a time bucket comes back
        # as its number (from 1, width_bucket), shown as its first day; an hour as itself.
        buckets: list[tuple[int, Cell]] = (
            [(hour, hour) for hour in range(24)]
            if query.dimension == "hour_of_day"
            else list(enumerate(_time_buckets(query), 1))
        )
        zeros = _zeros(query)
        keyed = [(cell, _figures(query, by_key.get(key, zeros))) for key, cell in buckets]
    else:
        labels: dict[Any, str] = {}
        if query.dimension == "rep":
            labels = await _rep_labels(session, list(by_key))
        keyed = [(labels.get(k, k), _figures(query, r)) for k, r in by_key.items()]
        keyed.sort(key=lambda kf: (-_sort_value(kf[1][0]), str(kf[0])))
    columns = (query.dimension, *metric_columns)
    return Table(
        columns,
        [(k, *f) for k, f in keyed],
        query.dimension,
        query.metrics,
        query.period_start,
        query.period_end,
        query.tz,
        _units(metric_columns),
    )


def _zeros(query: Query) -> dict[str, Any]:
    zero: dict[str, Any] = {"calls": 0, "connected": 0, "talk": 0, "cost_mc": 0}
    zero |= {f"o_{o}": 0 for o in OUTCOMES} | {f"x_{o}": 0 for o in OBJECTIONS}
    return zero


def _sort_value(cell: Cell) -> float:
    return float(cell) if isinstance(cell, int | float | Decimal) else 0.0


# --- presenting ----------------------------------------------------------------------------


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def to_csv(table: Table) -> str:
    """The table as CSV (header row first); empty cells for figures that do not apply,
    and text a spreadsheet would run as a formula neutralised (core.csv_safe)."""
    return write_csv(table.columns, table.rows)


def to_markdown(table: Table) -> str:
    """The table as a Markdown table, for the chat: headings in words, rates as
    percentages and talk time in minutes, as on the chart (insights.charts); a single
    row of objections or outcomes as a ranking."""
    from insights import charts

    table = charts.ranked(table)
    offset = 1 if table.dimension else 0
    names = [charts.dimension_label(table.dimension)] if offset else []
    names += [charts.column_label(c) for c in table.columns[offset:]]
    head = "| " + " | ".join(names) + " |"  # our own words: nothing to escape
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    body = []
    for row in table.rows:
        cells = [_md_key(table.dimension, row[0])] if offset else []
        cells += [
            charts.cell_text(column, cell) or "–"
            for column, cell in zip(table.columns[offset:], row[offset:], strict=True)
        ]
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])


def _md_key(dimension: str | None, cell: Cell) -> str:
    """A row's key: outcomes and objections in words, names escaped, dates ISO."""
    from insights.charts import key_label

    return (
        md_escape(key_label(dimension, cell))
        if isinstance(cell, str)
        else key_label(dimension, cell)
    )


def chart(table: Table, kind: str | None = None) -> go.Figure:
    """A Plotly figure of the table (insights.charts): ranked bars for categories,
    lines over time, numbers for totals, a pie when `kind` asks for one and it suits."""
    from insights.charts import figure

    return figure(table, kind)
