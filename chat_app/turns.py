"""One answered message: the assistant's unit of work and of billing.

Shared by the Chainlit UI and `klosesales ask`. A turn (`take_turn`, its steps
working over one `Turn`)

1. is admitted (`_admit`): the message is recorded under its id (a repeated id is
   answered from the record, never charged twice);
2. runs (`_run`): the agent runs with the user and the answer's `QueryMeter` in the
   runtime context (tools.metering): a billable tool holds 0.5 credit right before it
   works — a workspace that cannot afford it is told so, free — and reports whether
   it did the work. A starter's message (chat_app.profiles) is answered with its
   question back, without the agent;
3. is settled and stored (`_settle_and_store`): on success it charges 0.5 credit if
   any billable work was done (the debit's key is `query:<message id>`), else
   releases the hold, and stores the conversation in the same transaction; on any
   failure it releases the hold. Greetings, help, balance, packages, estimates,
   buying, the account, refusals, questions back, proposals and declines cost
   nothing; the footer says what was charged ("no charge" too).

Turns of one thread never overlap, in any number of processes: a turn starts under
a PostgreSQL advisory lock on its thread (held by `chat_turn_admit` while it starts
the turn) and is refused, free, while another turn of the thread is still
running. A turn left "running" by a process that died is failed and its hold released
by the next turn once it is older than `STALE_TURN`.
"""

from __future__ import annotations

import asyncio
import enum
import json
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
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import ratelimit
from accounts.otp import OtpProvider
from accounts.service import Actor
from billing import ledger
from billing.money import QUERY_PRICE_MC, credits_label, format_credits
from billing.payments import Payments
from chat_app import profiles
from chat_app.llm import followups
from chat_app.llm.messages import message_text
from chat_app.models import AssistantMessage, AssistantTurn
from core.base import new_id
from core.db import Database
from core.errors import KloseError, NotFound
from core.settings import Settings
from core.sql_functions import call_function_alone
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

SUSPENDED = "This workspace is suspended; the assistant is unavailable."
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


def _lock_key(thread_id: uuid.UUID) -> str:
    """The key of the thread's advisory lock (hashed by `hashtextextended`; the
    database function `chat_turn_admit` makes the same key)."""
    return f"assistant-thread:{thread_id}"


async def _lock_thread(session: AsyncSession, thread_id: uuid.UUID) -> None:
    """Take the thread's advisory lock until this transaction ends (waiting for any
    other process's transaction that holds it)."""
    await session.execute(
        sql_text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": _lock_key(thread_id)},
    )


async def _next_seq(session: AsyncSession, thread_id: uuid.UUID) -> int:
    last = await session.scalar(
        select(func.max(AssistantMessage.seq)).where(AssistantMessage.thread_id == thread_id)
    )
    return 0 if last is None else int(last) + 1


async def _fail_turn(session: AsyncSession, turn_id: str, reason: str) -> None:
    """Mark the turn failed (free), `reason` kept as its answer."""
    await session.execute(
        update(AssistantTurn)
        .where(AssistantTurn.message_id == turn_id)
        .values(
            status=TurnStatus.FAILED.value,
            answer=reason,
            cost_mc=0,
            tool_calls=[],
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


@dataclass(frozen=True)
class TurnServices:
    """What the tools of a turn may use besides the database (tools/context.py): how
    to confirm and ask, the providers, the public URL, a call watcher."""

    auto_confirm: bool = False
    confirm: Confirm | None = None
    ask: Ask | None = None
    payments: Payments | None = None
    otp: OtpProvider | None = None
    base_url: str = "http://127.0.0.1:8000"
    telephony: Telephony | None = None
    watch_call: Callable[[uuid.UUID], Awaitable[None]] | None = None


@dataclass
class Turn:
    """One message on its way through the steps: admit → run → settle and store.

    `thread_id` is the thread asked for until `_admit` opens it; `history`, `meter`
    and `context` are filled as the steps go."""

    db: Database
    agent: Any
    actor: Actor
    text: str
    message_id: str
    thread_id: uuid.UUID | None
    services: TurnServices
    observer: TurnObserver | None = None
    timeout_s: float = TURN_TIMEOUT_S
    limits: tuple[ratelimit.Limit, ...] = DEFAULT_CHAT_LIMITS
    history: list[BaseMessage] = field(default_factory=list)
    meter: QueryMeter | None = None
    context: AgentContext | None = None

    @property
    def thread(self) -> uuid.UUID:
        """The thread, once admitted."""
        if self.thread_id is None:
            raise TurnError("the turn has no thread yet")
        return self.thread_id

    async def place_hold(self, meter: QueryMeter, expires_at: datetime) -> ledger.HoldResult:
        """The answer's hold, noted on the turn's row in the same transaction (released
        by the thread's next turn if this process dies): one round trip,
        `chat_turn_hold`."""
        row = (
            await call_function_alone(
                self.db,
                _HOLD,
                {
                    "message": self.message_id,
                    "ws": meter.workspace_id,
                    "key": meter.hold_idempotency_key,
                    "price": QUERY_PRICE_MC,
                    "expires": expires_at,
                    "ref": meter.reference,
                },
            )
        ).one()
        return ledger.hold_result(row, meter.hold_idempotency_key, QUERY_PRICE_MC)

    def result(self, status: TurnStatus, body: str, balance: ledger.Balance) -> TurnResult:
        """A result with no charge and `balance` as it stands."""
        return TurnResult(
            status,
            body,
            self.message_id,
            self.thread_id,
            balance_mc=balance.balance_mc,
            held_mc=balance.held_mc,
        )


_HOLD = sql_text("SELECT * FROM chat_turn_hold(:message, :ws, :key, :price, :expires, :ref)")


@dataclass(frozen=True)
class _Answer:
    body: str
    messages: list[BaseMessage]  # the user's message and all the turn produced
    calls: list[ToolCallRecord]


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
    """Answer `text` as the turn `message_id` of `actor`'s thread (a new one when
    `thread_id` is None): the steps in the module's docstring."""
    if not message_id or len(message_id) > 100:
        raise TurnError("A message id of 1 to 100 characters is required.")
    services = TurnServices(
        auto_confirm, confirm, ask, payments, otp, base_url, telephony, watch_call
    )
    turn = Turn(
        db,
        agent,
        actor,
        text.strip(),
        message_id,
        thread_id,
        services,
        observer=observer,
        timeout_s=timeout_s,
        limits=limits,
    )
    return await take_turn(turn)


async def take_turn(turn: Turn) -> TurnResult:
    """Admit the turn, run it, then settle and store it; a failure after admission
    releases the hold and charges nothing."""
    turned_away = await _admit(turn)
    if turned_away is not None:
        return turned_away
    context = _prepare(turn)
    try:
        answer = await _run(turn, context)
    except BaseException as exc:
        # Failed, timed out, or cancelled (the client went away): release, charge nothing.
        await asyncio.shield(_fail(turn, exc))
        if not isinstance(exc, Exception):
            raise
        took_too_long = " (it took too long)" if _timed_out(exc) else ""
        return await _failed(
            turn,
            f"Sorry — I couldn't produce an answer just now{took_too_long}. "
            "Nothing was charged; please try again.",
        )
    try:
        settled = await _settle_and_store(turn, answer)
    except BaseException as exc:
        # Whatever fails after the hold (storing, the connection…) releases it.
        await asyncio.shield(_fail(turn, exc))
        if not isinstance(exc, Exception):
            raise
        return await _failed(
            turn, "Sorry — I couldn't save that answer. Nothing was charged; please try again."
        )
    return TurnResult(
        TurnStatus.ANSWERED,
        answer.body,
        turn.message_id,
        turn.thread_id,
        cost_mc=settled.cost_mc,
        balance_mc=settled.balance_mc,
        held_mc=settled.held_mc,
        tool_calls=answer.calls,
        artifacts=list(context.artifacts),
    )


# --- 1. admit ---------------------------------------------------------------------------


async def _admit(turn: Turn) -> TurnResult | None:
    """Record the message as a running turn of its thread and read the thread's
    history (None), or answer it without running: refused (free) or a repeat.

    One round trip: `chat_turn_admit` (core/migrations/sql) counts the attempt against
    the user's limits, checks the workspace and the thread (an existing one under its
    lock), turns away a repeated id or a busy thread, fails turns a dead process left
    running, starts the turn and reads the history, as its own transaction. A retry of
    the same admission (a reply lost after the commit) resumes the turn it started."""
    invalid = _invalid(turn.text)
    if invalid is not None:
        return await _refused(turn, invalid)
    at = datetime.now(UTC)
    counting = ratelimit.windows([(limit, str(turn.actor.user_id)) for limit in turn.limits], at)
    row = (
        await call_function_alone(
            turn.db,
            _ADMIT,
            {
                "workspace": turn.actor.workspace_id,
                "user": turn.actor.user_id,
                "thread": turn.thread_id,
                "new_thread": new_id(),
                "message": turn.message_id,
                "text": turn.text,
                "keys": [w.key for w in counting],
                "starts": [w.start for w in counting],
                "allowed": [w.allowed for w in counting],
                "stale": STALE_TURN,
                "history": HISTORY_LIMIT,
                # Names this admission: `call_function_alone`'s one retry (the same
                # parameters) then resumes the turn it may already have started.
                "attempt": new_id(),
            },
        )
    ).one()
    if row.abandoned:
        log.warning("%d turn(s) of thread %s were left running: failed", row.abandoned, row.thread)
    match row.outcome:
        case "started":
            turn.thread_id = row.thread
            turn.history = _messages(row.history)
            return None
        case "rate_limited":
            wait = ratelimit.RateLimited(
                ratelimit.retry_after(list(zip(counting, row.hits, strict=True)), at)
            )
            return await _refused(
                turn,
                f"You're sending messages faster than I can answer them. {wait.wait_hint} "
                "Nothing was charged for this message.",
            )
        case "suspended":
            return await _refused(turn, SUSPENDED)
        case "not_found":  # someone else's thread is reported exactly like a missing one
            raise NotFound("No such conversation.")
        case "busy":
            return await _refused(turn, BUSY)
        case "repeat":
            async with turn.db.session() as session:
                return await _repeat(session, turn.actor, turn.message_id)
    raise TurnError(f"unexpected admission outcome {row.outcome!r}")


_ADMIT = sql_text(
    "SELECT * FROM chat_turn_admit(:workspace, :user, :thread, :new_thread, :message, :text,"
    " :keys, :starts, :allowed, :stale, :history, :attempt)"
)


def _invalid(text: str) -> str | None:
    """Why a message's text cannot be answered (empty, too long), or None."""
    if not text:
        return "Please type a question or a request."
    if len(text) > MAX_MESSAGE_CHARS:
        return (
            f"That message is {len(text):,} characters long; the limit is "
            f"{MAX_MESSAGE_CHARS:,}. Please shorten it. Nothing was charged."
        )
    return None


async def _refused(turn: Turn, reason: str) -> TurnResult:
    """The message turned away, free, with the balance as it stands."""
    async with turn.db.session() as session:
        return turn.result(TurnStatus.REFUSED, reason, await _balance(session, turn))


def _messages(stored: list[dict[str, Any]]) -> list[BaseMessage]:
    """The thread's stored messages (oldest first) as LangChain messages, never starting
    on a tool result cut off from its call."""
    start = 0
    while start < len(stored) and stored[start].get("type") == "tool":
        start += 1
    return messages_from_dict(stored[start:])


async def _balance(session: AsyncSession, turn: Turn) -> ledger.Balance:
    return await ledger.get_balance(session, turn.actor.workspace_id)


# --- 2. run -----------------------------------------------------------------------------


def _prepare(turn: Turn) -> AgentContext:
    """The turn's meter (it holds 0.5 credit when a billable tool starts) and what the
    tools see in the runtime context."""
    turn.meter = QueryMeter(
        turn.db, turn.actor.workspace_id, key=turn.message_id, place=turn.place_hold
    )
    said = [message_text(m) for m in turn.history if isinstance(m, HumanMessage)]
    s = turn.services
    turn.context = AgentContext(
        actor=turn.actor,
        db=turn.db,
        meter=turn.meter,
        auto_confirm=s.auto_confirm,
        confirm=s.confirm,
        ask=s.ask,
        payments=s.payments,
        otp=s.otp,
        base_url=s.base_url,
        telephony=s.telephony,
        watch_call=s.watch_call,
        thread_id=turn.thread,
        message_id=turn.message_id,
        user_texts=[*said, turn.text],
    )
    return turn.context


async def _run(turn: Turn, context: AgentContext) -> _Answer:
    """A starter's question back, the answer to the thread's pending proposal, or the
    agent's answer (within the turn's timeout); an empty answer is a failure."""
    text = turn.text
    human = HumanMessage(content=text, id=turn.message_id)
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
        async with asyncio.timeout(min(turn.timeout_s, TURN_TIMEOUT_S)):
            produced, calls = await _run_agent(
                turn.agent, [*turn.history, human], context, turn.observer
            )
    final = next(
        (m for m in reversed(produced) if isinstance(m, AIMessage) and not m.tool_calls),
        None,
    )
    body = message_text(final).strip() if final is not None else ""
    if not body:
        raise TurnError("the model returned no answer")
    return _Answer(body, [human, *produced], calls)


# --- 3. settle and store ----------------------------------------------------------------


@dataclass(frozen=True)
class _Settled:
    cost_mc: int
    balance_mc: int
    held_mc: int


async def _settle_and_store(turn: Turn, answer: _Answer) -> _Settled:
    """Charge the answer and store the conversation as one transaction, in one round
    trip: `chat_turn_store` (core/migrations/sql) settles the answer's hold — the
    price debited under the key `query:<message id>` if billable work was done, else
    released — and stores the messages, under the thread's lock (a proposal's button,
    pressed after a reload, may write to the thread meanwhile)."""
    meter = turn.meter
    assert meter is not None  # made by _prepare
    row = (
        await call_function_alone(
            turn.db,
            _STORE,
            {
                "workspace": turn.actor.workspace_id,
                "thread": turn.thread,
                "message": turn.message_id,
                "messages": json.dumps(messages_to_dict(answer.messages)),
                "answer": answer.body,
                "calls": json.dumps([{"name": c.name, "args": c.args} for c in answer.calls]),
                "hold": meter.hold_id,
                "charge": meter.price_due_mc,
                "key": meter.debit_key,
                "description": "assistant answer",
                "meta": json.dumps(
                    meter.debit_metadata(
                        {"thread_id": str(turn.thread), "user_id": str(turn.actor.user_id)}
                    ),
                    default=str,
                ),
            },
        )
    ).one()
    return _Settled(int(row.cost_mc), int(row.balance_mc), int(row.held_mc))


_STORE = sql_text(
    "SELECT * FROM chat_turn_store(:workspace, :thread, :message, CAST(:messages AS jsonb),"
    " :answer, CAST(:calls AS jsonb), :hold, :charge, :key, :description, CAST(:meta AS jsonb))"
)


# --- failures ---------------------------------------------------------------------------


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


async def _fail(turn: Turn, exc: BaseException) -> None:
    """Release the turn's hold, if any, and mark it failed."""
    message_id = turn.message_id
    log.warning("assistant turn %s failed: %s", message_id, type(exc).__name__, exc_info=exc)
    async with turn.db.session() as session:
        if turn.meter is not None and turn.meter.hold_id is not None:
            await ledger.release_hold(session, turn.meter.hold_id)
        await _fail_turn(session, message_id, f"failed: {type(exc).__name__}")
        await session.commit()


async def _failed(turn: Turn, body: str) -> TurnResult:
    """The failed turn's answer: `body`, no charge, the balance as it now stands."""
    async with turn.db.session() as session:
        return turn.result(TurnStatus.FAILED, body, await _balance(session, turn))


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
