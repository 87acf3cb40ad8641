"""One answered message: the assistant's unit of work and of billing.

Shared by the Chainlit UI and `klosesales ask`. A turn

1. records the message under its id (a repeated id is answered from the record,
   never charged twice);
2. runs the agent with the user and the answer's `QueryMeter` in the runtime context
   (tools.metering): a billable tool holds 0.5 credit right before it works — a
   workspace that cannot afford it is told so, free — and reports whether it did the
   work. A starter's message (chat_app.profiles) is answered with its question back,
   without the agent;
3. on success charges 0.5 credit if any billable work was done (the debit's key is
   `query:<message id>`), else releases the hold, and stores the conversation in the
   same transaction; on any failure releases the hold. Greetings, help, balance,
   packages, estimates, buying, the account, refusals, questions back, proposals
   and declines cost nothing; the footer says what was charged ("no charge" too).

Turns of one thread never overlap, in any number of processes: a turn starts under
a PostgreSQL advisory lock on its thread (`_lock_thread`, held for the starting
transaction only) and is refused, free, while another turn of the thread is still
running. A turn left "running" by a process that died is failed and its hold released
by the next turn once it is older than `STALE_TURN`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from langchain_core.exceptions import ModelTimeoutError
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    ToolMessage,
    messages_from_dict,
    messages_to_dict,
)
from sqlalchemy import func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import ratelimit
from accounts.models import Workspace, WorkspaceStatus
from accounts.otp import OtpProvider
from accounts.service import Actor
from billing import ledger
from billing.money import QUERY_PRICE_MC, credits_label, format_credits  # noqa: F401 (re-exported)
from billing.payments import Payments
from chat_app import profiles
from chat_app.llm import followups
from chat_app.llm.messages import message_text
from chat_app.models import AssistantMessage, AssistantThread, AssistantTurn
from core.db import Database
from core.errors import KloseError, NotFound
from core.settings import Settings
from telephony.provider import Telephony
from tools.context import AgentContext, Artifact, Ask, Confirm
from tools.metering import QueryMeter

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
TURN_TIMEOUT_S = 120.0
# A turn still "running" after this long belongs to a process that died (a live one
# ends within TURN_TIMEOUT_S, confirmations included).
STALE_TURN = timedelta(seconds=2 * TURN_TIMEOUT_S)
HISTORY_LIMIT = 40  # messages of context carried into a turn


def chat_limits(settings: Settings) -> tuple[ratelimit.Limit, ...]:
    """Per-user message limits (a refused message is free, but not unlimited)."""
    return _limits(settings.chat_messages_per_minute, settings.chat_messages_per_hour)


def _limits(per_minute: int, per_hour: int) -> tuple[ratelimit.Limit, ...]:
    return (
        ratelimit.Limit("chat:user:minute", per_minute, 60),
        ratelimit.Limit("chat:user:hour", per_hour, 3600),
    )


DEFAULT_CHAT_LIMITS = _limits(
    Settings.model_fields["chat_messages_per_minute"].default,
    Settings.model_fields["chat_messages_per_hour"].default,
)

BUSY = (
    "I'm still answering your previous message in this conversation. Send this one "
    "again once that answer has arrived. Nothing was charged for this message."
)


class TurnStatus(enum.StrEnum):
    ANSWERED = "answered"
    REFUSED = "refused"  # not answered on purpose (busy, empty message, …): free
    FAILED = "failed"  # the agent failed: free
    DUPLICATE = "duplicate"  # this message id was answered before: not charged again


@dataclass(frozen=True)
class ToolCallRecord:
    id: str
    name: str
    args: dict[str, Any]
    output: str | None = None


@dataclass
class TurnResult:
    status: TurnStatus
    body: str
    message_id: str
    thread_id: uuid.UUID | None
    cost_mc: int = 0
    balance_mc: int = 0
    held_mc: int = 0
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    # Charts and files the tools made (shown under the answer in chat).
    artifacts: list[Artifact] = field(default_factory=list)

    @property
    def footer(self) -> str:
        """What this message cost ("no charge" too) and the balance after it; none for
        a repeated message id (answered before)."""
        if self.status is TurnStatus.DUPLICATE:
            return ""
        charged = f"charged {credits_label(self.cost_mc)}" if self.cost_mc else "no charge"
        held = (
            f" ({format_credits(self.balance_mc - self.held_mc)} available)" if self.held_mc else ""
        )
        return f"— {charged} · balance {format_credits(self.balance_mc)} credits{held}"

    @property
    def text(self) -> str:
        return f"{self.body}\n\n{self.footer}" if self.footer else self.body


class TurnObserver(Protocol):
    """Told about tool use as it happens (the UI shows it as steps)."""

    async def tool_started(self, call: ToolCallRecord) -> None: ...

    async def tool_finished(self, call: ToolCallRecord) -> None: ...


class TurnError(KloseError):
    pass


async def _open_thread(
    session: AsyncSession, actor: Actor, thread_id: uuid.UUID | None, text: str
) -> uuid.UUID:
    """The thread's id: the user's own `thread_id`, or a new thread titled by `text`."""
    if thread_id is not None:
        owner = await session.scalar(
            select(AssistantThread.user_id).where(AssistantThread.id == thread_id)
        )
        # Someone else's thread is reported exactly like a missing one.
        if owner != actor.user_id:
            raise NotFound("No such conversation.")
        return thread_id
    created: uuid.UUID | None = await session.scalar(
        insert(AssistantThread)
        .values(
            user_id=actor.user_id,
            workspace_id=actor.workspace_id,
            title=text[:120],
        )
        .returning(AssistantThread.id)
    )
    assert created is not None
    return created


async def _lock_thread(session: AsyncSession, thread_id: uuid.UUID) -> None:
    """Take the thread's advisory lock until this transaction ends (waiting for any
    other process's transaction that holds it)."""
    await session.execute(
        sql_text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"assistant-thread:{thread_id}"},
    )


async def _thread_busy(session: AsyncSession, thread_id: uuid.UUID) -> bool:
    """Whether another turn of the thread is still running (under the thread's lock).
    Running turns older than STALE_TURN are failed and their holds released."""
    rows = (
        await session.execute(
            select(
                AssistantTurn.message_id,
                AssistantTurn.hold_id,
                (AssistantTurn.created_at < func.now() - STALE_TURN).label("stale"),
            ).where(AssistantTurn.thread_id == thread_id, AssistantTurn.status == "running")
        )
    ).all()
    for row in rows:
        if not row.stale:
            return True
        log.warning("assistant turn %s was left running: failed, hold released", row.message_id)
        if row.hold_id is not None:
            await ledger.release_hold(session, row.hold_id)
        await _finish(session, row.message_id, TurnStatus.FAILED, "failed: abandoned")
    return False


async def _next_seq(session: AsyncSession, thread_id: uuid.UUID) -> int:
    last = await session.scalar(
        select(func.max(AssistantMessage.seq)).where(AssistantMessage.thread_id == thread_id)
    )
    return 0 if last is None else int(last) + 1


async def _history(session: AsyncSession, thread_id: uuid.UUID) -> tuple[list[BaseMessage], int]:
    rows = (
        await session.execute(
            select(AssistantMessage.seq, AssistantMessage.message)
            .where(AssistantMessage.thread_id == thread_id)
            .order_by(AssistantMessage.seq.desc())
            .limit(HISTORY_LIMIT)
        )
    ).all()
    next_seq = rows[0].seq + 1 if rows else 0  # newest first: the highest seq
    messages = [row.message for row in reversed(rows)]
    # Never start the context on a tool result cut off from its call.
    while messages and messages[0].get("type") == "tool":
        messages.pop(0)
    return messages_from_dict(messages), next_seq


async def _finish(
    session: AsyncSession,
    turn_id: str,
    status: TurnStatus,
    body: str,
    *,
    cost_mc: int = 0,
    tool_calls: list[ToolCallRecord] | None = None,
) -> None:
    await session.execute(
        update(AssistantTurn)
        .where(AssistantTurn.message_id == turn_id)
        .values(
            status=status.value,
            answer=body,
            cost_mc=cost_mc,
            tool_calls=[{"name": c.name, "args": c.args} for c in tool_calls or []],
            finished_at=datetime.now(UTC),
        )
        .execution_options(synchronize_session=False)
    )


async def _run_agent(
    agent: Any,
    messages: list[BaseMessage],
    context: AgentContext,
    observer: TurnObserver | None,
) -> tuple[list[BaseMessage], list[ToolCallRecord]]:
    produced: list[BaseMessage] = []
    calls: dict[str, ToolCallRecord] = {}
    async for chunk in agent.astream(
        {"messages": messages},
        context=context,
        stream_mode="updates",
        config={"recursion_limit": 12},
    ):
        for node_update in chunk.values():
            if not isinstance(node_update, dict):
                continue
            for message in node_update.get("messages", []):
                produced.append(message)
                if isinstance(message, AIMessage):
                    for tc in message.tool_calls:
                        record = ToolCallRecord(
                            id=str(tc.get("id")), name=tc["name"], args=dict(tc["args"])
                        )
                        calls[record.id] = record
                        if observer:
                            await observer.tool_started(record)
                elif isinstance(message, ToolMessage):
                    started = calls.get(message.tool_call_id)
                    if started is not None:
                        done = ToolCallRecord(
                            started.id, started.name, started.args, message_text(message)
                        )
                        calls[started.id] = done
                        if observer:
                            await observer.tool_finished(done)
    return produced, list(calls.values())


async def answer_message(
    db: Database,
    agent: Any,
    actor: Actor,
    *,
    text: str,
    message_id: str,
    thread_id: uuid.UUID | None = None,
    observer: TurnObserver | None = None,
    auto_confirm: bool = False,
    confirm: Confirm | None = None,
    ask: Ask | None = None,
    payments: Payments | None = None,
    otp: OtpProvider | None = None,
    base_url: str = "http://127.0.0.1:8000",
    telephony: Telephony | None = None,
    watch_call: Callable[[uuid.UUID], Awaitable[None]] | None = None,
    timeout_s: float = TURN_TIMEOUT_S,
    limits: tuple[ratelimit.Limit, ...] = DEFAULT_CHAT_LIMITS,
) -> TurnResult:
    text = text.strip()
    if not message_id or len(message_id) > 100:
        raise TurnError("A message id of 1 to 100 characters is required.")

    async with db.session() as session:

        async def refuse(body: str, thread: uuid.UUID | None = thread_id) -> TurnResult:
            balance = await ledger.get_balance(session, actor.workspace_id)
            return TurnResult(
                TurnStatus.REFUSED,
                body,
                message_id,
                thread,
                balance_mc=balance.balance_mc,
                held_mc=balance.held_mc,
            )

        if not text:
            return await refuse("Please type a question or a request.")
        if len(text) > MAX_MESSAGE_CHARS:
            return await refuse(
                f"That message is {len(text):,} characters long; the limit is "
                f"{MAX_MESSAGE_CHARS:,}. Please shorten it. Nothing was charged."
            )
        status = await session.scalar(
            select(Workspace.status).where(Workspace.id == actor.workspace_id)
        )
        if status != WorkspaceStatus.ACTIVE.value:
            return await refuse("This workspace is suspended; the assistant is unavailable.")
        try:
            await ratelimit.allow(session, [(limit, str(actor.user_id)) for limit in limits])
        except ratelimit.RateLimited as exc:
            return await refuse(
                f"You're sending messages faster than I can answer them. {exc.wait_hint} "
                "Nothing was charged for this message."
            )

        thread_id = await _open_thread(session, actor, thread_id, text)
        await _lock_thread(session, thread_id)
        if await session.get(AssistantTurn, message_id) is not None:
            await session.rollback()
            return await _repeat(session, actor, message_id)
        if await _thread_busy(session, thread_id):
            await session.commit()  # keeps any stale turn's clean-up; ends the lock
            return await refuse(BUSY, thread_id)
        inserted = await session.scalar(
            insert(AssistantTurn)
            .values(
                message_id=message_id,
                thread_id=thread_id,
                user_id=actor.user_id,
                workspace_id=actor.workspace_id,
                status="running",
                user_text=text,
            )
            .on_conflict_do_nothing(index_elements=["message_id"])
            .returning(AssistantTurn.message_id)
        )
        if inserted is None:
            await session.rollback()
            return await _repeat(session, actor, message_id)

        history, _ = await _history(session, thread_id)
        await session.commit()

    async def record_hold(session: AsyncSession, hold_id: int) -> None:
        """The turn's hold, noted on its row (released if the process dies)."""
        await session.execute(
            update(AssistantTurn)
            .where(AssistantTurn.message_id == message_id)
            .values(hold_id=hold_id)
            .execution_options(synchronize_session=False)
        )

    meter = QueryMeter(db, actor.workspace_id, key=message_id, on_hold=record_hold)
    human = HumanMessage(content=text, id=message_id)
    said = [message_text(m) for m in history if isinstance(m, HumanMessage)]
    context = AgentContext(
        actor=actor,
        db=db,
        meter=meter,
        auto_confirm=auto_confirm,
        confirm=confirm,
        ask=ask,
        payments=payments,
        otp=otp,
        base_url=base_url,
        telephony=telephony,
        watch_call=watch_call,
        thread_id=thread_id,
        message_id=message_id,
        user_texts=[*said, text],
    )
    try:
        question_back = profiles.starter_reply(text)
        # "yes" / "no" to the thread's proposal (after a reload, from another process…).
        confirmed = None if question_back else await followups.answer_confirmation(context, text)
        if question_back is not None:
            # A starter never acts: it asks for the details (free).
            produced: list[BaseMessage] = [AIMessage(content=question_back)]
            calls: list[ToolCallRecord] = []
        elif confirmed is not None:
            produced, calls = confirmed.messages, confirmed.calls
        else:
            async with asyncio.timeout(min(timeout_s, TURN_TIMEOUT_S)):
                produced, calls = await _run_agent(agent, [*history, human], context, observer)
        final = next(
            (m for m in reversed(produced) if isinstance(m, AIMessage) and not m.tool_calls),
            None,
        )
        body = message_text(final).strip() if final is not None else ""
        if not body:
            raise TurnError("the model returned no answer")
    except BaseException as exc:
        # Failed, timed out, or cancelled (the client went away): release, charge nothing.
        await asyncio.shield(_fail(db, message_id, meter, exc))
        if not isinstance(exc, Exception):
            raise
        balance_now = await _balance_of(db, actor.workspace_id)
        return TurnResult(
            TurnStatus.FAILED,
            "Sorry — I couldn't produce an answer just now"
            + (" (it took too long)" if _timed_out(exc) else "")
            + ". Nothing was charged; please try again.",
            message_id,
            thread_id,
            balance_mc=balance_now.balance_mc,
            held_mc=balance_now.held_mc,
        )

    try:
        settled = await _store_answer(
            db, actor, message_id, thread_id, meter, [human, *produced], body, calls
        )
    except BaseException as exc:
        # Whatever fails after the hold (storing, the connection…) releases it.
        await asyncio.shield(_fail(db, message_id, meter, exc))
        if not isinstance(exc, Exception):
            raise
        balance_now = await _balance_of(db, actor.workspace_id)
        return TurnResult(
            TurnStatus.FAILED,
            "Sorry — I couldn't save that answer. Nothing was charged; please try again.",
            message_id,
            thread_id,
            balance_mc=balance_now.balance_mc,
            held_mc=balance_now.held_mc,
        )
    return TurnResult(
        TurnStatus.ANSWERED,
        body,
        message_id,
        thread_id,
        cost_mc=settled.cost_mc,
        balance_mc=settled.balance_mc,
        held_mc=settled.held_mc,
        tool_calls=calls,
        artifacts=list(context.artifacts),
    )


@dataclass(frozen=True)
class _Settled:
    cost_mc: int
    balance_mc: int
    held_mc: int


async def _store_answer(
    db: Database,
    actor: Actor,
    message_id: str,
    thread_id: uuid.UUID,
    meter: QueryMeter,
    messages: list[BaseMessage],
    body: str,
    calls: list[ToolCallRecord],
) -> _Settled:
    """Charge the answer (0.5 credit if billable work was done, else nothing: the hold,
    if any, is released) and store the conversation, in one transaction under the
    thread's lock (the messages take the thread's next free positions)."""
    async with db.session() as session:
        await _lock_thread(session, thread_id)
        next_seq = await _next_seq(session, thread_id)
        debit = await meter.settle(
            session,
            description="assistant answer",
            metadata={"thread_id": str(thread_id), "user_id": str(actor.user_id)},
        )
        if debit is not None:
            settled = _Settled(-debit.amount_mc, debit.balance_mc, debit.held_mc)
        else:
            balance = await ledger.get_balance(session, actor.workspace_id)
            settled = _Settled(0, balance.balance_mc, balance.held_mc)
        await session.execute(
            insert(AssistantMessage),
            [
                {"thread_id": thread_id, "seq": next_seq + offset, "message": stored}
                for offset, stored in enumerate(messages_to_dict(messages))
            ],
        )
        await _finish(
            session,
            message_id,
            TurnStatus.ANSWERED,
            body,
            cost_mc=settled.cost_mc,
            tool_calls=calls,
        )
        await session.execute(
            update(AssistantThread)
            .where(AssistantThread.id == thread_id)
            .values(updated_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return settled


def _timed_out(exc: BaseException) -> bool:
    """The turn's own deadline, or the model's request timing out: a chat model's
    timeout (`ModelTimeoutError`) or a transport timeout it let through mid-stream."""
    seen: BaseException | None = exc
    for _ in range(10):  # a short chain of causes; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, TimeoutError | ModelTimeoutError):
            return True
        seen = seen.__cause__
    return False


async def _balance_of(db: Database, workspace_id: uuid.UUID) -> ledger.Balance:
    async with db.session() as session:
        return await ledger.get_balance(session, workspace_id)


async def _fail(db: Database, message_id: str, meter: QueryMeter, exc: BaseException) -> None:
    log.warning("assistant turn %s failed: %s", message_id, type(exc).__name__, exc_info=exc)
    async with db.session() as session:
        if meter.hold_id is not None:
            await ledger.release_hold(session, meter.hold_id)
        await _finish(session, message_id, TurnStatus.FAILED, f"failed: {type(exc).__name__}")
        await session.commit()


async def _repeat(session: AsyncSession, actor: Actor, message_id: str) -> TurnResult:
    """A message id seen before: report what became of it, charge nothing more."""
    turn = await session.get(AssistantTurn, message_id)
    if turn is None or turn.user_id != actor.user_id:
        raise TurnError("That message id is already in use.")
    balance = await ledger.get_balance(session, actor.workspace_id)
    if turn.status == TurnStatus.ANSWERED.value and turn.answer:
        body = turn.answer
    elif turn.status == TurnStatus.FAILED.value:
        body = "This message could not be answered and nothing was charged: please send it again."
    elif turn.status == TurnStatus.REFUSED.value and turn.answer:
        body = turn.answer
    else:
        body = "This message is already being answered."
    return TurnResult(
        TurnStatus.DUPLICATE,
        body,
        message_id,
        turn.thread_id,
        balance_mc=balance.balance_mc,
        held_mc=balance.held_mc,
    )
