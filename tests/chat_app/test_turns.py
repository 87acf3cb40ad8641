"""An answer that did assistant work is billed 0.5 credit exactly once; free answers,
refused and failed ones cost nothing (per category: test_billing_categories.py)."""

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy import text as sql_text

from accounts.ratelimit import Limit
from billing import ledger
from billing.models import CreditHold, LedgerEntry
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.models import AssistantMessage, AssistantTurn
from chat_app.turns import TurnStatus, answer_message
from core import sql_functions
from core.errors import NotFound
from tests.chat_app.helpers import funded_rep
from tests.insights.helpers import make_contact, seed_call

AGENT = build_agent(OfflineChatModel())


async def test_answer_debits_half_a_credit_once(db):
    actor = await funded_rep(db, 2000)
    contact = await make_contact(db, actor)
    await seed_call(db, contact, actor.user_id, at=datetime.now(UTC), duration_s=0)
    first = await answer_message(
        db, AGENT, actor, text="list my calls", message_id="m-1-" + str(actor.user_id)
    )
    assert first.status is TurnStatus.ANSWERED
    assert [c.name for c in first.tool_calls] == ["list_calls"]
    assert "Sam Rivera" in first.body
    assert (first.cost_mc, first.balance_mc, first.held_mc) == (500, 1500, 0)
    assert first.footer == "— charged 0.5 credits · balance 1.5 credits"
    again = await answer_message(
        db, AGENT, actor, text="list my calls", message_id=first.message_id
    )
    assert again.status is TurnStatus.DUPLICATE and again.balance_mc == 1500
    async with db.session() as s:
        assert (await ledger.audit(s, actor.workspace_id)).consistent


async def test_billable_work_without_credits_is_refused_free_and_says_how_to_buy(db):
    actor = await funded_rep(db, 400)
    contact = await make_contact(db, actor)
    await seed_call(db, contact, actor.user_id, at=datetime.now(UTC), duration_s=0)
    result = await answer_message(
        db, AGENT, actor, text="list my calls", message_id=str(uuid.uuid4())
    )
    assert result.status is TurnStatus.ANSWERED and result.cost_mc == 0
    assert "out of credits" in result.body and "Sam Rivera" not in result.body
    assert "buy the starter pack" in result.body and "0.4 credits available" in result.body
    assert result.footer == "— no charge · balance 0.4 credits"
    async with db.session() as s:
        balance = await ledger.get_balance(s, actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (400, 0)


async def test_failing_agent_releases_the_hold(db):
    class Broken:
        async def astream(self, *args, **kwargs):
            # A billable tool had started: the answer's price is held, then it fails.
            assert await kwargs["context"].meter.reserve() is None
            kwargs["context"].meter.did_work("list_calls")
            raise RuntimeError("model exploded")
            yield  # pragma: no cover

    actor = await funded_rep(db, 1000)
    result = await answer_message(
        db, Broken(), actor, text="credits?", message_id=str(uuid.uuid4())
    )
    assert result.status is TurnStatus.FAILED and "Nothing was charged" in result.body
    async with db.session() as s:
        balance = await ledger.get_balance(s, actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (1000, 0)


async def test_empty_and_huge_messages_are_refused(db):
    actor = await funded_rep(db, 1000)
    empty = await answer_message(db, AGENT, actor, text="   ", message_id=str(uuid.uuid4()))
    huge = await answer_message(db, AGENT, actor, text="x" * 5000, message_id=str(uuid.uuid4()))
    assert empty.status is TurnStatus.REFUSED and huge.status is TurnStatus.REFUSED
    assert "limit" in huge.body
    async with db.session() as s:
        assert (await ledger.get_balance(s, actor.workspace_id)).balance_mc == 1000


async def test_a_user_over_the_message_rate_is_refused_free_and_others_are_not(db):
    limits = (Limit("chat:user:minute", 3, 60), Limit("chat:user:hour", 100, 3600))
    actor = await funded_rep(db, 10_000)
    other = await funded_rep(db, 10_000)
    results = [
        await answer_message(
            db, AGENT, actor, text="credits?", message_id=str(uuid.uuid4()), limits=limits
        )
        for _ in range(5)
    ]
    assert [r.status for r in results] == [TurnStatus.ANSWERED] * 3 + [TurnStatus.REFUSED] * 2
    assert "faster than I can answer" in results[3].body
    assert "wait about 1 minute" in results[3].body and "Nothing was charged" in results[3].body
    async with db.session() as s:
        # Balance questions are free.
        assert (await ledger.get_balance(s, actor.workspace_id)).balance_mc == 10_000
    # The limit is per user: someone else is still answered.
    theirs = await answer_message(
        db, AGENT, other, text="credits?", message_id=str(uuid.uuid4()), limits=limits
    )
    assert theirs.status is TurnStatus.ANSWERED


async def test_a_connection_dropped_mid_answer_costs_nothing_and_leaves_nothing_half_done(db):
    started = asyncio.Event()

    class Slow:
        async def astream(self, *args, **kwargs):
            assert await kwargs["context"].meter.reserve() is None  # a billable tool began
            started.set()
            await asyncio.sleep(60)
            yield {}  # pragma: no cover

    actor = await funded_rep(db, 1000)
    message_id = str(uuid.uuid4())
    turn = asyncio.create_task(
        answer_message(db, Slow(), actor, text="credits?", message_id=message_id)
    )
    await started.wait()
    async with db.session() as s:
        assert (await ledger.get_balance(s, actor.workspace_id)).held_mc == 500
    turn.cancel()  # what the UI does when the socket goes away or the user presses stop
    with pytest.raises(asyncio.CancelledError):
        await turn
    async with db.session() as s:
        balance = await ledger.get_balance(s, actor.workspace_id)
        stored = await s.get(AssistantTurn, message_id)
        messages = await s.scalar(
            select(func.count())
            .select_from(AssistantMessage)
            .where(AssistantMessage.thread_id == stored.thread_id)
        )
    assert (balance.balance_mc, balance.held_mc) == (1000, 0)
    assert stored.status == "failed" and messages == 0
    again = await answer_message(db, AGENT, actor, text="credits?", message_id=message_id)
    assert again.status is TurnStatus.DUPLICATE and "send it again" in again.body
    assert again.balance_mc == 1000


async def test_thread_continues_with_history(db):
    actor = await funded_rep(db, 5000)
    one = await answer_message(db, AGENT, actor, text="hello", message_id=str(uuid.uuid4()))
    two = await answer_message(
        db, AGENT, actor, text="credits?", message_id=str(uuid.uuid4()), thread_id=one.thread_id
    )
    # A greeting and a balance question: both free.
    assert two.thread_id == one.thread_id and two.balance_mc == 5000
    assert (one.cost_mc, two.cost_mc) == (0, 0) and "Balance: 5 credits" in two.body


def test_ask_unknown_user_exits_2(database, tmp_path):
    env = {"DATABASE_URL": database.url.render_as_string(hide_password=False), "PATH": "/usr/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "chat_app.cli", "ask", "--user", "nobody@x", "hi"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: no user with email nobody@x"


def test_serve_with_unreachable_database_names_host_not_password(tmp_path):
    env = {"DATABASE_URL": "postgresql://u:s3cretpw@127.0.0.1:1/db", "PATH": "/usr/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "chat_app.cli", "serve", "--port", "8999"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "127.0.0.1:1" in proc.stderr and "s3cretpw" not in proc.stderr


async def test_another_users_thread_is_not_found_and_the_attempt_still_counts(db):
    owner = await funded_rep(db, 5000)
    stranger = await funded_rep(db, 5000)
    first = await answer_message(db, AGENT, owner, text="hello", message_id=str(uuid.uuid4()))
    tight = (Limit("chat:user:minute", 1, 60),)
    with pytest.raises(NotFound, match="No such conversation"):
        await answer_message(
            db,
            AGENT,
            stranger,
            text="credits?",
            message_id=str(uuid.uuid4()),
            thread_id=first.thread_id,
            limits=tight,
        )
    async with db.session() as s:
        stored = await s.scalar(
            select(func.count()).where(AssistantMessage.thread_id == first.thread_id)
        )
        turns = await s.scalar(
            select(func.count()).where(AssistantTurn.user_id == stranger.user_id)
        )
    assert (stored, turns) == (2, 0)  # the owner's greeting and its answer, nothing more
    # The refused attempt was counted: the stranger's next message is over the limit.
    over = await answer_message(
        db, AGENT, stranger, text="credits?", message_id=str(uuid.uuid4()), limits=tight
    )
    assert over.status is TurnStatus.REFUSED and "faster than I can answer" in over.body


async def test_a_turn_on_a_thread_is_two_round_trips(db, monkeypatch):
    """The app's share of a turn is mostly round trips to PostgreSQL: a message on an
    existing thread is admitted by one database function call and settled and stored
    by another; the ORM's pool (a ping, BEGIN and COMMIT per checkout) is not used."""
    actor = await funded_rep(db, 5000)
    contact = await make_contact(db, actor)
    await seed_call(db, contact, actor.user_id, at=datetime.now(UTC), duration_s=0)
    first = await answer_message(db, AGENT, actor, text="hello", message_id=str(uuid.uuid4()))
    functions: list[str] = []
    orm: list[str] = []
    run = sql_functions._run

    async def counted(driver, sql, params):
        functions.append(sql.split("(")[0].removeprefix("SELECT * FROM "))
        return await run(driver, sql, params)

    def statement(conn, cursor, text, params, context, executemany):
        orm.append(" ".join(text.split())[:60])

    monkeypatch.setattr(sql_functions, "_run", counted)
    engine = db.engine().sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    try:
        greeting = await answer_message(
            db,
            AGENT,
            actor,
            text="hi again",
            message_id=str(uuid.uuid4()),
            thread_id=first.thread_id,
        )
        admitted, orm_free = list(functions), list(orm)
        listed = await answer_message(
            db,
            AGENT,
            actor,
            text="list my calls",
            message_id=str(uuid.uuid4()),
            thread_id=first.thread_id,
        )
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert greeting.status is TurnStatus.ANSWERED and greeting.cost_mc == 0
    assert (admitted, orm_free) == (["chat_turn_admit", "chat_turn_store"], [])
    # A billable answer adds its hold (one call too) and the tool's own reads, and is
    # charged once.
    assert listed.cost_mc == 500 and listed.balance_mc == 4500
    assert functions[2:4] == ["chat_turn_admit", "chat_turn_hold"]
    assert functions[-1] == "chat_turn_store"
    async with db.session() as s:
        debits = await s.scalar(
            select(func.count()).where(
                LedgerEntry.workspace_id == actor.workspace_id, LedgerEntry.kind == "query"
            )
        )
        assert debits == 1 and (await ledger.audit(s, actor.workspace_id)).consistent
        # The hold was noted on the turn as it was placed (a dead process's is released).
        turn = await s.get(AssistantTurn, listed.message_id)
        assert turn is not None and turn.hold_id is not None
        hold = await s.get(CreditHold, turn.hold_id)
        assert hold is not None and (hold.status, hold.settled_mc) == ("settled", 500)


async def test_an_admission_retried_after_its_commit_resumes_the_turn(db, monkeypatch):
    """The connection breaks after `chat_turn_admit` committed and before its reply came
    back: `call_function_alone` retries once on a fresh connection, and the retry must
    resume the turn it started — answered and charged once, the thread free — not find
    its own message id taken and leave the turn running (and the thread busy) until it
    goes stale."""
    actor = await funded_rep(db, 5000)
    contact = await make_contact(db, actor)
    await seed_call(db, contact, actor.user_id, at=datetime.now(UTC), duration_s=0)
    first = await answer_message(db, AGENT, actor, text="hello", message_id=str(uuid.uuid4()))
    run = sql_functions._run
    broke: list[str] = []

    async def lost_reply(driver, sql, params):
        rows = await run(driver, sql, params)  # committed: autocommit, one statement
        if "chat_turn_admit" in sql and not broke:
            broke.append(sql)
            async with db.session() as s:  # the server goes away before the reply lands
                await s.execute(
                    sql_text("SELECT pg_terminate_backend(:pid)"), {"pid": driver.info.backend_pid}
                )
            await driver.execute("SELECT 1")  # raises OperationalError; the driver is broken
        return rows

    monkeypatch.setattr(sql_functions, "_run", lost_reply)
    listed = await answer_message(
        db,
        AGENT,
        actor,
        text="list my calls",
        message_id=str(uuid.uuid4()),
        thread_id=first.thread_id,
    )
    monkeypatch.setattr(sql_functions, "_run", run)
    assert broke, "the admission's connection was never broken"
    assert listed.status is TurnStatus.ANSWERED, listed.body
    assert listed.cost_mc == 500 and listed.balance_mc == 4500
    async with db.session() as s:
        turn = await s.get(AssistantTurn, listed.message_id)
        assert turn is not None and turn.status == "answered"
    after = await answer_message(
        db, AGENT, actor, text="hi again", message_id=str(uuid.uuid4()), thread_id=first.thread_id
    )
    assert after.status is TurnStatus.ANSWERED  # the thread is not left busy
