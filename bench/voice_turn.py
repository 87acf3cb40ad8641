"""Voice-agent turn latency over the ConversationRelay websocket of a running server.

Starts its own embedded PostgreSQL (pgserver) in a temporary directory, migrates it,
seeds a workspace, a rep and contacts with consent, and places calls with
`telephony.calls.place_call` through a stub provider that dials nobody (the rows, holds
and attempts are real; the calls stay 'queued'). Then `klosesales serve` runs as a
subprocess on a free port with no OpenAI key, so each call's `/voice/relay` socket
talks to the offline (scripted) voice agent.

`--sockets` concurrent conversations (websockets client, uvloop when installed) each
open a call's relay URL (`Telephony.relay_url`, with its token), send ConversationRelay's
`setup`, read the opening to its `last` token, then send `prompt` messages — varied
prospect lines: questions, objections, interest, now and then a callback time; never
an opt-out — and time each from sending the prompt to the first `text` token back.
Each reply is read to its `last` token before the next prompt. A conversation goes on
for at most `--turns-per-call` prompts, or until the agent ends the call (an `end`
message; the prompt it made unanswered is not counted), and the socket then moves on
to a fresh call. A warm-up conversation per socket runs first, untimed.

The latency is measured by the client on the same machine, so it includes the
loopback, the websocket framing on both sides and this process's scheduling: the
app's own share is a little lower. `reply_p95_ms` is the same up to the reply's
`last` token.

Figures go to stdout, one JSON object per line; logs go to stderr. Run from the
repository root:

    .venv/bin/python bench/voice_turn.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.harness import (  # noqa: E402  (the path above makes `bench` importable)
    CpuMeter,
    bench_database,
    emit,
    free_port,
    percentile,
    postmaster_pid,
    run_async,
    start,
)
from bench.webhooks import setup_calls, start_server  # noqa: E402

log = logging.getLogger("bench.voice_turn")

TARGET_P95_MS = 20
RECEIVE_TIMEOUT_S = 10.0
WARMUP_TURNS = 3
# A real turn is seconds apart (the reply is spoken, then the prospect answers); 200 ms
# keeps 8 sockets busier than any 8 real calls while leaving the server time between
# turns. 0 measures a saturated server instead (queueing, not the turn itself).
DEFAULT_THINK_MS = 200.0

# What a prospect says: questions, objections, interest, small talk, callback times.
PROMPTS: tuple[str, ...] = (
    # questions
    "Who is this?",
    "Wait, am I talking to a real person?",
    "What does your product actually do?",
    "How much does it cost?",
    "How does the onboarding work?",
    "Is there a free trial?",
    "What kind of companies use this?",
    "Can it integrate with our CRM?",
    "Where are you calling from?",
    "What was the webinar about again?",
    "Does it work for small teams?",
    "How long does a typical setup take?",
    # objections
    "Honestly it sounds expensive.",
    "We already use a different vendor for that.",
    "I'd have to check with my manager first.",
    "I'm not sure we need anything like this.",
    "Our budget is tight this quarter.",
    "We're under contract with someone else until next year.",
    "I'm in a meeting right now.",
    "I'm not the decision maker here.",
    # interest
    "Sure, tell me more.",
    "That sounds interesting.",
    "Okay, go ahead.",
    "Yes, we've been looking at options like that.",
    "Hmm, that could be useful for my team.",
    "Right, I remember the webinar.",
    "Okay.",
    "I guess so, what else?",
    # now and then a callback time (the agent books it and ends the call)
    "Could you have them call me Thursday at 2 pm?",
    "Next Tuesday morning around ten works for me.",
)
CALLBACK_SHARE = 0.05  # how often a callback time is picked


def check_prompts() -> None:
    """None of the bench's lines may be an opt-out (that would put numbers on DNC)."""
    from telephony.voice.intents import is_opt_out

    bad = [p for p in PROMPTS if is_opt_out(p)]
    if bad:
        raise SystemExit(f"these prompts read as opt-outs: {bad}")


def pick_prompt(rng: random.Random) -> str:
    callbacks, others = PROMPTS[-2:], PROMPTS[:-2]
    return rng.choice(callbacks if rng.random() < CALLBACK_SHARE else others)


# --- the conversations ----------------------------------------------------------------


class ConversationOver(Exception):
    """The agent ended the call (an `end` message)."""


@dataclass
class TurnStats:
    first_token_s: list[float] = field(default_factory=list)
    reply_s: list[float] = field(default_factory=list)
    conversations: int = 0
    ended_by_agent: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, key: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1


async def _recv(ws: Any) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S)
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise ValueError(f"not a JSON object: {raw!r:.80}")
    return message


async def _read_reply(ws: Any, sent_at: float | None, stats: TurnStats) -> None:
    """Read one reply to its `last` token; time the first token (and the whole reply)."""
    first = True
    while True:
        message = await _recv(ws)
        kind = message.get("type")
        if kind == "end":
            raise ConversationOver
        if kind != "text":
            continue  # e.g. 'play' or 'language': not part of the reply's text
        now = time.perf_counter()
        if first and sent_at is not None:
            stats.first_token_s.append(now - sent_at)
        first = False
        if message.get("last"):
            if sent_at is not None:
                stats.reply_s.append(now - sent_at)
            return


async def converse(
    url: str,
    sid: str,
    turns: int,
    think_s: float,
    rng: random.Random,
    stats: TurnStats,
    *,
    token: str,
) -> int:
    """One call's conversation: setup, opening, then up to `turns` timed prompts, each
    after a pause of about `think_s`. Returns how many prompts were answered."""
    from websockets.asyncio.client import connect

    from telephony.twilio import signature

    answered = 0
    # Signed as ConversationRelay signs its handshake (the server checks it).
    signed = {signature.HEADER: signature.compute(url, None, token)}
    # No permessage-deflate: what ConversationRelay's frames look like on the wire.
    async with connect(
        url, open_timeout=RECEIVE_TIMEOUT_S, compression=None, additional_headers=signed
    ) as ws:
        setup = {
            "type": "setup",
            "sessionId": "VX" + secrets.token_hex(16),
            "callSid": sid,
            "accountSid": "AC" + "b" * 32,
            "from": "+15005550006",
            "to": "+12125550123",
            "direction": "outbound-api",
            "callStatus": "in-progress",
            "customParameters": {},
        }
        await ws.send(json.dumps(setup))
        try:
            await _read_reply(ws, None, stats)  # the opening: not timed
            for _ in range(turns):
                if think_s > 0:  # the reply being spoken, the prospect answering
                    await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)
                payload = json.dumps(
                    {
                        "type": "prompt",
                        "voicePrompt": pick_prompt(rng),
                        "lang": "en-US",
                        "last": True,
                    }
                )
                sent_at = time.perf_counter()
                await ws.send(payload)
                await _read_reply(ws, sent_at, stats)
                answered += 1
        except ConversationOver:
            stats.ended_by_agent += 1
    return answered


class CallPool:
    """The placed calls' relay URLs and sids, each handed out once (then reused, with a
    warning, should they run out)."""

    def __init__(self, calls: list[tuple[str, str]], token: str) -> None:
        self.calls = calls
        self.token = token  # the auth token the handshakes are signed with
        self.used = 0

    def take(self) -> tuple[str, str]:
        if self.used == len(self.calls):
            log.warning("ran out of fresh calls: reusing them (see --calls)")
        call = self.calls[self.used % len(self.calls)]
        self.used += 1
        return call


async def run_sockets(
    pool: CallPool,
    sockets: int,
    turns: int,
    turns_per_call: int,
    think_s: float,
    rng: random.Random,
    stats: TurnStats,
) -> float:
    """`sockets` tasks converse over fresh calls from `pool` until `turns` prompts were
    answered; returns the elapsed seconds."""
    remaining = turns

    async def socket_task(seed: int) -> None:
        nonlocal remaining
        local = random.Random(seed)
        while remaining > 0:
            url, sid = pool.take()
            want = min(turns_per_call, remaining)
            remaining -= want  # reserved; given back if the call ended early
            try:
                got = await converse(url, sid, want, think_s, local, stats, token=pool.token)
            except Exception as exc:  # timeouts, refused sockets, ConnectionClosed...
                got = 0
                stats.error(type(exc).__name__)
                log.warning("conversation on %s failed: %s: %s", sid, type(exc).__name__, exc)
            stats.conversations += 1
            remaining += want - got
            if sum(stats.errors.values()) > 20:
                raise RuntimeError(f"too many failed conversations: {stats.errors}")

    t0 = time.perf_counter()
    await asyncio.gather(*(socket_task(rng.randrange(1 << 30)) for _ in range(sockets)))
    return time.perf_counter() - t0


# --- the benchmark --------------------------------------------------------------------


def bench_voice_turn(db: Any, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    token = "bench-" + secrets.token_hex(20)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    n_calls = args.calls or (args.turns // 2 + 2 * args.sockets)
    log.info("seeding %d calls", n_calls)
    _seeded, placed, telephony = setup_calls(db, n_calls, base, token, rng)
    pool = CallPool([(telephony.relay_url(c.call_id), c.sid) for c in placed], token)

    server = start_server(
        db, tmp / "serve-data", port, token, args.db_pool, profile=args.profile_server
    )
    try:
        meter = CpuMeter({"server": server.proc.pid, "pg": postmaster_pid(db.libpq_url)})
        log.info("warm-up: a conversation per socket")
        warm_stats = TurnStats()
        run_async(
            run_sockets(
                pool,
                args.sockets,
                WARMUP_TURNS * args.sockets,
                WARMUP_TURNS,
                args.think_ms / 1000,
                rng,
                warm_stats,
            ),
            args.loop,
        )
        if warm_stats.errors:
            log.error("warm-up errors: %s\nserver log:\n%s", warm_stats.errors, server.log_tail())
        log.info(
            "timing %d turns over %d sockets (at most %d per call)",
            args.turns,
            args.sockets,
            args.turns_per_call,
        )
        stats = TurnStats()
        before = meter.read()
        elapsed = run_async(
            run_sockets(
                pool,
                args.sockets,
                args.turns,
                args.turns_per_call,
                args.think_ms / 1000,
                rng,
                stats,
            ),
            args.loop,
        )
        after = meter.read()
        if stats.errors:
            log.error("errors: %s\nserver log (tail):\n%s", stats.errors, server.log_tail())
    finally:
        server.stop()

    lat = sorted(stats.first_token_s)
    reply = sorted(stats.reply_s)
    n = len(lat)
    p95 = percentile(lat, 95) * 1000

    def per_turn(name: str) -> float | None:
        return round((after[name] - before[name]) * 1000 / n, 3) if n else None

    return {
        "bench": "voice_turn",
        "turns": n,
        "sockets": args.sockets,
        "think_ms": args.think_ms,
        "p50_ms": round(percentile(lat, 50) * 1000, 2),
        "p95_ms": round(p95, 2),
        "p99_ms": round(percentile(lat, 99) * 1000, 2),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "reply_p95_ms": round(percentile(reply, 95) * 1000, 2),
        "turns_per_s": round(n / elapsed, 1) if elapsed > 0 else None,
        "conversations": stats.conversations,
        "ended_by_agent": stats.ended_by_agent,
        "errors": sum(stats.errors.values()),
        "server_cpu_ms_per_turn": per_turn("server"),
        "pg_cpu_ms_per_turn": per_turn("pg"),
        "client_cpu_ms_per_turn": per_turn("client"),
        "target_p95_ms": TARGET_P95_MS,
        "met": bool(n > 0 and p95 <= TARGET_P95_MS and not stats.errors),
    }


# --- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Latency from a ConversationRelay `prompt` to the first `text` token "
        "with the offline voice agent, against a running `klosesales serve` on a temporary "
        "embedded PostgreSQL. JSON figures on stdout, logs on stderr."
    )
    p.add_argument("--quick", action="store_true", help="small run: 100 turns")
    p.add_argument(
        "--turns", type=int, default=None, help="timed prompts in all (default 1000, --quick 100)"
    )
    p.add_argument("--sockets", type=int, default=8, help="concurrent relay websockets (default 8)")
    p.add_argument(
        "--think-ms",
        type=float,
        default=DEFAULT_THINK_MS,
        help="pause before each prompt, on average (uniform 0.5x-1.5x); 0: none, every "
        f"socket sends as fast as it is answered (default {DEFAULT_THINK_MS:g})",
    )
    p.add_argument(
        "--turns-per-call",
        type=int,
        default=8,
        help="prompts per conversation before moving to a fresh call (default 8)",
    )
    p.add_argument(
        "--calls",
        type=int,
        default=None,
        help="calls to place (default: turns / 2 + 2 × sockets; reused when exhausted)",
    )
    p.add_argument("--db-pool", type=int, default=20, help="the server's DB_POOL_SIZE (default 20)")
    p.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default=None,
        help="client event loop (default uvloop when installed)",
    )
    p.add_argument(
        "--profile-server",
        type=Path,
        default=None,
        metavar="FILE",
        help="run the server under cProfile and write its profile to FILE",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed for the prompts")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = p.parse_args(argv)
    if args.turns is None:
        args.turns = 100 if args.quick else 1_000
    if min(args.turns, args.sockets, args.turns_per_call, args.db_pool) < 1:
        p.error("--turns, --sockets, --turns-per-call and --db-pool must be >= 1")
    if args.think_ms < 0:
        p.error("--think-ms must be >= 0")
    if args.calls is not None and args.calls < args.sockets + 1:
        p.error("--calls must be more than --sockets (a warm-up call per socket)")
    if args.loop is None:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            args.loop = "asyncio"
        else:
            args.loop = "uvloop"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    background = start(
        verbose=args.verbose,
        quiet=("telephony", "billing", "accounts", "websockets", "httpx"),
    )
    check_prompts()
    t_start = time.perf_counter()
    with bench_database() as (db, tmp):
        emit({**bench_voice_turn(db, tmp, args), "background_cpu_pct": background})
    log.info("done in %.1f s", time.perf_counter() - t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
