"""Every tool is declared as reading or writing; a writing tool only *proposes*.

Contract:

- `@read_tool` declares a tool that changes nothing the user owns (it may record
  audits of its own checks). Tests run every read tool and check it wrote nothing.
- `@write_tool(execute)` declares a tool that writes (contacts, consent, do-not-call,
  calls, purchases, the account…). The decorated body is the *proposal*: it reads and
  validates the model's arguments and returns a `Proposal` (the question put to the
  user, and the JSON payload `execute` needs), or a string when it refuses before
  asking. It never writes what it proposes. The decorator stores the proposal as a
  `pending_actions` row and asks the user (`AgentContext.confirmed`: buttons in chat,
  a prompt or `--yes` in the CLI):
    - yes: `decide` claims the row (pending → running, one conditional UPDATE) and
      runs `execute(ctx, payload)`: at most once, whichever process or tab answers;
    - no: the row is declined and nothing is written;
    - no answer (a reload, no one to ask): the row stays pending until it expires and
      the chat shows it again with its buttons (`open_actions`); a "yes" / "no" typed
      later in the same conversation answers it too (chat_app.llm.followups); one left
      unanswered past its expiry is marked `expired` once and said to be so
      (`expire_unanswered`, `last_action`).
- Every declared tool returns its text and, as the ToolMessage's artifact, what it was
  about (tools.about: the contact and call it resolved), stored with the thread so
  follow-ups ("call them again", "that call") can refer back to it.
- `chat_app.agent` registers only declared tools (`require_declared`), so a new tool
  cannot bypass the gate by forgetting it.

Each declaration also states whether the tool's work is billable (`billable=`, required;
tools.metering): a billable read tool reserves the answer's price before it runs and
charges it only when it returns `done(text)`; a billable write tool checks before
proposing that the price could be held (a workspace out of credits is told so instead
of being asked) but holds it only on the user's yes — a proposal left unanswered holds
nothing — and charges it only when the confirmed action's effect returns `done(text)`. A proposal, a
decline, a refusal and anything else the tool returns are free.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from langchain_core.tools import BaseTool, tool
from sqlalchemy import select, update

from accounts.models import Workspace, WorkspaceStatus
from tools import about
from tools.context import AgentContext
from tools.metering import Done, QueryMeter
from tools.models import ActionStatus, PendingAction

log = logging.getLogger(__name__)

KIND = "klosesales_tool_kind"
BILLABLE = "klosesales_tool_billable"
PENDING_TTL = timedelta(hours=1)
WAITING = (
    "Nothing done yet: this waits for your confirmation — press Yes or No in this "
    "conversation, or reply “yes” or “no”."
)
ALREADY_ANSWERED = "That request was already answered or has expired: nothing more was done."
EXPIRED = (
    "That request expired before you answered (a proposal waits one hour): nothing was "
    "done. Ask again if you still want it."
)
SUSPENDED = "This workspace is suspended: nothing was done."

Kind = Literal["read", "write"]
Executor = Callable[[AgentContext, dict[str, Any]], Awaitable[str]]


@dataclass(frozen=True)
class Proposal:
    """What a write tool wants to do. `question` is shown to the user as is; `payload`
    (JSON) is all `execute` receives: resolved ids and the user-confirmed values, never
    anything to re-interpret. `declined` is the answer when the user says no."""

    question: str
    payload: dict[str, Any]
    declined: str = "Not done: you declined, so nothing was changed."


@dataclass(frozen=True)
class WriteAction:
    name: str
    execute: Executor
    billable: bool = False


@dataclass(frozen=True)
class OpenAction:
    """A proposal still waiting for the user's answer."""

    id: uuid.UUID
    tool: str
    question: str


# Every write tool's effect, by tool name: how a confirmed proposal is carried out,
# also after a reload, in another process than the one that proposed it.
WRITE_ACTIONS: dict[str, WriteAction] = {}


def kind_of(declared: BaseTool) -> Kind | None:
    """How a tool was declared: "read", "write", or None (not declared: refused)."""
    kind = (declared.metadata or {}).get(KIND)
    return kind if kind in ("read", "write") else None


def is_billable(declared: BaseTool) -> bool:
    """Whether the tool's work is charged (0.5 credit per answer, tools.metering)."""
    return (declared.metadata or {}).get(BILLABLE) is True


def require_declared(tools: list[BaseTool]) -> list[BaseTool]:
    """`tools`, if each was declared with `read_tool` or `write_tool` (stating whether
    it is billable); else ValueError."""
    for declared in tools:
        kind = kind_of(declared)
        if kind is None:
            raise ValueError(
                f"tool {declared.name!r} is declared neither @read_tool nor @write_tool"
            )
        if not isinstance((declared.metadata or {}).get(BILLABLE), bool):
            raise ValueError(f"tool {declared.name!r} does not say whether it is billable")
        if kind == "write" and declared.name not in WRITE_ACTIONS:
            raise ValueError(f"write tool {declared.name!r} has no registered effect")
    return tools


def _built(func: Callable[..., Awaitable[tuple[str, dict[str, Any] | None]]]) -> BaseTool:
    """The LangChain tool: its text is what the model reads; its artifact (kept on the
    ToolMessage, stored with the thread) says what it was about (tools.about)."""
    return tool(func, response_format="content_and_artifact", args_schema=_model_args(func))


def _model_args(func: Callable[..., Any]) -> Any:
    """The schema LangChain would infer for `func`, with `runtime` typed as an opaque
    injected argument: the same fields the model fills, but pydantic is not made to
    build a schema of the whole agent context (`ToolRuntime[AgentContext]`) for each
    tool, which took a quarter of a cold `klosesales ask`. `runtime` is still injected
    (LangGraph finds it by name, LangChain by the function's own signature)."""
    from langchain_core.tools import InjectedToolArg
    from langchain_core.tools.base import create_schema_from_function

    hints = typing.get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    shown = [
        p.replace(
            annotation=(
                typing.Annotated[Any, InjectedToolArg]
                if name == "runtime"
                else hints.get(name, p.annotation)
            )
        )
        for name, p in signature.parameters.items()
    ]

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # only its signature and docstring are read

    stand_in.__name__ = stand_in.__qualname__ = func.__name__
    stand_in.__doc__ = func.__doc__
    stand_in.__module__ = func.__module__
    stand_in.__signature__ = signature.replace(parameters=shown)  # type: ignore[attr-defined]
    stand_in.__annotations__ = {p.name: p.annotation for p in shown}
    if "return" in hints:
        stand_in.__annotations__["return"] = hints["return"]
    return create_schema_from_function(func.__name__, stand_in)


def _mark(built: BaseTool, kind: Kind, billable: bool) -> BaseTool:
    built.metadata = {**(built.metadata or {}), KIND: kind, BILLABLE: billable}
    return built


def _context(signature: inspect.Signature, args: Any, kwargs: Any) -> AgentContext:
    return signature.bind(*args, **kwargs).arguments["runtime"].context  # type: ignore[no-any-return]


def _needs_runtime(name: str, signature: inspect.Signature) -> None:
    if "runtime" not in signature.parameters:
        raise TypeError(f"tool {name!r} must take `runtime: ToolRuntime[...]`")


def read_tool(*, billable: bool) -> Callable[[Callable[..., Awaitable[str]]], BaseTool]:
    """Declare a tool that writes nothing the user owns. A billable one reserves the
    answer's price before it runs (refusing, free, when the workspace can't pay) and
    charges it only if it returns `done(text)`."""

    def declare(func: Callable[..., Awaitable[str]]) -> BaseTool:
        signature = inspect.signature(func)
        _needs_runtime(func.__name__, signature)

        @functools.wraps(func)
        async def metered(*args: Any, **kwargs: Any) -> tuple[str, dict[str, Any] | None]:
            with about.recording() as subject:
                if billable:
                    ctx = _context(signature, args, kwargs)
                    refused = await _reserve(ctx)
                    if refused is not None:
                        return refused, None
                    text = _record(ctx, func.__name__, await func(*args, **kwargs))
                else:
                    text = str(await func(*args, **kwargs))
            return text, subject.artifact()

        return _mark(_built(metered), "read", billable)

    return declare


def write_tool(
    execute: Executor, *, billable: bool
) -> Callable[[Callable[..., Awaitable[Proposal | str]]], BaseTool]:
    """Declare a writing tool: the decorated function proposes, `execute` carries the
    proposal out once the user has said yes. The function must take `runtime`. A
    billable one is charged only when `execute` returns `done(text)`."""

    def declare(propose: Callable[..., Awaitable[Proposal | str]]) -> BaseTool:
        name = propose.__name__
        signature = inspect.signature(propose)
        _needs_runtime(name, signature)
        if name in WRITE_ACTIONS:
            raise ValueError(f"write tool {name!r} is declared twice")

        @functools.wraps(propose)
        async def gated(*args: Any, **kwargs: Any) -> tuple[str, dict[str, Any] | None]:
            ctx = _context(signature, args, kwargs)
            with about.recording() as subject:
                if billable:
                    # Checked, not held: the price is held on the user's yes (`decide`),
                    # so a proposal nobody answers holds nothing meanwhile.
                    refused = None if ctx.meter is None else await ctx.meter.check()
                    if refused is not None:
                        return refused, None  # out of credits: not even proposed
                proposed = await propose(*args, **kwargs)
                if isinstance(proposed, str):
                    text = str(proposed)  # refused (or asked back) before proposing
                else:
                    text = await submit(ctx, name, proposed)
            return text, subject.artifact()

        WRITE_ACTIONS[name] = WriteAction(name, execute, billable)
        return _mark(_built(gated), "write", billable)

    return declare


async def _reserve(ctx: AgentContext) -> str | None:
    """Hold the answer's price before billable work (None: held, or not metered)."""
    return None if ctx.meter is None else await ctx.meter.reserve()


def _record(ctx: AgentContext, name: str, result: str) -> str:
    """Note billable work that was done (`Done`); the plain text either way."""
    if isinstance(result, Done) and ctx.meter is not None:
        ctx.meter.did_work(name)
    return str(result)


async def submit(ctx: AgentContext, tool_name: str, proposal: Proposal) -> str:
    """Store `proposal`, ask the user, and carry it out only on their yes."""
    action_id = await _store(ctx, tool_name, proposal)
    answer = await ctx.confirmed(proposal.question)
    if answer is None:
        return WAITING
    return await decide(ctx, action_id, yes=answer)


async def _store(ctx: AgentContext, tool_name: str, proposal: Proposal) -> uuid.UUID:
    action = PendingAction(
        id=uuid.uuid4(),
        user_id=ctx.actor.user_id,
        workspace_id=ctx.actor.workspace_id,
        thread_id=ctx.thread_id,
        message_id=ctx.message_id,
        tool=tool_name,
        payload=proposal.payload,
        question=proposal.question,
        declined_text=proposal.declined,
        status=ActionStatus.PENDING.value,
        expires_at=datetime.now(UTC) + PENDING_TTL,
    )
    async with ctx.db.session() as session:
        session.add(action)
        await session.commit()
    return action.id


async def decide(ctx: AgentContext, action_id: uuid.UUID, *, yes: bool) -> str:
    """The user's answer to a pending action of theirs (see `decide_noting`): the text."""
    text, _ = await decide_noting(ctx, action_id, yes=yes)
    return text


async def decide_noting(
    ctx: AgentContext, action_id: uuid.UUID, *, yes: bool
) -> tuple[str, dict[str, Any] | None]:
    """`decide`, with what the carried-out action was about (tools.about: the artifact
    to store with the thread, or None)."""
    with about.recording() as subject:
        text = await _decide(ctx, action_id, yes=yes)
    return text, subject.artifact()


async def _decide(ctx: AgentContext, action_id: uuid.UUID, *, yes: bool) -> str:
    """The user's answer to a pending action of theirs. A yes claims it (pending →
    running) and runs its effect; a no declines it. An action that is not theirs, not
    pending any more or expired changes nothing: each runs at most once.

    A billable action's price is reserved before it is claimed (out of credits: it is
    not run and stays pending) and charged only if its effect returns `done(...)`: by
    the turn's meter inside a turn, else by a meter of its own, settled here."""
    meter: QueryMeter | None = None
    own = False
    if yes:
        async with ctx.db.session() as session:
            status = await session.scalar(
                select(Workspace.status).where(Workspace.id == ctx.actor.workspace_id)
            )
            if status != WorkspaceStatus.ACTIVE.value:
                return SUSPENDED
            tool_name = await session.scalar(
                select(PendingAction.tool).where(*_answerable(ctx, action_id))
            )
        if tool_name is None:
            return ALREADY_ANSWERED
        if WRITE_ACTIONS[tool_name].billable:
            meter, own = ctx.meter, ctx.meter is None
            if meter is None:
                meter = QueryMeter(
                    ctx.db,
                    ctx.actor.workspace_id,
                    key=f"action:{action_id}",
                    hold_key=f"query-hold:action:{action_id}:{uuid.uuid4().hex}",
                )
            refused = await meter.reserve()
            if refused is not None:
                return refused
    claimed = await _claim(ctx, action_id, yes=yes)
    if claimed is None:
        if own and meter is not None:
            await meter.release()
        return ALREADY_ANSWERED
    if not yes:
        return str(claimed.declined_text)
    action = WRITE_ACTIONS[claimed.tool]
    try:
        result = await action.execute(ctx, dict(claimed.payload))
    except BaseException as exc:
        log.warning("pending action %s (%s) failed", action_id, claimed.tool, exc_info=exc)
        await asyncio.shield(
            _finish(ctx, action_id, ActionStatus.FAILED, f"failed: {type(exc).__name__}")
        )
        if own and meter is not None:
            await asyncio.shield(meter.release())
        raise
    if isinstance(result, Done) and meter is not None:
        meter.did_work(claimed.tool)
    if own and meter is not None:
        await _settle(ctx, meter, action_id)
    await _finish(ctx, action_id, ActionStatus.DONE, str(result))
    return str(result)


def _answerable(ctx: AgentContext, action_id: uuid.UUID) -> tuple[Any, ...]:
    """The conditions under which the user may still answer the action."""
    return (
        PendingAction.id == action_id,
        PendingAction.user_id == ctx.actor.user_id,
        PendingAction.status == ActionStatus.PENDING.value,
        PendingAction.expires_at > datetime.now(UTC),
    )


async def _claim(ctx: AgentContext, action_id: uuid.UUID, *, yes: bool) -> Any:
    """Move the action out of pending (one conditional UPDATE): its row, or None."""
    now = datetime.now(UTC)
    async with ctx.db.session() as session:
        claimed = (
            await session.execute(
                update(PendingAction)
                .where(*_answerable(ctx, action_id))
                .values(
                    status=(ActionStatus.RUNNING if yes else ActionStatus.DECLINED).value,
                    decided_at=now,
                    finished_at=None if yes else now,
                )
                .returning(PendingAction.tool, PendingAction.payload, PendingAction.declined_text)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        await session.commit()
    return claimed


async def _settle(ctx: AgentContext, meter: QueryMeter, action_id: uuid.UUID) -> None:
    """Charge (or release) an action's own meter once its effect has run."""
    try:
        async with ctx.db.session() as session:
            await meter.settle(
                session,
                description="assistant action",
                metadata={"action_id": str(action_id), "user_id": str(ctx.actor.user_id)},
            )
            await session.commit()
    except Exception:  # the action is done; an unsettled hold expires, uncharged
        log.exception("could not settle the charge of pending action %s", action_id)


async def _finish(
    ctx: AgentContext, action_id: uuid.UUID, status: ActionStatus, result: str
) -> None:
    async with ctx.db.session() as session:
        await session.execute(
            update(PendingAction)
            .where(PendingAction.id == action_id)
            .values(status=status.value, result=result, finished_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def open_actions(ctx: AgentContext, thread_id: uuid.UUID | None = None) -> list[OpenAction]:
    """The user's proposals still waiting for an answer (in one conversation when
    `thread_id` is given), oldest first."""
    query = select(PendingAction.id, PendingAction.tool, PendingAction.question).where(
        PendingAction.user_id == ctx.actor.user_id,
        PendingAction.status == ActionStatus.PENDING.value,
        PendingAction.expires_at > datetime.now(UTC),
    )
    if thread_id is not None:
        query = query.where(PendingAction.thread_id == thread_id)
    async with ctx.db.session() as session:
        rows = (await session.execute(query.order_by(PendingAction.created_at))).all()
    return [OpenAction(row.id, row.tool, row.question) for row in rows]


@dataclass(frozen=True)
class LastAction:
    """The newest proposal of a conversation, whatever became of it."""

    id: uuid.UUID
    tool: str
    question: str
    status: ActionStatus
    expired: bool  # unanswered past its expiry (status pending or expired)
    message_id: str | None


async def last_action(ctx: AgentContext, thread_id: uuid.UUID) -> LastAction | None:
    """The user's newest proposal in the conversation `thread_id`, or None."""
    async with ctx.db.session() as session:
        row = (
            await session.execute(
                select(
                    PendingAction.id,
                    PendingAction.tool,
                    PendingAction.question,
                    PendingAction.status,
                    PendingAction.expires_at,
                    PendingAction.message_id,
                )
                .where(
                    PendingAction.user_id == ctx.actor.user_id,
                    PendingAction.thread_id == thread_id,
                )
                .order_by(PendingAction.created_at.desc())
                .limit(1)
            )
        ).one_or_none()
    if row is None:
        return None
    status = ActionStatus(row.status)
    expired = status is ActionStatus.EXPIRED or (
        status is ActionStatus.PENDING and row.expires_at <= datetime.now(UTC)
    )
    return LastAction(row.id, row.tool, row.question, status, expired, row.message_id)


async def expire_unanswered(ctx: AgentContext, thread_id: uuid.UUID) -> list[OpenAction]:
    """Mark the conversation's proposals left unanswered past their expiry `expired`
    (one conditional UPDATE: each is reported once, and none can run any more); the ones
    just marked, oldest first."""
    async with ctx.db.session() as session:
        rows = (
            await session.execute(
                update(PendingAction)
                .where(
                    PendingAction.user_id == ctx.actor.user_id,
                    PendingAction.thread_id == thread_id,
                    PendingAction.status == ActionStatus.PENDING.value,
                    PendingAction.expires_at <= datetime.now(UTC),
                )
                .values(status=ActionStatus.EXPIRED.value, finished_at=datetime.now(UTC))
                .returning(
                    PendingAction.id,
                    PendingAction.tool,
                    PendingAction.question,
                    PendingAction.created_at,
                )
                .execution_options(synchronize_session=False)
            )
        ).all()
        await session.commit()
    return [OpenAction(r.id, r.tool, r.question) for r in sorted(rows, key=lambda r: r.created_at)]
