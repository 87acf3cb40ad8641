"""App-side overhead of one answered chat message, and 50 chat sessions at once.

Starts its own embedded PostgreSQL (pgserver) in a temporary directory (or uses
`--database-url`, where it only adds workspaces of its own), migrates it, and seeds
two workspaces with credits, users, contacts and past calls whose transcripts are
indexed for search (`retrieval.indexing.index_call`, with the same embedder the
`search_calls` tool uses: local all-MiniLM-L6-v2 unless `--embedder hashing`).

Every message goes through `chat_app.turns.answer_message` — the assistant's unit of
work and of billing: rate limit, thread, the LangChain agent
(`chat_app.agent.build_agent`) with the offline model, the settlement and the stored
conversation — in this one process and event loop. The messages are a mix of what
users ask: their credits (`check_credits`), their calls (`list_calls`), the credit
packages (`list_packages`), something answered with no tool ("what can you do?") and
a search of their calls (`search_calls`), in a few phrasings each; every answer must
be 'answered', have used the expected tool and cost what DESIGN.md §1 says: 0.5 credit
for the assistant's work (listing and searching calls, when they find something),
nothing for the balance, the packages or help (`expected_cost`).

1. Overhead: one user sends `--messages` messages one after another (a new thread
   every `--thread-len`), after an untimed warm-up. The offline model is subclassed
   to clock its own `_agenerate` calls per turn (the model's share: a hosted model
   would spend its network time there), and the `search_calls` embedder is wrapped to
   clock the query's embedding (a second model). A turn's overhead is its wall time
   in `answer_message` minus both: the app's own work — database, ledger, LangChain /
   LangGraph, tools, serialisation. `overhead_incl_embed_*` keeps the embedding in.
2. Concurrency: `--sessions` users of one workspace (a manager and reps), each in
   their own thread, each send `--per-session` messages back to back (or, with
   `--think-s T`, pausing T seconds on average after each answer, as people reading
   it do), all at once.
   Reported: errors (any exception, or an answer that is not 'answered' at its
   kind's price with the expected tool), throughput, latency — and the billing: the
   workspace's 'query' ledger debits must be one 0.5-credit debit per charged
   answer, its balance the grant minus that, nothing left held, the ledger audit
   consistent.
   With every session sending back to back, `concurrent_turn_*` (and
   `concurrent_overhead_*`) are mostly queueing for the one event loop: a turn waits
   for about one turn of each other session. That is a saturation test (50 users who
   never read an answer); `--think-s` gives the latency of people chatting.

3. Several processes (`--processes N`, N > 1): the concurrency run again, on a workspace
   of its own, with its sessions split over N child processes of this script on the
   one database — each its own event loop, agent and connection pool, as `serve`
   processes behind a load balancer are — started together (each says READY, the
   parent says go). A second JSON line (`"bench": "chat_turn_processes"`) reports
   errors, the turn latency over all processes, throughput and the same billing
   check; its `met` needs every message answered, exact billing and a turn p95 within
   1 s. Its `app_cpu_ms_per_msg` is the children's CPU.

`app_cpu_ms_per_msg` is this process's CPU (all threads, the models' included),
`pg_cpu_ms_per_msg` PostgreSQL's and `machine_busy_pct` the whole machine's during
the timed part: on a shared machine, compare them before trusting a latency.
`met` needs the overhead p95 within 50 ms with no errors, and at least 50 sessions
with no errors and exact billing. The exit status is 1 only for errors.

The per-user chat rate limits are raised (`--rate-limit`, default 10,000 a minute) so
that a bench user sending back to back is not refused; the limit is still counted in
the database on every message, as in production.

Figures go to stdout as one JSON object; logs go to stderr. Run from the repository
root:

    .venv/bin/python bench/chat_turn.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import logging
import os
import platform
import random
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.harness import (  # noqa: E402  (the path above makes `bench` importable)
    and_dispose,
    bench_database,
    default_loop,
    emit,
    machine_cpu,
    percentile,
    postmaster_pid,
    run_async,
    start,
)
from bench.webhooks import new_numbers  # noqa: E402

log = logging.getLogger("bench.chat_turn")

TARGET_OVERHEAD_P95_MS = 50.0
TARGET_SESSIONS = 50
TARGET_PROCESSES_TURN_P95_MS = 1000.0  # --processes: turn p95 across the processes
PRICE_MC = 500  # billing.money.QUERY_PRICE_MC (checked at start)

# kind → (the tool the offline model must pick, or None for no tool; phrasings)
MESSAGES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "credits": (
        "check_credits",
        ("how many credits do I have", "what's my balance?", "how many credits are left?"),
    ),
    "calls": ("list_calls", ("list my calls", "show my recent calls", "list my calls please")),
    "packages": (
        "list_packages",
        ("what packages are there", "which credit packages are there?", "show me the packages"),
    ),
    "no_tool": (None, ("what can you do?", "hello", "help")),
    "search": (
        "search_calls",
        (
            "search my calls for pricing",
            "search my calls for budget",
            "search my calls for a discount",
        ),
    ),
}
KINDS = tuple(MESSAGES)
# The kinds that do assistant work (0.5 credit each) when they find something; the
# others are free, and so is an answer that found nothing.
CHARGED = frozenset({"calls", "search"})
NOTHING_FOUND = ("No calls found", "Nothing on your calls matches")


def expected_cost(kind: str, body: str) -> int:
    """What an answer of `kind` must cost (DESIGN.md §1)."""
    return PRICE_MC if kind in CHARGED and not body.startswith(NOTHING_FOUND) else 0


AGENT_LINES = (
    "Hi, this is an AI assistant calling for Bench Co; this call is recorded.",
    "We help sales teams follow up faster. Do you have a minute?",
    "Would a short demo next week be useful?",
    "Thanks for your time, have a good day.",
)
PROSPECT_LINES = (
    "Honestly the pricing looks high for a team our size.",
    "Our budget for new tools is frozen until the next quarter.",
    "Could you give us a discount if we sign for two years?",
    "We already use another vendor for outbound calls.",
    "Send me the price list and I'll have a look.",
    "Call me back on Tuesday afternoon, I'm in meetings today.",
    "How does it integrate with our CRM?",
    "I'm not the decision maker, you should talk to our COO.",
)


def check_messages() -> None:
    """Every phrasing must route to its kind's tool (else the bench measures nothing)."""
    from chat_app.agent import TOOLS
    from chat_app.llm.offline_router import route

    names = frozenset(t.name for t in TOOLS)
    bad = []
    for kind, (tool, texts) in MESSAGES.items():
        for text in texts:
            chosen = route(text, names)
            got = None if chosen is None else chosen.intent.tool
            if chosen is None or got != tool:
                bad.append(f"{kind}: {text!r} → {got}")
    if bad:
        raise SystemExit(f"these messages do not route as the bench expects: {bad}")


class CpuMeter:
    """CPU seconds of this process (all its threads: the app, the offline model's
    executor hop, the embedder), of PostgreSQL (the postmaster, its live backends and
    the ones it has reaped: pooled connections come and go), and of the machine."""

    def __init__(self, pg_pid: int | None) -> None:
        import psutil  # type: ignore[import-untyped]

        self._pg = psutil.Process(pg_pid) if pg_pid is not None else None

    def _pg_seconds(self) -> float:
        import psutil

        if self._pg is None:
            return float("nan")
        try:
            t = self._pg.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            children = self._pg.children()
        except psutil.Error:
            return float("nan")
        for child in children:
            try:
                c = child.cpu_times()
            except psutil.Error:
                continue  # exited meanwhile: counted once reaped
            total += c.user + c.system
        return float(total)

    def read(self) -> dict[str, float]:
        busy, total = machine_cpu()
        return {
            "app": time.process_time(),
            "pg": self._pg_seconds(),
            "machine_busy": busy,
            "machine_total": total,
        }


def cpu_figures(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, Any]:
    def per_msg(name: str) -> float | None:
        spent = after[name] - before[name]
        return round(spent * 1000 / n, 2) if n and spent == spent else None  # NaN: unknown

    busy = after["machine_busy"] - before["machine_busy"]
    total = after["machine_total"] - before["machine_total"]
    return {
        "app_cpu_ms_per_msg": per_msg("app"),
        "pg_cpu_ms_per_msg": per_msg("pg"),
        "machine_busy_pct": round(100 * busy / total, 1) if total > 0 else None,
    }


# --- clocking the models -----------------------------------------------------------------


@dataclass
class TurnClock:
    """Time spent inside the models during one turn."""

    model_s: float = 0.0  # inside the chat model's _agenerate (what a hosted model awaits)
    compute_s: float = 0.0  # of which: the offline model's own _generate
    model_calls: int = 0
    embed_s: float = 0.0  # the search query's embedding
    embed_calls: int = 0


_CLOCK: contextvars.ContextVar[TurnClock | None] = contextvars.ContextVar(
    "chat_turn_clock", default=None
)


def timed_model_class() -> type:
    """OfflineChatModel, clocking its own calls into the running turn's TurnClock."""
    from chat_app.llm.offline import OfflineChatModel

    class TimedOfflineChatModel(OfflineChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await super()._agenerate(*args, **kwargs)
            finally:
                clock = _CLOCK.get()
                if clock is not None:
                    clock.model_s += time.perf_counter() - t0
                    clock.model_calls += 1

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return super()._generate(*args, **kwargs)
            finally:
                clock = _CLOCK.get()
                if clock is not None:
                    clock.compute_s += time.perf_counter() - t0

    return TimedOfflineChatModel


class TimedEmbedder:
    """An Embedder that clocks the wrapped one into the running turn's TurnClock."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def model_name(self) -> str:
        return str(self.inner.model_name)

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        try:
            return list(await self.inner.embed(texts))
        finally:
            took = time.perf_counter() - t0
            log.debug("embedded %d texts in %.1f ms", len(texts), took * 1000)
            clock = _CLOCK.get()
            if clock is not None:
                clock.embed_s += took
                clock.embed_calls += 1


def make_embedder(kind: str) -> Any:
    from core.settings import Settings
    from retrieval.embeddings import HashingEmbedder, build_embedder

    if kind == "hashing":
        return HashingEmbedder()
    return build_embedder(Settings(embeddings_provider="local"))


def install_embedder(embedder: Any) -> TimedEmbedder:
    """Make the `search_calls` tool use `embedder`, clocked (its own is built from the
    settings the same way: `retrieval.embeddings.build_embedder`)."""
    import tools.search_calls as search_tool

    timed = TimedEmbedder(embedder)
    search_tool._embedder = lambda: timed  # type: ignore[assignment]
    return timed


# --- seeding -----------------------------------------------------------------------------


@dataclass
class Workspace:
    workspace_id: uuid.UUID
    actors: list[Any]  # accounts.service.Actor, the first one a manager
    granted_mc: int
    calls: int = 0


async def seed_workspace(
    db: Any,
    name: str,
    *,
    users: int,
    calls_per_user: int,
    granted_mc: int,
    embedder: Any,
    rng: random.Random,
) -> Workspace:
    """A workspace with `users` users (a manager, then reps), `granted_mc` credits, and
    for each user `calls_per_user` completed calls with contacts and indexed
    transcripts."""
    from sqlalchemy import insert

    from accounts.models import Role, User
    from accounts.service import Actor, create_workspace
    from billing import ledger
    from retrieval.indexing import index_call
    from telephony.models import Call, ComplianceDecisionRecord, Contact, TranscriptSegment

    async with db.session() as s:
        ws = await create_workspace(s, f"{name} {uuid.uuid4().hex[:6]}")
        # Rows, not `create_user`: nobody signs in, so no password hashing to wait for.
        people = [
            User(
                workspace_id=ws.id,
                email=f"bench-{uuid.uuid4().hex[:10]}@example.test",
                name=f"Bench User {i:02d}",
                role=(Role.MANAGER if i == 0 else Role.REP).value,
            )
            for i in range(users)
        ]
        s.add_all(people)
        await s.flush()
        actors = [Actor.of(u) for u in people]
        await ledger.grant(
            s, ws.id, amount_mc=granted_mc, idempotency_key=f"bench-grant-{ws.id}", source="bench"
        )
        await s.commit()
        workspace_id = ws.id

    n_calls = users * calls_per_user
    phones = new_numbers(n_calls, rng)
    now = datetime.now(UTC)
    call_ids: list[uuid.UUID] = []
    async with db.session() as s:
        contacts = []
        for i, phone in enumerate(phones):
            owner = actors[i % users]
            contacts.append(
                {
                    "id": uuid.uuid4(),
                    "workspace_id": workspace_id,
                    "owner_id": owner.user_id,
                    "name": f"Prospect {i:04d}",
                    "company": f"Company {i % 37:02d}",
                    "phone_e164": phone.e164,
                    "country": phone.country,
                    "time_zones": list(phone.time_zones),
                    "notes": "",
                    "created_by": owner.user_id,
                }
            )
        if contacts:
            await s.execute(insert(Contact), contacts)
        for i, contact in enumerate(contacts):
            at = now - timedelta(days=rng.uniform(0.5, 30))
            decision = ComplianceDecisionRecord(
                workspace_id=workspace_id,
                contact_id=contact["id"],
                phone_e164=contact["phone_e164"],
                actor_id=contact["owner_id"],
                decided_at=at,
                allowed=True,
            )
            s.add(decision)
            await s.flush()
            duration = rng.randint(20, 300)
            call = Call(
                workspace_id=workspace_id,
                contact_id=contact["id"],
                placed_by=contact["owner_id"],
                phone_e164=contact["phone_e164"],
                from_e164="+15005550006",
                decision_id=decision.id,
                time_limit_s=600,
                brief={"purpose": "follow up on the spring pricing webinar"},
                status="completed",
                answered_by="human",
                duration_s=duration,
                cost_mc=duration * 1000,
                created_at=at,
                settled_at=at + timedelta(seconds=duration),
            )
            s.add(call)
            await s.flush()
            said = rng.sample(PROSPECT_LINES, 3)
            turns = [
                ("agent", AGENT_LINES[0]),
                ("prospect", said[0]),
                ("agent", AGENT_LINES[1]),
                ("prospect", said[1]),
                ("agent", AGENT_LINES[2]),
                ("prospect", said[2]),
                ("agent", AGENT_LINES[3]),
            ]
            for seq, (speaker, text) in enumerate(turns):
                when = at + timedelta(seconds=5 * seq)
                s.add(
                    TranscriptSegment(
                        call_id=call.id,
                        workspace_id=workspace_id,
                        seq=seq,
                        speaker=speaker,
                        text=text,
                        started_at=when,
                        ended_at=when + timedelta(seconds=4),
                    )
                )
            call_ids.append(call.id)
            if i % 200 == 199:
                await s.commit()
        await s.commit()
    for call_id in call_ids:
        await index_call(db, call_id, embedder)
    return Workspace(workspace_id, actors, granted_mc, len(call_ids))


# --- one turn ----------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    wall_s: float
    model_s: float
    compute_s: float
    embed_s: float

    @property
    def overhead_s(self) -> float:
        return self.wall_s - self.model_s - self.embed_s


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    charged: int = 0  # answered messages of a kind that costs 0.5 credit

    def error(self, key: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1


async def one_turn(
    db: Any,
    agent: Any,
    actor: Any,
    kind: str,
    text: str,
    thread_id: uuid.UUID | None,
    limits: Any,
    run: Run,
) -> uuid.UUID | None:
    """Answer one message; record its sample (or its error). Returns the thread."""
    from chat_app.turns import TurnStatus, answer_message

    clock = TurnClock()
    token = _CLOCK.set(clock)
    t0 = time.perf_counter()
    try:
        result = await answer_message(
            db,
            agent,
            actor,
            text=text,
            message_id=f"bench-{uuid.uuid4().hex}",
            thread_id=thread_id,
            limits=limits,
        )
    except Exception as exc:
        run.error(f"exception {type(exc).__name__}")
        log.warning("%s: %r raised %s: %s", kind, text, type(exc).__name__, exc)
        return thread_id
    finally:
        wall = time.perf_counter() - t0
        _CLOCK.reset(token)
    expected_tool = MESSAGES[kind][0]
    tools = [c.name for c in result.tool_calls]
    if result.status is not TurnStatus.ANSWERED:
        run.error(f"status {result.status.value}")
        log.warning("%s: %r was %s: %s", kind, text, result.status.value, result.body[:200])
    elif result.cost_mc != expected_cost(kind, result.body):
        run.error("cost")
        log.warning("%s: %r cost %d mc", kind, text, result.cost_mc)
    elif tools != ([expected_tool] if expected_tool else []):
        run.error("tool")
        log.warning("%s: %r used %s", kind, text, tools)
    elif clock.model_calls < 1:
        run.error("model not clocked")
    else:
        run.answered += 1
        run.charged += result.cost_mc == PRICE_MC
        run.samples.append(Sample(kind, wall, clock.model_s, clock.compute_s, clock.embed_s))
    return result.thread_id


def pick_text(kind: str, rng: random.Random) -> str:
    return rng.choice(MESSAGES[kind][1])


def kind_sequence(n: int, rng: random.Random) -> list[str]:
    """`n` kinds, each block of len(KINDS) a shuffle of all of them (an even mix)."""
    out: list[str] = []
    while len(out) < n:
        block = list(KINDS)
        rng.shuffle(block)
        out.extend(block)
    return out[:n]


def ms(seconds: float) -> float | None:
    return None if seconds != seconds else round(seconds * 1000, 2)  # NaN: no samples


def stats(values_s: list[float], prefix: str) -> dict[str, float | None]:
    v = sorted(values_s)
    if not v:
        return {f"{prefix}_{q}_ms": None for q in ("p50", "p95", "p99", "max")}
    return {
        f"{prefix}_p50_ms": ms(percentile(v, 50)),
        f"{prefix}_p95_ms": ms(percentile(v, 95)),
        f"{prefix}_p99_ms": ms(percentile(v, 99)),
        f"{prefix}_max_ms": ms(v[-1]),
    }


# --- 1. overhead, one message at a time --------------------------------------------------


async def sequential(
    db: Any, agent: Any, ws: Workspace, args: argparse.Namespace, limits: Any, meter: CpuMeter
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    actor = ws.actors[1] if len(ws.actors) > 1 else ws.actors[0]  # a rep
    warm = Run()
    thread = None
    for i, kind in enumerate(kind_sequence(args.warmup, rng)):
        if i % args.thread_len == 0:
            thread = None
        thread = await one_turn(db, agent, actor, kind, pick_text(kind, rng), thread, limits, warm)
    if warm.errors:
        log.error("warm-up errors: %s", warm.errors)
    log.info("timing %d messages one at a time (warm-up: %d)", args.messages, args.warmup)
    run = Run()
    before = meter.read()
    t0 = time.perf_counter()
    for i, kind in enumerate(kind_sequence(args.messages, rng)):
        if i % args.thread_len == 0:
            thread = None
        thread = await one_turn(db, agent, actor, kind, pick_text(kind, rng), thread, limits, run)
    elapsed = time.perf_counter() - t0
    after = meter.read()
    n = len(run.samples)
    out: dict[str, Any] = {
        "messages": args.messages,
        "answered": run.answered,
        "errors": sum(run.errors.values()) + sum(warm.errors.values()),
        "error_kinds": {**warm.errors, **run.errors},
        **stats([s.overhead_s for s in run.samples], "overhead"),
        **stats([s.overhead_s + s.embed_s for s in run.samples], "overhead_incl_embed"),
        **stats([s.wall_s for s in run.samples], "turn"),
        **stats([s.model_s for s in run.samples], "model"),
        "model_compute_p50_ms": ms(percentile(sorted(s.compute_s for s in run.samples), 50)),
        **stats([s.embed_s for s in run.samples if s.kind == "search"], "embed"),
        "overhead_p95_ms_by_kind": {
            kind: ms(percentile(sorted(s.overhead_s for s in run.samples if s.kind == kind), 95))
            for kind in KINDS
        },
        "msgs_per_s": round(run.answered / elapsed, 1) if elapsed > 0 else None,
        **cpu_figures(before, after, n),
    }
    return out


# --- 2. concurrent sessions --------------------------------------------------------------


async def concurrent(
    db: Any, agent: Any, ws: Workspace, args: argparse.Namespace, limits: Any, meter: CpuMeter
) -> dict[str, Any]:
    run = Run()
    start = asyncio.Event()
    actors = ws.actors[: args.sessions]
    tasks = _session_tasks(db, agent, actors, args, limits, run, start, args.seed + 1)
    await asyncio.sleep(0)  # every session waits at the start line
    log.info(
        "%d sessions × %d messages at once (DB pool %d + %d overflow)",
        len(tasks),
        args.per_session,
        args.db_pool,
        args.db_pool,
    )
    before = meter.read()
    t0 = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.perf_counter() - t0
    after = meter.read()
    for r in results:
        if isinstance(r, BaseException):
            run.error(f"session {type(r).__name__}")
            log.error("a session died: %r", r)
    billing_errors, billing = await verify_billing(db, ws, run.answered, run.charged)
    return {
        "sessions": len(tasks),
        "per_session": args.per_session,
        "sent": len(tasks) * args.per_session,
        "answered": run.answered,
        "errors": sum(run.errors.values()),
        "error_kinds": run.errors,
        "msgs_per_s": round(run.answered / elapsed, 1) if elapsed > 0 else None,
        "elapsed_s": round(elapsed, 2),
        **stats([s.wall_s for s in run.samples], "turn"),
        **stats([s.overhead_s for s in run.samples], "overhead"),
        "billing_errors": billing_errors,
        **billing,
        **cpu_figures(before, after, run.answered),
    }


async def verify_billing(
    db: Any, ws: Workspace, answered: int, charged: int
) -> tuple[int, dict[str, Any]]:
    """Every charged answer debited once for 0.5 credit, free ones not at all, and
    nothing else moved."""
    from sqlalchemy import func, select

    from billing import ledger
    from billing.models import LedgerEntry
    from chat_app.models import AssistantTurn

    async with db.session() as s:
        n_debits, debited = (
            await s.execute(
                select(func.count(), func.coalesce(func.sum(LedgerEntry.amount_mc), 0)).where(
                    LedgerEntry.workspace_id == ws.workspace_id, LedgerEntry.kind == "query"
                )
            )
        ).one()
        by_status = dict(
            (
                await s.execute(
                    select(AssistantTurn.status, func.count())
                    .where(AssistantTurn.workspace_id == ws.workspace_id)
                    .group_by(AssistantTurn.status)
                )
            ).all()
        )
        balance = await ledger.get_balance(s, ws.workspace_id)
        audit = await ledger.audit(s, ws.workspace_id)
    want_debit = charged * PRICE_MC
    problems = []
    if n_debits != charged:
        problems.append(f"{n_debits} query debits for {charged} charged answers")
    if -int(debited) != want_debit:
        problems.append(f"debited {-int(debited)} mc, expected {want_debit}")
    if balance.balance_mc != ws.granted_mc - want_debit:
        problems.append(f"balance {balance.balance_mc}, expected {ws.granted_mc - want_debit}")
    if balance.held_mc != 0:
        problems.append(f"{balance.held_mc} mc still held")
    if not audit.consistent:
        problems.append(f"ledger audit: {audit}")
    if by_status.get("answered", 0) != answered:
        problems.append(f"turns by status {by_status}")
    for p in problems:
        log.error("billing: %s", p)
    return len(problems), {
        "debits": int(n_debits),
        "debited_mc": -int(debited),
        "expected_debited_mc": want_debit,
        "start_balance_mc": ws.granted_mc,
        "end_balance_mc": balance.balance_mc,
        "held_mc": balance.held_mc,
    }


# --- 3. concurrent sessions in several processes ------------------------------------------


def _session_tasks(
    db: Any,
    agent: Any,
    actors: list[Any],
    args: argparse.Namespace,
    limits: Any,
    run: Run,
    start: asyncio.Event,
    seed: int,
) -> list[asyncio.Task[None]]:
    """One task per actor, each sending `args.per_session` messages in its own thread
    once `start` is set: back to back, or after a pause of `args.think_s` seconds on
    average (uniform in 0.5–1.5×: users reading the answer, out of step) after each
    answer."""

    async def session(actor: Any, session_seed: int) -> None:
        rng = random.Random(session_seed)
        thread = None
        await start.wait()
        for i, kind in enumerate(kind_sequence(args.per_session, rng)):
            if i and args.think_s > 0:
                await asyncio.sleep(args.think_s * rng.uniform(0.5, 1.5))
            thread = await one_turn(
                db, agent, actor, kind, pick_text(kind, rng), thread, limits, run
            )

    master = random.Random(seed)
    return [asyncio.create_task(session(a, master.randrange(1 << 30))) for a in actors]


async def child(db: Any, args: argparse.Namespace) -> dict[str, Any]:
    """A `--processes` child: its share of the sessions, started when the parent says
    "go" on stdin (after this process printed READY), reported as one JSON line."""
    from sqlalchemy import select

    from accounts.models import User
    from accounts.ratelimit import Limit
    from accounts.service import Actor
    from chat_app.agent import build_agent

    db.engine(pool_size=args.db_pool)
    install_embedder(make_embedder(args.embedder))
    agent = build_agent(timed_model_class()())
    limits = (
        Limit("chat:user:minute", args.rate_limit, 60),
        Limit("chat:user:hour", args.rate_limit * 60, 3600),
    )
    ids = [uuid.UUID(raw) for raw in args.child_actors.split(",")]
    async with db.session() as s:
        users = {u.id: u for u in (await s.scalars(select(User).where(User.id.in_(ids)))).all()}
    actors = [Actor.of(users[i]) for i in ids]
    run, start = Run(), asyncio.Event()
    tasks = _session_tasks(db, agent, actors, args, limits, run, start, args.seed)
    # The sentence model (the offline router's, and search's when local) loads before
    # the start line, as the parent's warm-up loaded it: a served process loads it once.
    from chat_app.llm.offline_router.classifier import embed

    await asyncio.to_thread(embed, "warm-up")
    print("READY", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    cpu0, t0 = time.process_time(), time.perf_counter()
    start.set()
    for r in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(r, BaseException):
            run.error(f"session {type(r).__name__}")
            log.error("a session died: %r", r)
    return {
        "samples": [[x.kind, x.wall_s, x.model_s, x.compute_s, x.embed_s] for x in run.samples],
        "answered": run.answered,
        "charged": run.charged,
        "errors": run.errors,
        "elapsed_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - cpu0,
    }


async def concurrent_processes(
    db: Any, ws: Workspace, args: argparse.Namespace, meter: CpuMeter
) -> dict[str, Any]:
    """`--sessions` sessions split over `--processes` child processes on the one
    database (each its own event loop, agent and connection pool, as `serve` processes
    behind a load balancer are), started together; billing checked for the workspace."""
    url = db.url.render_as_string(hide_password=False)
    n = args.processes
    children = []
    for i in range(n):
        actors = ws.actors[: args.sessions][i::n]
        argv = [
            sys.executable,
            str(REPO_ROOT / "bench" / "chat_turn.py"),
            "--database-url",
            url,
            "--child-actors",
            ",".join(str(a.user_id) for a in actors),
            "--per-session",
            str(args.per_session),
            "--embedder",
            args.embedder,
            "--rate-limit",
            str(args.rate_limit),
            "--db-pool",
            str(args.db_pool),
            "--loop",
            args.loop,
            "--seed",
            str(args.seed + 101 + i),
            "--think-s",
            str(args.think_s),
        ]
        children.append(
            await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
            )
        )
    for proc in children:  # every child has built its agent and is at the start line
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if line.strip() != b"READY":
            raise RuntimeError(f"a child did not start: {line[:200]!r}")
    log.info("%d sessions × %d messages in %d processes", args.sessions, args.per_session, n)
    before = meter.read()
    t0 = time.perf_counter()
    for proc in children:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    outs = [await proc.communicate() for proc in children]
    elapsed = time.perf_counter() - t0
    after = meter.read()
    run = Run()
    child_cpu_s = 0.0
    for proc, (stdout, _) in zip(children, outs, strict=True):
        lines = [ln for ln in stdout.decode().splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            run.error(f"child exit {proc.returncode}")
            continue
        got = json.loads(lines[-1])
        run.samples += [Sample(*row) for row in got["samples"]]
        run.answered += got["answered"]
        run.charged += got["charged"]
        child_cpu_s += got["cpu_s"]
        for key, count in got["errors"].items():
            run.errors[key] = run.errors.get(key, 0) + count
    billing_errors, billing = await verify_billing(db, ws, run.answered, run.charged)
    sent = args.sessions * args.per_session
    cpu = cpu_figures(before, after, run.answered)  # this process is idle: the children's
    cpu["app_cpu_ms_per_msg"] = round(child_cpu_s * 1000 / max(run.answered, 1), 2)
    walls = sorted(x.wall_s for x in run.samples)
    p95_ms = (ms(percentile(walls, 95)) or 0.0) if walls else 0.0
    return {
        "bench": "chat_turn_processes",
        "processes": n,
        "sessions": args.sessions,
        "per_session": args.per_session,
        "sent": sent,
        "answered": run.answered,
        "errors": sum(run.errors.values()),
        "error_kinds": run.errors,
        "msgs_per_s": round(run.answered / elapsed, 1) if elapsed > 0 else None,
        "elapsed_s": round(elapsed, 2),
        **stats([x.wall_s for x in run.samples], "turn"),
        **stats([x.overhead_s for x in run.samples], "overhead"),
        "billing_errors": billing_errors,
        **billing,
        **cpu,
        "target_turn_p95_ms": TARGET_PROCESSES_TURN_P95_MS,
        "met": bool(
            run.answered == sent
            and not run.errors
            and billing_errors == 0
            and 0 < p95_ms <= TARGET_PROCESSES_TURN_P95_MS
        ),
    }


# --- the benchmark -----------------------------------------------------------------------


async def bench(db: Any, args: argparse.Namespace) -> dict[str, Any]:
    from accounts.ratelimit import Limit
    from chat_app.agent import build_agent

    db.engine(pool_size=args.db_pool)  # as `klosesales serve` does with DB_POOL_SIZE
    rng = random.Random(args.seed)
    embedder = make_embedder(args.embedder)
    install_embedder(embedder)
    agent = build_agent(timed_model_class()())
    limits = (
        Limit("chat:user:minute", args.rate_limit, 60),
        Limit("chat:user:hour", args.rate_limit * 60, 3600),
    )
    per_msg_mc = PRICE_MC
    t0 = time.perf_counter()
    solo = await seed_workspace(
        db,
        "Bench Solo",
        users=2,
        calls_per_user=args.calls_per_user * 5,
        granted_mc=(args.messages + args.warmup + 10) * per_msg_mc,
        embedder=embedder,
        rng=rng,
    )
    team = await seed_workspace(
        db,
        "Bench Team",
        users=args.sessions,
        calls_per_user=args.calls_per_user,
        granted_mc=(args.sessions * args.per_session + 10) * per_msg_mc,
        embedder=embedder,
        rng=rng,
    )
    log.info(
        "seeded %d + %d calls with indexed transcripts in %.1f s (embedder %s)",
        solo.calls,
        team.calls,
        time.perf_counter() - t0,
        embedder.model_name,
    )
    try:
        pg_pid: int | None = postmaster_pid(db.libpq_url)
    except Exception:  # e.g. a remote --database-url: its CPU is not ours to see
        pg_pid = None
    meter = CpuMeter(pg_pid)
    one = await sequential(db, agent, solo, args, limits, meter)
    many = await concurrent(db, agent, team, args, limits, meter)
    out = {"seq": one, "conc": many, "seeded_calls": solo.calls + team.calls}
    if args.processes > 1:
        fleet = await seed_workspace(
            db,
            "Bench Fleet",
            users=args.sessions,
            calls_per_user=args.calls_per_user,
            granted_mc=(args.sessions * args.per_session + 10) * per_msg_mc,
            embedder=embedder,
            rng=rng,
        )
        out["processes"] = await concurrent_processes(db, fleet, args, meter)
    return out


def machine() -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def report(res: dict[str, Any], args: argparse.Namespace, extra: dict[str, Any]) -> dict[str, Any]:
    one, many = res["seq"], res["conc"]
    p95 = one["overhead_p95_ms"]
    met_overhead = bool(
        p95 is not None
        and p95 <= TARGET_OVERHEAD_P95_MS
        and one["errors"] == 0
        and one["answered"] == args.messages
    )
    met_concurrency = bool(
        many["sessions"] >= TARGET_SESSIONS
        and many["errors"] == 0
        and many["billing_errors"] == 0
        and many["answered"] == many["sent"]
    )
    out: dict[str, Any] = {"bench": "chat_turn", "model": "offline", "embedder": args.embedder}
    out.update(one)
    out.update({f"concurrent_{k}": v for k, v in many.items()})
    out.update(
        {
            "seeded_calls": res["seeded_calls"],
            "loop": args.loop,
            "db_pool": args.db_pool,
            "target_overhead_p95_ms": TARGET_OVERHEAD_P95_MS,
            "target_sessions": TARGET_SESSIONS,
            "met_overhead": met_overhead,
            "met_concurrency": met_concurrency,
            "met": met_overhead and met_concurrency,
            **machine(),
            **extra,
        }
    )
    return out


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="App-side overhead per answered chat message with the offline model "
        "(everything but the model), and concurrent chat sessions in one process, on a "
        "temporary embedded PostgreSQL. One JSON object on stdout, logs on stderr."
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small run: 100 messages; 50 sessions × 4 messages",
    )
    p.add_argument(
        "--messages", type=int, default=None, help="timed one-at-a-time messages (default 1000)"
    )
    p.add_argument("--warmup", type=int, default=None, help="untimed messages first (default 25)")
    p.add_argument(
        "--thread-len", type=int, default=10, help="messages per thread, one at a time (10)"
    )
    p.add_argument(
        "--sessions", type=int, default=TARGET_SESSIONS, help="concurrent sessions (default 50)"
    )
    p.add_argument(
        "--per-session", type=int, default=None, help="messages per session (default 20)"
    )
    p.add_argument(
        "--think-s",
        type=float,
        default=0.0,
        help="a concurrent session's mean pause between an answer and its next message "
        "(default 0: back to back, every session saturating the app)",
    )
    p.add_argument(
        "--calls-per-user",
        type=int,
        default=None,
        help="past calls seeded per session user, 5× that for the one-at-a-time user "
        "(default 2, --quick 1)",
    )
    p.add_argument(
        "--embedder",
        choices=("local", "hashing"),
        default="local",
        help="search_calls' embedder: local all-MiniLM-L6-v2 (default, as in production "
        "without OpenAI) or the hashing test fake",
    )
    p.add_argument(
        "--rate-limit",
        type=int,
        default=10_000,
        help="per-user chat messages a minute (hour: 60×) (default 10000)",
    )
    p.add_argument("--db-pool", type=int, default=10, help="DB_POOL_SIZE (default 10, as served)")
    p.add_argument(
        "--database-url",
        default=None,
        help="use this PostgreSQL (pgvector) instead of a temporary embedded one; the bench "
        "migrates it and adds its own workspaces",
    )
    p.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default=None,
        help="event loop (default uvloop when installed)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="FILE",
        help="run under cProfile and write the profile to FILE",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="also run the concurrent sessions split over this many processes on the one "
        "database (a second JSON line, bench chat_turn_processes; default 1: not run)",
    )
    p.add_argument("--child-actors", default=None, help=argparse.SUPPRESS)  # a --processes child
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = p.parse_args(argv)
    if args.processes < 1:
        p.error("--processes must be >= 1")
    if args.messages is None:
        args.messages = 100 if args.quick else 1_000
    if args.warmup is None:
        args.warmup = 25
    if args.per_session is None:
        args.per_session = 4 if args.quick else 20
    if args.calls_per_user is None:
        args.calls_per_user = 1 if args.quick else 2
    if min(args.messages, args.sessions, args.per_session, args.thread_len, args.db_pool) < 1:
        p.error("--messages, --sessions, --per-session, --thread-len, --db-pool must be >= 1")
    if args.warmup < 0 or args.calls_per_user < 0 or args.rate_limit < 1:
        p.error("--warmup and --calls-per-user must be >= 0, --rate-limit >= 1")
    if args.loop is None:
        args.loop = default_loop()
    return args


def _preload_minilm() -> None:
    from retrieval.embeddings import LocalMiniLM

    t0 = time.perf_counter()
    asyncio.run(LocalMiniLM().embed(["warm-up"]))
    log.info("all-MiniLM-L6-v2 loaded in %.1f s", time.perf_counter() - t0)


def main_child(args: argparse.Namespace) -> int:
    """A `--processes` child: its sessions against the parent's database."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with bench_database(args.database_url) as (db, _tmp):
        out = run_async(and_dispose(db, child(db, args)), args.loop)
    print(json.dumps(out), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_actors is not None:
        return main_child(args)
    background = start(
        verbose=args.verbose, quiet=("retrieval", "billing", "accounts", "httpx", "chat_app")
    )
    from billing.money import QUERY_PRICE_MC

    assert QUERY_PRICE_MC == PRICE_MC, "the bench's price is out of date"
    check_messages()
    t_start = time.perf_counter()
    preload = None
    if args.embedder == "local":  # ≈ 10 s: load the model while the database starts
        preload = threading.Thread(target=_preload_minilm, daemon=True)
        preload.start()
    with bench_database(args.database_url) as (db, _tmp):
        if preload is not None:
            preload.join()
        profiler = None
        if args.profile is not None:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        try:
            res = run_async(and_dispose(db, bench(db, args)), args.loop)
        finally:
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
                log.info("profile written to %s", args.profile)
    out = report(res, args, {"background_cpu_pct": background, "think_s": args.think_s})
    out["total_s"] = round(time.perf_counter() - t_start, 1)
    emit(out)
    fleet = res.get("processes")
    if fleet is not None:
        emit(
            {
                **fleet,
                "embedder": args.embedder,
                "think_s": args.think_s,
                **machine(),
                "background_cpu_pct": background,
            }
        )
    log.info("done in %.1f s", out["total_s"])
    correct = out["errors"] == 0 and out["concurrent_errors"] == 0
    if fleet is not None:
        correct = correct and fleet["errors"] == 0 and fleet["billing_errors"] == 0
    return 0 if correct and out["concurrent_billing_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
