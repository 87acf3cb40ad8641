"""The analytics layer on seeded calls with known figures.

Every metric is checked by every dimension against a direct SQL query written here,
independently of the layer, and the totals and a few breakdowns against figures worked
out by hand from the seed. Then scoping (reps, managers, another workspace, admins),
periods, presentation (CSV, Markdown, chart) and bad input.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from accounts.models import Role
from accounts.service import Actor
from core.db import Database
from insights import analytics
from insights.analytics import (
    DIMENSIONS,
    METRICS,
    AnalyticsError,
    Query,
    chart,
    parse_period,
    run,
    to_csv,
    to_markdown,
)
from tests.accounts.helpers import make_member

from .helpers import make_contact, seed_call

TZ = "America/New_York"
OCTOBER = parse_period("2026-10-01..2026-10-31", datetime(2026, 11, 29, tzinfo=UTC), TZ)
ALL_METRICS = tuple(METRICS)
OUTCOMES = analytics.OUTCOMES
OBJECTIONS = ("price", "timing", "competitor", "authority", "need")


@dataclass
class Seed:
    manager: Actor
    rep_a: Actor
    rep_b: Actor
    stranger: Actor  # a rep of another workspace
    admin: Actor


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _ins(outcome: str, *objections: str) -> dict[str, Any]:
    return {"outcome": outcome, "objections": list(objections)}


def _october_calls(
    contacts: tuple[Any, ...], users: tuple[uuid.UUID, ...]
) -> list[tuple[Any, ...]]:
    """The seeded calls: (contact, placed by, at (UTC), keyword figures)."""
    a1, a2, b1, s1 = contacts
    a, b, m, stranger = users
    return [
        # contact, placed by, at (UTC), keyword figures
        (
            a1,
            a,
            utc(10, 5, 14),
            {"duration_s": 120, "outcome": "interested", "insight": _ins("interested", "price")},
        ),
        (
            a1,
            a,
            utc(10, 5, 23, 30),
            {"duration_s": 60, "insight": _ins("callback_booked", "timing")},
        ),
        # 23:30 on 5 October in New York, 6 October in UTC.
        (a2, a, utc(10, 6, 3, 30), {"status": "busy", "duration_s": 0, "outcome": "busy"}),
        (
            a2,
            a,
            utc(10, 12, 15),
            {
                "duration_s": 30,
                "answered_by": "machine_end_beep",
                "outcome": "voicemail",
                "insight": _ins("voicemail"),
            },
        ),
        (
            b1,
            b,
            utc(10, 13, 16),
            {"duration_s": 45, "outcome": "opted_out", "insight": _ins("opted_out")},
        ),
        (
            b1,
            b,
            utc(10, 20, 17),
            {"duration_s": 200, "insight": _ins("not_interested", "price", "competitor")},
        ),
        (b1, b, utc(10, 20, 18), {"status": "no-answer", "duration_s": 0, "outcome": "no_answer"}),
        # The manager calls rep A's contact: rep A sees it, the rep dimension shows the manager.
        (a1, m, utc(10, 21, 13), {"duration_s": 90, "insight": _ins("interested", "authority")}),
        (a1, a, utc(10, 28, 14), {"status": "failed", "outcome": "failed"}),
        (a2, a, utc(10, 30, 12), {"status": "in-progress", "answered_by": None}),
        # 23:30 on 31 October in New York: inside the period.
        (b1, b, utc(11, 1, 3, 30), {"duration_s": 10, "insight": _ins("not_interested", "need")}),
        # Outside the period (New York time), or another workspace's.
        (a1, a, utc(10, 1, 3, 59), {"duration_s": 50, "insight": _ins("interested", "price")}),
        (b1, b, utc(11, 1, 4, 0), {"duration_s": 70}),
        (
            s1,
            stranger,
            utc(10, 15, 15),
            {"duration_s": 33, "insight": _ins("interested", "price")},
        ),
    ]


@pytest.fixture(scope="module")
async def seed(_engine_owner: Database) -> Seed:
    """Calls in October 2026 (New York time), with figures worked out in the tests."""
    db = _engine_owner
    manager = await make_member(db, Role.MANAGER)
    ws = manager.actor.workspace_id
    rep_a = await make_member(db, Role.REP, workspace_id=ws)
    rep_b = await make_member(db, Role.REP, workspace_id=ws)
    stranger = await make_member(db, Role.REP)
    admin = await make_member(db, Role.ADMIN)
    a1 = await make_contact(db, rep_a.actor, name="Ann Acme", company="Acme")
    a2 = await make_contact(db, rep_a.actor, name="Gus Globex", company="Globex")
    b1 = await make_contact(db, rep_b.actor, name="Nia Nobody", company=None)
    s1 = await make_contact(db, stranger.actor, name="Out Sider", company="Acme")
    a, b, m = rep_a.actor.user_id, rep_b.actor.user_id, manager.actor.user_id
    async with db.session() as session:
        for user_id, name in ((a, "Ann Rep"), (b, "Bob Rep"), (m, "Meg Manager")):
            await session.execute(
                text("UPDATE users SET name = :name WHERE id = :id"), {"name": name, "id": user_id}
            )
        await session.commit()

    calls = _october_calls((a1, a2, b1, s1), (a, b, m, stranger.actor.user_id))
    for contact, placed_by, at, figures in calls:
        await seed_call(db, contact, placed_by, at=at, **figures)
    return Seed(manager.actor, rep_a.actor, rep_b.actor, stranger.actor, admin.actor)


def query(metrics: tuple[str, ...] = ALL_METRICS, dimension: str | None = None, **kw: Any) -> Query:
    return Query(metrics, dimension, OCTOBER.start, OCTOBER.end, tz=TZ, **kw)


async def answer(db: Database, actor: Actor, q: Query) -> analytics.Table:
    async with db.session() as session:
        return await run(session, actor, q)


# --- the independent SQL -------------------------------------------------------------------

CONNECTED = (
    "c.status = 'completed' AND c.duration_s > 0"
    " AND coalesce(c.answered_by, '') NOT LIKE 'machine%%' AND coalesce(c.answered_by, '') <> 'fax'"
)
OUTCOME = (
    "coalesce(ci.outcome, CASE WHEN c.outcome IN ('busy', 'failed') THEN 'no_answer'"
    " ELSE c.outcome END, 'unknown')"
)
TIME_BUCKETS = ("day", "week", "month", "hour_of_day")
DIMENSION_SQL = {
    "day": "(c.created_at AT TIME ZONE :tz)::date",
    "week": "date_trunc('week', c.created_at AT TIME ZONE :tz)::date",
    "month": "date_trunc('month', c.created_at AT TIME ZONE :tz)::date",
    "hour_of_day": "extract(hour FROM c.created_at AT TIME ZONE :tz)::int",
    "rep": "u.name",
    "outcome": OUTCOME,
    "objection": "o.objection",
    "company": "coalesce(ct.company, '(no company)')",
}


async def direct(
    db: Database, where: str, params: dict[str, Any], dimension: str | None
) -> dict[Any, dict[str, Any]]:
    """Base figures per dimension value, by hand-written SQL."""
    key = DIMENSION_SQL[dimension] if dimension else "'all'"
    outcomes = ", ".join(f"count(*) FILTER (WHERE {OUTCOME} = '{o}') AS o_{o}" for o in OUTCOMES)
    objections = ", ".join(
        f"count(*) FILTER (WHERE '{o}' = ANY(ci.objections)) AS x_{o}" for o in OBJECTIONS
    )
    lateral = (
        "CROSS JOIN LATERAL unnest(ci.objections) AS o(objection)"
        if dimension == "objection"
        else ""
    )
    sql = f"""
        SELECT {key} AS k, count(*) AS calls,
               count(*) FILTER (WHERE {CONNECTED}) AS connected,
               coalesce(sum(c.duration_s) FILTER (WHERE {CONNECTED}), 0) AS talk,
               coalesce(sum(c.cost_mc), 0) AS cost_mc, {outcomes}, {objections}
        FROM calls c
        JOIN contacts ct ON ct.id = c.contact_id
        JOIN users u ON u.id = c.placed_by
        LEFT JOIN call_insights ci ON ci.call_id = c.id
        {lateral}
        WHERE c.created_at >= :start AND c.created_at < :end AND {where}
        GROUP BY 1
    """  # noqa: S608 (the test's own fixed fragments)
    async with db.session() as session:
        rows = (await session.execute(text(sql), params)).mappings().all()
    return {r["k"]: dict(r) for r in rows}


def expected_cells(base: dict[str, Any] | None) -> list[Any]:
    """The table's cells for all metrics, from one row of base figures."""
    b = base or {"calls": 0, "connected": 0, "talk": 0, "cost_mc": 0}
    calls, connected, talk = b["calls"], b["connected"], b["talk"]
    return [
        calls,
        connected,
        round(connected / calls, 4) if calls else None,
        talk,
        round(talk / connected, 1) if connected else None,
        Decimal(b["cost_mc"]) / 1000,
        *(b.get(f"o_{o}", 0) for o in OUTCOMES),
        *(b.get(f"x_{o}", 0) for o in OBJECTIONS),
        b.get("o_opted_out", 0),
    ]


def by_label(table: analytics.Table) -> dict[Any, list[Any]]:
    assert table.dimension is not None
    labels = [row[0] for row in table.rows]
    assert len(labels) == len(set(labels)), "each dimension value once"
    return {row[0]: list(row[1:]) for row in table.rows}


async def cross_check(
    db: Database,
    actor: Actor,
    where: str,
    params: dict[str, Any],
    *,
    tz: str = TZ,
    span: Any = OCTOBER,
    dimensions: Iterable[str] = DIMENSIONS,
    **kw: Any,
) -> int:
    """Every metric, in total and by each of `dimensions`, against `direct`; the number of
    calls in the period."""
    base_params = {"tz": tz, "start": span.start, "end": span.end, **params}

    def ask(dimension: str | None = None) -> Query:
        return Query(ALL_METRICS, dimension, span.start, span.end, tz=tz, **kw)

    totals = await answer(db, actor, ask())
    want = await direct(db, where, base_params, None)
    assert list(totals.rows[0]) == expected_cells(want.get("all"))
    calls = int(totals.rows[0][0])
    for dimension in dimensions:
        table = await answer(db, actor, ask(dimension))
        assert table.columns[0] == dimension
        got, want = by_label(table), await direct(db, where, base_params, dimension)
        if dimension in TIME_BUCKETS:
            assert set(want) <= set(got)  # every bucket listed, empty ones as zeros
            assert sum(cells[0] for cells in got.values()) == calls, (tz, dimension)
        else:
            assert set(got) == set(want), dimension
        for label, cells in got.items():
            assert cells == expected_cells(want.get(label)), (tz, dimension, label)
    return calls


# --- figures -------------------------------------------------------------------------------


async def test_manager_figures_match_direct_sql_for_every_metric_and_dimension(
    db: Database, seed: Seed
) -> None:
    await cross_check(db, seed.manager, "c.workspace_id = :ws", {"ws": seed.manager.workspace_id})


async def test_rep_figures_match_direct_sql_over_their_own_contacts(
    db: Database, seed: Seed
) -> None:
    await cross_check(
        db,
        seed.rep_a,
        "ct.owner_id = :me AND c.workspace_id = :ws",
        {"me": seed.rep_a.user_id, "ws": seed.rep_a.workspace_id},
    )


async def test_manager_filtering_by_rep_matches_direct_sql(db: Database, seed: Seed) -> None:
    await cross_check(
        db,
        seed.manager,
        "c.placed_by = :rep AND c.workspace_id = :ws",
        {"rep": seed.rep_b.user_id, "ws": seed.manager.workspace_id},
        rep_id=seed.rep_b.user_id,
    )


async def test_totals_worked_out_by_hand(db: Database, seed: Seed) -> None:
    table = await answer(db, seed.manager, query())
    assert table.columns == (
        "calls",
        "connected",
        "connect_rate",
        "talk_time_s",
        "avg_duration_s",
        "credits_spent",
        *(f"outcome:{o}" for o in OUTCOMES),
        *(f"objection:{o}" for o in OBJECTIONS),
        "opt_outs",
    )
    (row,) = table.rows
    figures = dict(zip(table.columns, row, strict=True))
    assert figures["calls"] == 11
    assert figures["connected"] == 6  # voicemail, busy, no-answer, failed, in progress: not
    assert figures["connect_rate"] == round(6 / 11, 4)
    assert figures["talk_time_s"] == 120 + 60 + 45 + 200 + 90 + 10
    assert figures["avg_duration_s"] == 87.5
    assert figures["credits_spent"] == Decimal(555)
    assert [figures[f"outcome:{o}"] for o in OUTCOMES] == [2, 2, 1, 1, 3, 1]
    assert [figures[f"objection:{o}"] for o in OBJECTIONS] == [2, 1, 1, 1, 1]
    assert figures["opt_outs"] == 1
    assert table.units["credits_spent"] == "credits" and table.units["talk_time_s"] == "s"


async def test_breakdowns_worked_out_by_hand(db: Database, seed: Seed) -> None:
    days = by_label(await answer(db, seed.manager, query(("calls",), "day")))
    assert len(days) == 31 and next(iter(days)) == date(2026, 10, 1)
    assert days[date(2026, 10, 5)] == [3]  # 23:30 New York time is still the 5th
    assert days[date(2026, 10, 6)] == [0]
    assert days[date(2026, 10, 31)] == [1]

    reps = await answer(db, seed.manager, query(("calls", "talk_time_s"), "rep"))
    assert reps.rows == [("Ann Rep", 6, 180), ("Bob Rep", 4, 255), ("Meg Manager", 1, 90)]

    objections = await answer(db, seed.manager, query(("calls",), "objection"))
    assert objections.rows[0] == ("price", 2)
    assert {row[0] for row in objections.rows} == set(OBJECTIONS)

    outcomes = by_label(await answer(db, seed.manager, query(("calls",), "outcome")))
    assert outcomes == {
        "no_answer": [3],
        "interested": [2],
        "not_interested": [2],
        "callback_booked": [1],
        "voicemail": [1],
        "opted_out": [1],
        "unknown": [1],
    }

    hours = by_label(await answer(db, seed.manager, query(("calls",), "hour_of_day")))
    assert list(hours) == list(range(24))
    assert hours[23] == [2] and hours[10] == [2] and hours[3] == [0]

    companies = by_label(await answer(db, seed.manager, query(("calls",), "company")))
    assert companies == {"Acme": [4], "Globex": [3], "(no company)": [4]}

    weeks = by_label(await answer(db, seed.manager, query(("calls",), "week")))
    assert next(iter(weeks)) == date(2026, 9, 28)  # the Monday of the week of 1 October
    assert sum(v[0] for v in weeks.values()) == 11


# --- scoping -------------------------------------------------------------------------------


async def test_reps_see_calls_of_their_own_contacts_only(db: Database, seed: Seed) -> None:
    mine = await answer(db, seed.rep_a, query(("calls",), "rep"))
    # Their own six and the manager's call to their contact; none of rep B's.
    assert sorted(row[1] for row in mine.rows) == [1, 6]
    theirs = await answer(db, seed.rep_b, query(("calls",)))
    assert theirs.rows == [(4,)]


async def test_other_workspaces_are_invisible_and_admins_see_everything(
    db: Database, seed: Seed
) -> None:
    stranger = await answer(db, seed.stranger, query(("calls",)))
    assert stranger.rows == [(1,)]
    everyone = await answer(db, seed.admin, query(("calls",)))
    assert everyone.rows[0][0] >= 12  # both seeded workspaces (and any other test's)


async def test_rep_filters_are_checked(db: Database, seed: Seed) -> None:
    async with db.session() as session:
        with pytest.raises(AnalyticsError, match="own calls only"):
            await run(session, seed.rep_a, query(rep_id=seed.rep_b.user_id))
        with pytest.raises(AnalyticsError, match="no such rep in your workspace"):
            await run(session, seed.manager, query(rep_id=seed.stranger.user_id))
        with pytest.raises(AnalyticsError, match="no such rep in your workspace"):
            await run(session, seed.manager, query(rep_id=uuid.uuid4()))
        own = await run(session, seed.rep_a, query(("calls",), rep_id=seed.rep_a.user_id))
    assert own.rows == [(6,)]


# --- periods -------------------------------------------------------------------------------

NOW = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # Wednesday, 12:00 in New York


@pytest.mark.parametrize(
    ("phrase", "start", "end"),
    [
        ("today", (2026, 11, 18), (2026, 11, 19)),
        ("yesterday", (2026, 11, 17), (2026, 11, 18)),
        ("this week", (2026, 11, 16), (2026, 11, 19)),
        ("last week", (2026, 11, 9), (2026, 11, 16)),
        ("this month", (2026, 11, 1), (2026, 11, 19)),
        ("last month", (2026, 10, 1), (2026, 11, 1)),
        ("Last 30 days", (2026, 10, 20), (2026, 11, 19)),
        ("this quarter", (2026, 10, 1), (2026, 11, 19)),
        ("last quarter", (2026, 7, 1), (2026, 10, 1)),
        ("last year", (2025, 1, 1), (2026, 1, 1)),
        ("2026-11-01..2026-11-15", (2026, 11, 1), (2026, 11, 16)),
        ("October", (2026, 10, 1), (2026, 11, 1)),
        ("in december", (2025, 12, 1), (2026, 1, 1)),
        ("march 2025", (2025, 3, 1), (2025, 4, 1)),
    ],
)
def test_parse_period(phrase: str, start: tuple[int, int, int], end: tuple[int, int, int]) -> None:
    zone = ZoneInfo(TZ)
    period = parse_period(phrase, NOW, TZ)
    assert period.start == datetime(*start, tzinfo=zone)
    assert period.end == datetime(*end, tzinfo=zone)


def test_parse_period_days_follow_the_zone_across_a_dst_change() -> None:
    period = parse_period("2026-11-01..2026-11-01", NOW, TZ)
    assert period.start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert period.end.astimezone(UTC) - period.start == timedelta(hours=25)  # clocks went back


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("next week", "can't read the period"),
        ("2026-02-30..2026-03-01", "not a valid date range"),
        ("2026-11-10..2026-11-01", "ends before it starts"),
        ("last 0 days", "at least one"),
    ],
)
def test_parse_period_refuses_what_it_cannot_read(phrase: str, message: str) -> None:
    with pytest.raises(AnalyticsError, match=message):
        parse_period(phrase, NOW, TZ)


# --- bad input -----------------------------------------------------------------------------


def test_unknown_metric_lists_the_valid_ones() -> None:
    with pytest.raises(AnalyticsError) as caught:
        query(("calls", "revenue"))
    assert "Unknown metric 'revenue'" in str(caught.value)
    for name in METRICS:
        assert name in str(caught.value)


def test_unknown_dimension_lists_the_valid_ones() -> None:
    with pytest.raises(AnalyticsError) as caught:
        query(("calls",), "region; DROP TABLE calls")
    assert "Unknown dimension 'region; DROP TABLE calls'" in str(caught.value)
    for name in DIMENSIONS:
        assert name in str(caught.value)


def test_names_are_normalised() -> None:
    q = Query(["Connect rate", "talk-time", "calls", "calls"], "Hour", OCTOBER.start, OCTOBER.end)
    assert q.metrics == ("connect_rate", "talk_time_s", "calls")
    assert q.dimension == "hour_of_day"


def test_periods_in_the_future_or_backwards_are_refused() -> None:
    soon = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(AnalyticsError, match="starts in the future"):
        Query(("calls",), None, soon, soon + timedelta(days=7))
    with pytest.raises(AnalyticsError, match="ends before it starts"):
        Query(("calls",), None, OCTOBER.end, OCTOBER.start)
    with pytest.raises(AnalyticsError, match="need a time zone"):
        Query(("calls",), None, datetime(2026, 10, 1), datetime(2026, 10, 2))
    with pytest.raises(AnalyticsError, match="Unknown time zone"):
        Query(("calls",), None, OCTOBER.start, OCTOBER.end, tz="Mars/Olympus")
    with pytest.raises(AnalyticsError, match="at least one metric"):
        Query((), None, OCTOBER.start, OCTOBER.end)


# --- presenting ----------------------------------------------------------------------------


async def test_csv_markdown_and_chart(db: Database, seed: Seed) -> None:
    days = await answer(db, seed.manager, query(("calls", "connect_rate", "credits_spent"), "day"))
    rows = list(csv.reader(io.StringIO(to_csv(days))))
    assert rows[0] == ["day", "calls", "connect_rate", "credits_spent"]
    assert rows[5] == ["2026-10-05", "3", str(round(2 / 3, 4)), "180"]
    assert rows[6] == ["2026-10-06", "0", "", "0"]  # no calls: no rate
    assert len(rows) == 32
    markdown = to_markdown(days)
    assert markdown.splitlines()[0] == "| Day | Calls | Connect rate | Credits spent |"
    assert "| 2026-10-06 | 0 | – | 0 |" in markdown
    rated = next(line for line in markdown.splitlines() if line.startswith("| 2026-10-05 "))
    assert rated.split(" | ")[2].endswith("%"), rated  # rates read as percentages

    line = chart(days)
    # Calls and the rate on their own axes (counts left, percent right); credits, a
    # third unit, only in the table.
    assert [trace.type for trace in line.data] == ["scatter"] * 2
    assert line.data[0].y[4] == 3.0 and line.data[1].y[5] is None
    assert line.data[1].y[4] == round(2 / 3 * 100, 1) and line.data[1].yaxis == "y2"
    assert line.layout.yaxis2.ticksuffix == "%" and tuple(line.layout.yaxis2.range) == (0, 100)
    assert line.layout.title.text == (
        "Calls, connect rate and credits spent by day, 2026-10-01 to 2026-10-31"
    )

    companies = await answer(db, seed.manager, query(("calls",), "company"))
    bars = chart(companies)
    (trace,) = bars.data
    assert trace.type == "bar" and trace.orientation == "h"  # ranked, largest on top
    assert list(trace.y) == [row[0] for row in companies.rows]
    assert list(trace.x) == [float(row[1]) for row in companies.rows]
    assert list(trace.x) == sorted(trace.x, reverse=True)

    totals = chart(await answer(db, seed.manager, query(("calls", "opt_outs"))))
    assert [t.type for t in totals.data] == ["indicator", "indicator"]


# --- time zones: buckets are exact in any zone ---------------------------------------------

# Whole-hour, half-hour and 45-minute offsets; DST that skips (Havana in March, Santiago in
# September) or repeats (Havana in November, Santiago in April) a midnight; Lord Howe's
# 30-minute DST; a zone 14 hours ahead.
ZONES = (
    "UTC",
    "America/New_York",
    "America/Havana",
    "America/Santiago",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
)
ZONED_SPAN = "2026-02-23..2026-11-15"


@dataclass
class ZonedSeed:
    manager: Actor
    rep_a: Actor
    rep_b: Actor


@pytest.fixture(scope="module")
async def zoned(_engine_owner: Database) -> ZonedSeed:
    """A workspace whose calls are placed every 29 minutes from mid-February to
    mid-November 2026 (UTC), plus a call at, and one a microsecond before, every local
    midnight of every zone in `ZONES`: a call on the wrong side of a bucket's edge shows."""
    db = _engine_owner
    manager = await make_member(db, Role.MANAGER)
    ws = manager.actor.workspace_id
    rep_a = await make_member(db, Role.REP, workspace_id=ws)
    rep_b = await make_member(db, Role.REP, workspace_id=ws)
    a, b, m = rep_a.actor.user_id, rep_b.actor.user_id, manager.actor.user_id
    ca = await make_contact(db, rep_a.actor, name="Ann Acme", company="Acme")
    cb = await make_contact(db, rep_b.actor, name="Bo Globex", company="Globex")
    first, last = utc(2, 15, 0), utc(11, 20, 0)
    instants = {
        first + timedelta(minutes=29 * i)
        for i in range(int((last - first) / timedelta(minutes=29)))
    }
    for tz in ZONES:
        zone, day = ZoneInfo(tz), date(2026, 2, 16)
        while day < date(2026, 11, 19):
            midnight = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
            instants |= {midnight, midnight - timedelta(microseconds=1)}
            day += timedelta(days=1)
    rows: dict[str, list[Any]] = {"at": [], "contact": [], "placer": [], "status": [], "dur": []}
    for i, at in enumerate(sorted(instants)):
        connected = i % 3 != 0
        rows["at"].append(at)
        owner, other = (a, b) if i % 2 else (b, a)
        rows["contact"].append(ca.id if i % 2 else cb.id)
        # Mostly the contact's owner; every fifth call the manager, every seventh the other rep.
        rows["placer"].append(m if i % 5 == 0 else other if i % 7 == 0 else owner)
        rows["status"].append("completed" if connected else ("busy", "no-answer")[i % 2])
        rows["dur"].append(i % 611 if connected else 0)
    async with db.session() as session:
        decision = await session.scalar(
            text(
                "INSERT INTO compliance_decisions (workspace_id, phone_e164, actor_id, decided_at,"
                " allowed) VALUES (:ws, '+12125550100', :actor, now(), true) RETURNING id"
            ),
            {"ws": ws, "actor": m},
        )
        await session.execute(
            text("""
                INSERT INTO calls (id, workspace_id, contact_id, placed_by, phone_e164, from_e164,
                                   decision_id, time_limit_s, status, answered_by, duration_s,
                                   cost_mc, created_at)
                SELECT gen_random_uuid(), :ws, t.contact, t.placer, '+12125550100',
                       '+15005550006', :decision, 600, t.status,
                       CASE WHEN t.status = 'completed' THEN 'human' END, t.dur, t.dur * 1000,
                       t.at
                FROM unnest(CAST(:at AS timestamptz[]), CAST(:contact AS uuid[]),
                            CAST(:placer AS uuid[]), CAST(:status AS text[]),
                            CAST(:dur AS int[])) AS t(at, contact, placer, status, dur)
            """),
            {"ws": ws, "decision": decision, **rows},
        )
        await session.commit()
    return ZonedSeed(manager.actor, rep_a.actor, rep_b.actor)


@pytest.mark.parametrize("tz", ZONES)
async def test_time_buckets_match_direct_sql_in_any_zone(
    db: Database, zoned: ZonedSeed, tz: str
) -> None:
    """Days, weeks, months and hours of day across DST changes and odd offsets, for a
    manager, a rep (their own contacts' calls) and a manager asking about one rep, against
    PostgreSQL's own `AT TIME ZONE` bucketing: every call counted once, in its bucket."""
    span = parse_period(ZONED_SPAN, datetime(2026, 11, 29, tzinfo=UTC), tz)
    ws = zoned.manager.workspace_id
    scopes = [
        (zoned.manager, "c.workspace_id = :ws", {"ws": ws}, {}),
        (
            zoned.rep_a,
            "ct.owner_id = :me AND c.workspace_id = :ws",
            {"me": zoned.rep_a.user_id, "ws": ws},
            {},
        ),
        (
            zoned.manager,
            "c.placed_by = :rep AND c.workspace_id = :ws",
            {"rep": zoned.rep_b.user_id, "ws": ws},
            {"rep_id": zoned.rep_b.user_id},
        ),
    ]
    for actor, where, params, kw in scopes:
        calls = await cross_check(
            db, actor, where, params, tz=tz, span=span, dimensions=TIME_BUCKETS, **kw
        )
        assert calls > 1000


def test_a_period_reads_as_the_end_of_a_sentence() -> None:
    """ "No calls yesterday", "No calls in the last 7 days" — never "in yesterday"."""
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    said = {
        text: parse_period(text, now, "America/New_York").said
        for text in ("today", "yesterday", "this week", "last month", "last 7 days", "in march")
    }
    assert said == {
        "today": "today",
        "yesterday": "yesterday",
        "this week": "this week",
        "last month": "last month",
        "last 7 days": "in the last 7 days",
        "in march": "in March 2026",
    }
    assert (
        parse_period("2026-11-01..2026-11-05", now, "UTC").said == "from 2026-11-01 to 2026-11-05"
    )
