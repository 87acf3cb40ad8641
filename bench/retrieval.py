"""Hybrid transcript search at scale: build time, index size, latency, recall.

Starts its own embedded PostgreSQL (pgserver, pgvector 0.6.2) in a temporary
directory, migrates it, and bulk-loads (binary COPY) `--chunks` transcript chunks
across `--workspaces` workspaces, one of them holding `--big` of them; the others share
the rest evenly. Each workspace has a manager and reps, each rep a few contacts, each
contact calls of ten chunks; the foreign-key chain is real.

The chunks are synthetic — nothing is embedded with a model here: each chunk's
384-dimensional unit vector is its topic's centroid plus its call's own direction
plus noise (so a call's chunks sit together inside a topic), and its text is words of
its topic's vocabulary among common filler words, so full-text and vector search agree
on what a chunk is about. A query is made the same way around one call.

Then, as `retrieval.indexing` does in production, each workspace at or above
`--index-threshold` chunks gets its own partial HNSW index (`CREATE INDEX
CONCURRENTLY`, m 16, ef_construction 128) and partial GIN index on `tsv`: their build
time and sizes are reported.
Filtered hybrid search (`retrieval.search.search`, the code the assistant calls,
k = 10) is timed for: the big workspace's manager (HNSW), its reps (≈ 15,000 rows
each: exact, being under `retrieval.search.EXACT_MAX_ROWS`), small workspaces'
managers and reps (exact). The vector leg's recall@10 against exact search is measured
over the big workspace.

Figures go to stdout, one JSON object per line (the first one: how busy the machine
was before the start; each search line: the whole machine's CPU while it ran); logs go
to stderr. Run from the repository root:

    .venv/bin/python bench/retrieval.py [--quick]    # --quick: 100,000 chunks, 30,000 big

`--keep DIR` leaves the loaded database in DIR (a new folder); `--reuse DIR` then
searches it again without loading (migrations newer than the data still run).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pickle
import random
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.harness import (  # noqa: E402  (the path above makes `bench` importable)
    bench_database,
    busy_pct,
    emit,
    machine_cpu,
    percentile,
    start,
)

log = logging.getLogger("bench.retrieval")

DIM = 384
MODEL = "bench-synthetic-384"
TARGET_P95_MS = 50.0
TARGET_RECALL = 0.95
CHUNKS_PER_CALL = 10
CONTACTS_PER_REP = 5
TOPIC_WORDS = 30
COMMON_WORDS = 2_000
WORDS_PER_CHUNK = 40
TOPIC_WORDS_PER_CHUNK = 8
CALL_WEIGHT = 0.6  # a call's own direction, relative to its topic's centroid
NOISE_WEIGHT = 0.5
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def unit(m: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    normalised: np.ndarray[Any, Any] = m / np.linalg.norm(m, axis=-1, keepdims=True)
    return normalised


# --- the synthetic world --------------------------------------------------------------------


@dataclass
class Tenant:
    workspace_id: uuid.UUID
    chunks: int
    manager: Any = None  # accounts.service.Actor
    reps: list[Any] = field(default_factory=list)
    # call id → (owner id, contact id, topic, call direction)
    calls: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID, int, np.ndarray[Any, Any]]] = field(
        default_factory=dict
    )


class World:
    """Topic centroids and vocabularies, shared by the loader and the queries."""

    def __init__(self, topics: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.centroids = unit(self.rng.standard_normal((topics, DIM)))
        words = self._pseudo_words(topics * TOPIC_WORDS + COMMON_WORDS)
        self.topic_words = [words[t * TOPIC_WORDS : (t + 1) * TOPIC_WORDS] for t in range(topics)]
        self.common = words[topics * TOPIC_WORDS :]

    def _pseudo_words(self, n: int) -> list[str]:
        rng = random.Random(1)
        seen: set[str] = set()
        out: list[str] = []
        while len(out) < n:
            word = "".join(rng.choice(SYLLABLES) for _ in range(4))
            if word not in seen:
                seen.add(word)
                out.append(word)
        return out

    def call_direction(self) -> np.ndarray[Any, Any]:
        return unit(self.rng.standard_normal(DIM))

    def vectors(self, topic: int, direction: np.ndarray[Any, Any], n: int) -> np.ndarray[Any, Any]:
        noise = unit(self.rng.standard_normal((n, DIM))) * NOISE_WEIGHT
        return unit(self.centroids[topic] + CALL_WEIGHT * direction + noise).astype(np.float32)

    def text(self, rng: random.Random, topic: int, n_topic: int, n_common: int) -> str:
        words = [rng.choice(self.topic_words[topic]) for _ in range(n_topic)]
        # Filler words are Zipf-like: a few very common, most rare.
        words += [
            self.common[min(int(rng.paretovariate(1.1)) - 1, COMMON_WORDS - 1)]
            for _ in range(n_common)
        ]
        rng.shuffle(words)
        return " ".join(words)


async def create_people(db: Any, sizes: list[int], reps_small: int, reps_big: int) -> list[Tenant]:
    from accounts.models import Role, User, Workspace
    from accounts.service import Actor

    tenants: list[Tenant] = []
    async with db.session() as s:
        for i, size in enumerate(sizes):
            ws = Workspace(name=f"Bench {i:03d}")
            s.add(ws)
            await s.flush()
            n_reps = reps_big if i == 0 else reps_small
            manager = User(workspace_id=ws.id, email=f"m{i}@bench.test", name="M", role="manager")
            reps = [
                User(workspace_id=ws.id, email=f"r{i}-{j}@bench.test", name=f"R{j}", role="rep")
                for j in range(n_reps)
            ]
            s.add_all([manager, *reps])
            await s.flush()
            tenant = Tenant(ws.id, size)
            tenant.manager = Actor(manager.id, ws.id, Role.MANAGER, manager.email, manager.name)
            tenant.reps = [Actor(r.id, ws.id, Role.REP, r.email, r.name) for r in reps]
            tenants.append(tenant)
        await s.commit()
    return tenants


CHUNK_COLUMNS = (
    "call_id, workspace_id, owner_id, contact_id, seq, first_segment, last_segment,"
    " started_at, offset_s, speakers, text, embedding, embedding_model, embedding_dim"
)
CHUNK_TYPES = [
    "uuid",
    "uuid",
    "uuid",
    "uuid",
    "int4",
    "int4",
    "int4",
    "timestamptz",
    "int4",
    "text[]",
    "text",
    "vector",
    "varchar",
    "int4",
]


def load(libpq: str, world: World, tenants: list[Tenant], seed: int) -> None:
    """COPY each workspace's contacts, calls (behind one shared decision) and chunks."""
    import psycopg
    from pgvector.psycopg import register_vector

    rng = random.Random(seed)
    now = datetime.now(UTC)
    topics = len(world.centroids)
    with psycopg.connect(libpq) as conn:
        register_vector(conn)
        for n, tenant in enumerate(tenants):
            contacts: list[tuple[uuid.UUID, uuid.UUID]] = []
            with conn.cursor() as cur:
                with cur.copy(
                    "COPY contacts (id, workspace_id, owner_id, name, phone_e164, time_zones)"
                    " FROM STDIN"
                ) as copy:
                    for r, rep in enumerate(tenant.reps):
                        for c in range(CONTACTS_PER_REP):
                            cid = uuid.uuid4()
                            contacts.append((cid, rep.user_id))
                            phone = f"+1212{2_000_000 + r * CONTACTS_PER_REP + c}"
                            copy.write_row(
                                (
                                    cid,
                                    tenant.workspace_id,
                                    rep.user_id,
                                    f"Contact {c}",
                                    phone,
                                    ["America/New_York"],
                                )
                            )
                decision = cur.execute(
                    "INSERT INTO compliance_decisions (workspace_id, phone_e164, actor_id,"
                    " decided_at, allowed) VALUES (%s, '+12125550100', %s, now(), true)"
                    " RETURNING id",
                    (tenant.workspace_id, tenant.reps[0].user_id),
                ).fetchone()
                assert decision is not None
                n_calls = -(-tenant.chunks // CHUNKS_PER_CALL)
                with cur.copy(
                    "COPY calls (id, workspace_id, contact_id, placed_by, phone_e164, from_e164,"
                    " decision_id, time_limit_s, status, duration_s, created_at) FROM STDIN"
                ) as copy:
                    for _ in range(n_calls):
                        contact_id, owner = contacts[rng.randrange(len(contacts))]
                        call_id = uuid.uuid4()
                        topic = rng.randrange(topics)
                        tenant.calls[call_id] = (owner, contact_id, topic, world.call_direction())
                        copy.write_row(
                            (
                                call_id,
                                tenant.workspace_id,
                                contact_id,
                                owner,
                                "+12125550100",
                                "+15005550006",
                                decision[0],
                                600,
                                "completed",
                                300,
                                now,
                            )
                        )
                left = tenant.chunks
                with cur.copy(
                    f"COPY transcript_chunks ({CHUNK_COLUMNS}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(CHUNK_TYPES)
                    for call_id, (owner, contact_id, topic, direction) in tenant.calls.items():
                        count = min(CHUNKS_PER_CALL, left)
                        left -= count
                        vectors = world.vectors(topic, direction, count)
                        for seq in range(count):
                            words = world.text(
                                rng,
                                topic,
                                TOPIC_WORDS_PER_CHUNK,
                                WORDS_PER_CHUNK - TOPIC_WORDS_PER_CHUNK,
                            )
                            copy.write_row(
                                (
                                    call_id,
                                    tenant.workspace_id,
                                    owner,
                                    contact_id,
                                    seq,
                                    seq * 5,
                                    seq * 5 + 5,
                                    now + timedelta(seconds=30 * seq),
                                    30 * seq,
                                    ["agent", "prospect"],
                                    words,
                                    vectors[seq],
                                    MODEL,
                                    DIM,
                                )
                            )
            conn.commit()
            if n % 10 == 0:
                log.info("loaded workspace %d/%d (%d chunks)", n + 1, len(tenants), tenant.chunks)
    with psycopg.connect(libpq, autocommit=True) as conn:
        for table in ("contacts", "calls", "transcript_chunks"):
            conn.execute(f"VACUUM ANALYZE {table}")


# --- the searches ---------------------------------------------------------------------------


class QueryVectors:
    """An `Embedder` that knows the vector of each synthetic query text."""

    model_name = MODEL
    dim = DIM

    def __init__(self) -> None:
        self.vectors: dict[str, list[float]] = {}

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vectors[t] for t in texts]


def make_queries(
    world: World,
    tenant: Tenant,
    owner: uuid.UUID | None,
    n: int,
    rng: random.Random,
    embedder: QueryVectors,
) -> list[str]:
    """`n` query texts (their vectors registered with `embedder`) about calls in scope."""
    calls = [v for v in tenant.calls.values() if owner is None or v[0] == owner]
    out: list[str] = []
    for _ in range(n):
        _owner, _contact, topic, direction = calls[rng.randrange(len(calls))]
        query = f"{world.text(rng, topic, 3, 1)} q{len(embedder.vectors)}"
        embedder.vectors[query] = [float(x) for x in world.vectors(topic, direction, 1)[0]]
        out.append(query)
    return out


async def time_searches(
    db: Any, name: str, cases: list[tuple[Any, str]], embedder: QueryVectors, warmup: int
) -> dict[str, Any]:
    from retrieval.search import search

    latencies: list[float] = []
    returned: list[int] = []
    before = machine_cpu()
    for i, (actor, query) in enumerate(cases):
        t0 = time.perf_counter()
        async with db.session() as session:
            hits = await search(session, actor, query, k=10, embedder=embedder)
        elapsed = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            latencies.append(elapsed)
            returned.append(len(hits))
    busy = busy_pct(before, machine_cpu())
    latencies.sort()
    p95 = percentile(latencies, 95)
    record = {
        "bench": "retrieval_search",
        "scope": name,
        "k": 10,
        "runs": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(latencies[-1], 1),
        "min_hits": min(returned),
        "machine_cpu_pct": busy,
        "target_p95_ms": TARGET_P95_MS,
        "within_target": p95 <= TARGET_P95_MS,
    }
    emit(record)
    return record


async def measure_recall(
    db: Any, tenant: Tenant, queries: list[str], embedder: QueryVectors
) -> dict[str, Any]:
    """Recall@10 of the vector leg (as search runs it) against exact search."""
    from retrieval.search import DEFAULT_TUNING, Scope, exact_vector, vector_leg

    scope = Scope(tenant.workspace_id)
    n = max(10 * DEFAULT_TUNING.candidates_per_k, DEFAULT_TUNING.min_candidates)  # as search
    recalls: list[float] = []
    strategies: dict[str, int] = {}
    exact_ms: list[float] = []
    for query in queries:
        vector = embedder.vectors[query]
        async with db.session() as session:
            leg = await vector_leg(session, scope, vector, n, MODEL)
            t0 = time.perf_counter()
            exact = await exact_vector(session, scope, vector, 10, MODEL)
            exact_ms.append((time.perf_counter() - t0) * 1000)
        strategies[leg.strategy] = strategies.get(leg.strategy, 0) + 1
        recalls.append(len(set(leg.ids[:10]) & set(exact)) / 10)
    exact_ms.sort()
    recall = sum(recalls) / len(recalls)
    record = {
        "bench": "retrieval_recall",
        "scope": "big_workspace_manager",
        "rows": tenant.chunks,
        "queries": len(queries),
        "recall_at_10": round(recall, 4),
        "min_recall_at_10": min(recalls),
        "strategies": strategies,
        "exact_vector_p50_ms": round(percentile(exact_ms, 50), 1),
        "target_recall_at_10": TARGET_RECALL,
        "within_target": recall >= TARGET_RECALL,
    }
    emit(record)
    return record


async def run_searches(db: Any, world: World, tenants: list[Tenant], args: Any) -> bool:
    rng = random.Random(args.seed + 1)
    embedder = QueryVectors()
    big, small = tenants[0], tenants[1:]
    n = args.warmup + args.queries

    def cases(pool: list[Tenant], reps: bool) -> list[tuple[Any, str]]:
        out: list[tuple[Any, str]] = []
        for i in range(n):
            tenant = pool[i % len(pool)]
            actor = tenant.reps[rng.randrange(len(tenant.reps))] if reps else tenant.manager
            owner = actor.user_id if reps else None
            out.extend((actor, q) for q in make_queries(world, tenant, owner, 1, rng, embedder))
        return out

    ok = True
    for name, pool, reps in (
        ("big_workspace_manager", [big], False),
        ("big_workspace_rep", [big], True),
        ("small_workspace_manager", small, False),
        ("small_workspace_rep", small, True),
    ):
        record = await time_searches(db, name, cases(pool, reps), embedder, args.warmup)
        ok = ok and record["within_target"] and record["min_hits"] == 10
    recall_queries = make_queries(world, big, None, args.queries, rng, embedder)
    recall = await measure_recall(db, big, recall_queries, embedder)
    await db.dispose()
    return ok and recall["within_target"]


async def build_indexes(db: Any, tenants: list[Tenant], args: Any) -> None:
    import psycopg

    from retrieval.indexing import (
        HNSW_EF_CONSTRUCTION,
        HNSW_M,
        ensure_tenant_index,
        tenant_text_index_name,
    )

    for tenant in tenants:
        if tenant.chunks < args.index_threshold:
            continue
        t0 = time.perf_counter()
        name = await ensure_tenant_index(
            db,
            tenant.workspace_id,
            threshold=args.index_threshold,
            maintenance_work_mem_mb=args.maintenance_work_mem_mb,
        )
        build_s = time.perf_counter() - t0
        assert name is not None
        with psycopg.connect(db.libpq_url) as conn:
            row = conn.execute(
                "SELECT pg_relation_size(%s::regclass), pg_relation_size('transcript_chunks'),"
                " pg_relation_size('ix_transcript_chunks_tsv'),"
                " pg_relation_size('ix_transcript_chunks_workspace'),"
                " pg_relation_size(%s::regclass),"
                " pg_total_relation_size((SELECT reltoastrelid FROM pg_class"
                "  WHERE relname = 'transcript_chunks'))",
                (name, tenant_text_index_name(tenant.workspace_id)),
            ).fetchone()
        assert row is not None
        emit(
            {
                "bench": "retrieval_index_build",
                "rows": tenant.chunks,
                "index": "hnsw_partial",
                "m": HNSW_M,
                "ef_construction": HNSW_EF_CONSTRUCTION,
                "build_s": round(build_s, 1),
                "index_mb": round(row[0] / 2**20, 1),
                "table_mb": round(row[1] / 2**20, 1),
                "gin_tsv_mb": round(row[2] / 2**20, 1),
                "btree_workspace_mb": round(row[3] / 2**20, 1),
                "tenant_gin_tsv_mb": round(row[4] / 2**20, 1),
                "toast_mb": round(row[5] / 2**20, 1),
            }
        )
    await db.dispose()


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 chunks, 30,000 big (CI)")
    parser.add_argument("--chunks", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--big", type=int, default=None, help="default 300,000")
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--topics", type=int, default=1_000)
    parser.add_argument("--reps-big", type=int, default=20)
    parser.add_argument("--reps-small", type=int, default=5)
    parser.add_argument(
        "--index-threshold",
        type=int,
        default=None,
        help="workspaces with this many chunks get their own HNSW index (default: as in"
        " production, retrieval.indexing.TENANT_INDEX_ROWS)",
    )
    parser.add_argument("--maintenance-work-mem-mb", type=int, default=2048)
    parser.add_argument("--queries", type=int, default=None, help="timed searches per scope")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep", metavar="DIR", help="load into DIR (new) and keep it, to rerun with --reuse"
    )
    parser.add_argument(
        "--reuse", metavar="DIR", help="search the data a --keep run left in DIR (no load)"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.chunks is None:
        args.chunks = 100_000 if args.quick else 1_000_000
    if args.big is None:
        args.big = 30_000 if args.quick else 300_000
    if args.queries is None:
        args.queries = 50 if args.quick else 100
    if args.index_threshold is None:
        from retrieval.indexing import TENANT_INDEX_ROWS

        args.index_threshold = TENANT_INDEX_ROWS
    if not 0 < args.big < args.chunks or args.workspaces < 2:
        parser.error("need 0 < --big < --chunks and at least 2 workspaces")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Logging, SIGTERM as SystemExit, and how busy the machine was before we started.
    background = start(verbose=args.verbose, quiet=())
    t_start = time.perf_counter()
    emit(
        {
            "bench": "retrieval_machine",
            "cpus": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "background_cpu_pct": background,
            "started_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        }
    )
    # --keep / --reuse: the embedded database's folder outlives the run.
    with bench_database(keep=args.keep or args.reuse) as (db, tmp):
        saved = tmp / "bench-world.pickle"
        if args.reuse:  # the data of an earlier `--keep` run, as it was loaded
            with saved.open("rb") as f:
                world, tenants = pickle.load(f)  # noqa: S301  (our own file)
        else:
            rest = args.chunks - args.big
            small = args.workspaces - 1
            sizes = [args.big] + [
                rest // small + (1 if i < rest % small else 0) for i in range(small)
            ]
            tenants = asyncio.run(create_people(db, sizes, args.reps_small, args.reps_big))
            asyncio.run(db.dispose())
            world = World(args.topics, args.seed)
            t0 = time.perf_counter()
            load(db.libpq_url, world, tenants, args.seed)
            load_s = time.perf_counter() - t0
            log.info("loaded %d chunks in %.1f s", args.chunks, load_s)
            emit(
                {
                    "bench": "retrieval_load",
                    "chunks": args.chunks,
                    "workspaces": args.workspaces,
                    "big_workspace_chunks": args.big,
                    "dims": DIM,
                    "load_s": round(load_s, 1),
                    "chunks_per_s": round(args.chunks / load_s),
                }
            )
            if args.keep:
                with saved.open("wb") as f:
                    pickle.dump((world, tenants), f)

        asyncio.run(build_indexes(db, tenants, args))
        ok = asyncio.run(run_searches(db, world, tenants, args))
        log.info("done in %.1f s", time.perf_counter() - t_start)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
