"""What the local embedding model costs: start-up, CPU per query, indexing throughput,
retrieval quality, and a search query's embedding time with 50 chat sessions running.

`--embedder onnx` (default) is the shipped int8 ONNX all-MiniLM-L6-v2
(`retrieval.embeddings.LocalMiniLM`); `--embedder torch` the same model through
sentence-transformers and PyTorch (`TorchMiniLM`, needs the `export` extra), to
compare. One JSON object per figure on stdout (`"figure": …`), logs on stderr:

* `load` — in a fresh Python process: `import retrieval.embeddings`, then the first
  `embed` of one query (the model's load included), and the process's peak RSS;
* `alone` — `--queries` search queries embedded one at a time through `embed()`
  (thread hop included): latency p50/p95/p99 and this process's CPU per query;
* `indexing` — chunk-sized texts (60–160 words) in one `embed()`: texts/s and CPU per
  text;
* `quality` — the retrieval test corpus (tests/retrieval/corpus.py, 40 calls with
  known answers) chunked as the app chunks it and searched by vector alone, exactly:
  recall@1 and recall@5 of the right call; with `--compare`, the same for the other
  embedder and how often both put the same call first;
* `under_load` — `bench/chat_turn.py`'s concurrency run (`--sessions` users of one
  workspace sending `--per-session` messages back to back through `answer_message`,
  a fifth of them a `search_calls` search) on a temporary embedded PostgreSQL, with the
  search tool's embedder clocked: `embed_*` from the call to the vector being ready in
  the embeddings thread (queueing for a thread included; the target: p95 ≤ 15 ms),
  `embed_compute_*` the model's run alone, and `embed_await_*` until the awaiting
  coroutine runs again (that adds the event loop's own queue, which 50 sessions sending
  back to back keep long).

    .venv/bin/python bench/embeddings.py [--quick] [--embedder onnx|torch] [--compare]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import resource
import subprocess
import sys
import threading
import time
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
    busy_pct,
    emit,
    machine_cpu,
    percentile,
    postmaster_pid,
    run_async,
    start,
)

log = logging.getLogger("bench")
TARGET_EMBED_P95_MS = 15.0

QUERIES = (
    "prospect said it was too expensive",
    "calls where HubSpot came up",
    "who asked for a callback on Tuesday afternoon",
    "search my calls for pricing",
    "which prospects are looking at Samsara",
    "objections about the contract length",
    "did anyone mention a purchasing freeze",
    "Salesforce renewal",
)


def embedder_class(kind: str) -> type:
    from retrieval.embeddings import LocalMiniLM, TorchMiniLM

    return LocalMiniLM if kind == "onnx" else TorchMiniLM


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def latency(values_s: list[float], prefix: str) -> dict[str, float | None]:
    v = sorted(values_s)
    if not v:
        return {f"{prefix}_{q}_ms": None for q in ("p50", "p95", "p99", "max")}
    return {
        f"{prefix}_p50_ms": ms(percentile(v, 50)),
        f"{prefix}_p95_ms": ms(percentile(v, 95)),
        f"{prefix}_p99_ms": ms(percentile(v, 99)),
        f"{prefix}_max_ms": ms(v[-1]),
    }


# --- start-up ----------------------------------------------------------------------------

_LOAD_SCRIPT = """
import asyncio, json, resource, sys, time
t0 = time.perf_counter()
from retrieval import embeddings
t1 = time.perf_counter()
embedder = embeddings.LocalMiniLM() if sys.argv[1] == "onnx" else embeddings.TorchMiniLM()
asyncio.run(embedder.embed(["the price is too high"]))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_embed_s": t2 - t1,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "torch_loaded": "torch" in sys.modules}))
"""


def load_figures(kind: str) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT, kind],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "import_s": round(got["import_s"], 2),
        "first_embed_s": round(got["first_embed_s"], 2),
        "ready_s": round(got["import_s"] + got["first_embed_s"], 2),
        "process_cpu_s": round(cpu, 2),
        "rss_mb": round(got["rss_mb"]),
        "torch_loaded": got["torch_loaded"],
    }


# --- alone -------------------------------------------------------------------------------


async def alone_figures(kind: str, queries: int) -> dict[str, Any]:
    embedder = embedder_class(kind)()
    await embedder.embed(["warm-up"])
    took: list[float] = []
    cpu0, m0 = time.process_time(), machine_cpu()
    for i in range(queries):
        t0 = time.perf_counter()
        await embedder.embed([QUERIES[i % len(QUERIES)]])
        took.append(time.perf_counter() - t0)
    return {
        "queries": queries,
        **latency(took, "embed"),
        "cpu_ms_per_query": ms((time.process_time() - cpu0) / queries),
        "machine_busy_pct": busy_pct(m0, machine_cpu()),
    }


def chunk_texts(n: int, rng: random.Random) -> list[str]:
    from tests.retrieval.corpus import TOPICS

    words = " ".join(f"{t.said} {t.more}" for t in TOPICS).split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(60, 160))) for _ in range(n)]


async def indexing_figures(kind: str, texts: int) -> dict[str, Any]:
    embedder = embedder_class(kind)()
    chunks = chunk_texts(texts, random.Random(7))
    await embedder.embed(chunks[:2])
    cpu0, t0, m0 = time.process_time(), time.perf_counter(), machine_cpu()
    await embedder.embed(chunks)
    wall = time.perf_counter() - t0
    return {
        "texts": texts,
        "texts_per_s": round(texts / wall, 1),
        "cpu_ms_per_text": ms((time.process_time() - cpu0) / texts),
        "machine_busy_pct": busy_pct(m0, machine_cpu()),
    }


# --- quality -----------------------------------------------------------------------------


@dataclass
class Ranked:
    top1: list[int]
    recall_at_1: float
    recall_at_5: float


async def vector_ranking(kind: str) -> Ranked:
    """Every corpus call chunked as the app does; each topic's query against all chunks,
    by cosine, best chunk per call; where the right call lands."""
    import numpy as np

    from retrieval.chunking import chunk_segments
    from tests.retrieval.corpus import TOPICS, contact_name, turns

    @dataclass
    class Segment:
        seq: int
        speaker: str
        text: str
        started_at: datetime

    at = datetime(2026, 10, 14, 15, 0, tzinfo=UTC)
    texts, owner = [], []
    for i, topic in enumerate(TOPICS):
        segments = [
            Segment(n, speaker, text, at + timedelta(seconds=5 * n))
            for n, (speaker, text) in enumerate(turns(topic, contact_name(i)))
        ]
        for chunk in chunk_segments(segments):
            texts.append(chunk.text)
            owner.append(i)
    embedder = embedder_class(kind)()
    chunks = np.asarray(await embedder.embed(texts))
    queries = np.asarray(await embedder.embed([t.query for t in TOPICS]))
    scores = queries @ chunks.T
    owners = np.asarray(owner)
    top1, hit1, hit5 = [], 0, 0
    for q in range(len(TOPICS)):
        best_per_call = {int(c): float(scores[q][owners == c].max()) for c in set(owner)}
        ranked = sorted(best_per_call, key=lambda c: -best_per_call[c])
        top1.append(ranked[0])
        hit1 += ranked[0] == q
        hit5 += q in ranked[:5]
    return Ranked(top1, hit1 / len(TOPICS), hit5 / len(TOPICS))


async def quality_figures(kind: str, compare: bool) -> dict[str, Any]:
    mine = await vector_ranking(kind)
    out: dict[str, Any] = {"recall_at_1": mine.recall_at_1, "recall_at_5": mine.recall_at_5}
    if compare:
        other_kind = "torch" if kind == "onnx" else "onnx"
        other = await vector_ranking(other_kind)
        out[f"{other_kind}_recall_at_1"] = other.recall_at_1
        out[f"{other_kind}_recall_at_5"] = other.recall_at_5
        same = sum(a == b for a, b in zip(mine.top1, other.top1, strict=True))
        out["same_top1_ratio"] = round(same / len(mine.top1), 3)
    return out


# --- under load --------------------------------------------------------------------------


@dataclass
class EmbedClock:
    ready: list[float] = field(default_factory=list)  # call → vector ready (thread)
    compute: list[float] = field(default_factory=list)  # the model's run in the thread
    awaited: list[float] = field(default_factory=list)  # call → coroutine resumed
    lock: threading.Lock = field(default_factory=threading.Lock)


def clocked_embedder(kind: str, clock: EmbedClock) -> Any:
    """The embedder, timing each `embed` both from the thread and from the coroutine."""
    base = embedder_class(kind)

    class Clocked(base):  # type: ignore[misc, valid-type]
        def _encode(self, texts: list[str]) -> Any:
            t0 = time.perf_counter()
            vectors = super()._encode(texts)
            return vectors, t0, time.perf_counter()

        async def embed(self, texts: Any) -> list[list[float]]:
            if not texts:
                return []
            called = time.perf_counter()
            vectors, started, done = await super().embed(texts)
            resumed = time.perf_counter()
            if len(texts) == 1:  # a search query (indexing happens before the timed run)
                with clock.lock:
                    clock.ready.append(done - called)
                    clock.compute.append(done - started)
                    clock.awaited.append(resumed - called)
            return list(vectors)

    return Clocked()


async def under_load(db: Any, args: argparse.Namespace) -> dict[str, Any]:
    from accounts.ratelimit import Limit
    from bench import chat_turn as ct
    from chat_app.agent import build_agent

    ct_args = ct.parse_args(
        ["--sessions", str(args.sessions), "--per-session", str(args.per_session), "--quick"]
    )
    db.engine(pool_size=ct_args.db_pool)
    clock = EmbedClock()
    embedder = clocked_embedder(args.embedder, clock)
    ct.install_embedder(embedder)
    agent = build_agent(ct.timed_model_class()())
    limits = (
        Limit("chat:user:minute", ct_args.rate_limit, 60),
        Limit("chat:user:hour", ct_args.rate_limit * 60, 3600),
    )
    team = await ct.seed_workspace(
        db,
        "Embeddings Bench",
        users=args.sessions,
        calls_per_user=1,
        granted_mc=(args.sessions * args.per_session + 10) * ct.PRICE_MC,
        embedder=embedder,
        rng=random.Random(args.seed),
    )
    try:
        pg_pid: int | None = postmaster_pid(db.libpq_url)
    except Exception:
        pg_pid = None
    clock.ready.clear(), clock.compute.clear(), clock.awaited.clear()
    many = await ct.concurrent(db, agent, team, ct_args, limits, ct.CpuMeter(pg_pid))
    return {
        "sessions": many["sessions"],
        "messages": many["sent"],
        "answered": many["answered"],
        "errors": many["errors"],
        "billing_errors": many["billing_errors"],
        "search_queries": len(clock.ready),
        **latency(clock.ready, "embed"),
        **latency(clock.compute, "embed_compute"),
        **latency(clock.awaited, "embed_await"),
        "turn_p95_ms": many["turn_p95_ms"],
        "msgs_per_s": many["msgs_per_s"],
        "app_cpu_ms_per_msg": many["app_cpu_ms_per_msg"],
        "machine_busy_pct": many["machine_busy_pct"],
    }


# --- main --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--embedder", choices=("onnx", "torch"), default="onnx")
    p.add_argument("--quick", action="store_true", help="50 queries; 50 sessions × 4 messages")
    p.add_argument("--compare", action="store_true", help="quality of the other embedder too")
    p.add_argument("--queries", type=int, default=None, help="one-at-a-time queries (500)")
    p.add_argument("--index-texts", type=int, default=None, help="chunk texts (200)")
    p.add_argument("--sessions", type=int, default=50, help="chat sessions (50)")
    p.add_argument("--per-session", type=int, default=None, help="messages each (20)")
    p.add_argument(
        "--only",
        choices=("load", "alone", "indexing", "quality", "under_load"),
        action="append",
        help="run only these parts (repeatable)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    args.queries = args.queries or (50 if args.quick else 500)
    args.index_texts = args.index_texts or (40 if args.quick else 200)
    args.per_session = args.per_session or (4 if args.quick else 20)
    return args


def main() -> int:
    args = parse_args()
    background = start(
        verbose=args.verbose, quiet=("retrieval", "billing", "accounts", "httpx", "chat_app")
    )
    parts = args.only or ["load", "alone", "indexing", "quality", "under_load"]
    base = {"bench": "embeddings", "embedder": args.embedder, "background_cpu_pct": background}
    if "load" in parts:
        emit({**base, "figure": "load", **load_figures(args.embedder)})
    if "alone" in parts:
        emit({**base, "figure": "alone", **run_async(alone_figures(args.embedder, args.queries))})
    if "indexing" in parts:
        figures = run_async(indexing_figures(args.embedder, args.index_texts))
        emit({**base, "figure": "indexing", **figures})
    if "quality" in parts:
        figures = run_async(quality_figures(args.embedder, args.compare))
        emit({**base, "figure": "quality", **figures})
    if "under_load" in parts:
        with bench_database() as (db, _tmp):
            figures = run_async(and_dispose(db, under_load(db, args)))
        p95 = figures["embed_p95_ms"]
        met = p95 is not None and p95 <= TARGET_EMBED_P95_MS and figures["errors"] == 0
        emit(
            {
                **base,
                "figure": "under_load",
                **figures,
                "target_embed_p95_ms": TARGET_EMBED_P95_MS,
                "met": met,
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
