"""Search quality on the blind labelled set: nDCG@10, first-hit precision, abstention.

Loads the 60 invented calls of `tests/fixtures/search_quality/` (written without
seeing the code; see its README) into a temporary workspace as real calls — contacts,
transcript segments — indexes them through `retrieval.indexing.index_call` (chunking,
boilerplate, the embedder `build_embedder` gives) and analyses the table (as autovacuum
would), and runs its 65 queries through
`retrieval.search.search` as the workspace's manager, k = 10. A hit counts as the
(call, turn) it quotes; a turn quoted twice counts once (the second copy gains 0).

Figures, one JSON object per line:

* `ndcg_at_10`: over the 50 non-negative queries, the grades (2/1) as gains, the ideal
  ranking built from all the query's labelled turns;
* `first_hit_relevant_ratio`: share of non-negative queries whose first hit is a
  labelled turn (target ≥ 0.9);
* `negative_empty_ratio`: share of the 15 negative queries answered with no hit;
* `boilerplate_hits`: hits quoting an opening (turn 0) or a closing turn, over all
  queries (each one an error);
* per kind (keyword, paraphrase, entity, intent) the same, and with `--per-query` each
  query's line;
* per half, the same: the queries are split once, by a hash of their id (`half`), into
  a tuning half (whose misses may be read to tune ranking) and a check half (whose
  misses are not read), so that a gain on the check half is evidence, not fitting.

Starts its own embedded PostgreSQL (or uses `--database-url`) and removes it after.
`--quick` runs the same (the set is small); `--mode vector|text` runs one leg alone.
Run from the repository root: `.venv/bin/python bench/search_quality.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import math
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.harness import bench_database, emit, start  # noqa: E402

log = logging.getLogger("bench.search_quality")

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "search_quality"
K = 10
TARGET_FIRST_HIT = 0.9
AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@dataclass
class LabelledSet:
    calls: list[dict[str, Any]]
    queries: list[dict[str, Any]]

    @classmethod
    def load(cls, folder: Path = FIXTURES) -> LabelledSet:
        def lines(name: str) -> list[dict[str, Any]]:
            with (folder / name).open(encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]

        return cls(lines("transcripts.jsonl"), lines("queries.jsonl"))

    def boilerplate(self) -> set[tuple[str, int]]:
        """Turn 0 of every call and the agent's last turn where it ends the call."""
        out: set[tuple[str, int]] = set()
        for call in self.calls:
            out.add((call["call"], 0))
            last = len(call["turns"]) - 1
            if call["turns"][last]["speaker"] == "agent":
                out.add((call["call"], last))
        return out


@dataclass
class Loaded:
    manager: Any  # accounts.service.Actor
    call_keys: dict[uuid.UUID, str] = field(default_factory=dict)  # call id → "c01"


async def load_calls(db: Any, labelled: LabelledSet, embedder: Any) -> Loaded:
    """The set's calls as real calls of one new workspace, indexed as production does."""
    from sqlalchemy import text

    from accounts.models import Role
    from retrieval.indexing import index_call
    from tests.accounts.helpers import make_member
    from tests.insights.helpers import make_contact, seed_call

    manager = (await make_member(db, Role.MANAGER)).actor
    loaded = Loaded(manager)
    for call in labelled.calls:
        contact = await make_contact(db, manager, name=call["contact"], company=call["company"])
        turns = [(t["speaker"], t["text"]) for t in call["turns"]]
        call_id = await seed_call(db, contact, manager.user_id, at=AT, duration_s=60, turns=turns)
        await index_call(db, call_id, embedder)
        loaded.call_keys[call_id] = call["call"]
    # As autovacuum does for a table in use: search weighs the query's words by how
    # rare they are from the planner's statistics (`retrieval.search.query_terms`).
    async with db.session() as session:
        await session.execute(text("ANALYZE transcript_chunks"))
        await session.commit()
    return loaded


def half(query_id: str) -> str:
    """The query's half of the set, fixed by its id alone: "tuning" (the first byte of
    the id's SHA-256 is even) or "check". Ranking is tuned by reading the tuning half's
    misses only; the check half tells whether what was learnt there holds elsewhere."""
    return "tuning" if hashlib.sha256(query_id.encode()).digest()[0] % 2 == 0 else "check"


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def score_query(query: dict[str, Any], found: list[tuple[str, int]]) -> dict[str, Any]:
    """One query's figures from the (call, turn) pairs found, best first."""
    grades = {(r["call"], r["turn"]): r["grade"] for r in query["relevant"]}
    seen: set[tuple[str, int]] = set()
    gains: list[float] = []
    for pair in found[:K]:
        gains.append(0.0 if pair in seen else float(grades.get(pair, 0)))
        seen.add(pair)
    ideal = dcg(sorted((float(g) for g in grades.values()), reverse=True)[:K])
    return {
        "ndcg_at_10": dcg(gains) / ideal if ideal else None,
        "first_hit_relevant": bool(found) and grades.get(found[0], 0) > 0,
        "hits": len(found),
    }


async def run_queries(
    db: Any,
    labelled: LabelledSet,
    loaded: Loaded,
    embedder: Any,
    mode: str = "hybrid",
    floor: bool = True,
) -> list[dict[str, Any]]:
    """Each query's figures and what it found (`floor` False: no relevance floor, to
    calibrate it)."""
    from retrieval.search import DEFAULT_TUNING, Mode, Tuning, search

    tuning = DEFAULT_TUNING if floor else Tuning(max_distance=2.0, max_distance_text=2.0)

    boilerplate = labelled.boilerplate()
    out: list[dict[str, Any]] = []
    async with db.session() as session:
        for query in labelled.queries:
            hits = await search(
                session,
                loaded.manager,
                query["query"],
                k=K,
                embedder=embedder,
                mode=cast(Mode, mode),
                tuning=tuning,
            )
            found = [(loaded.call_keys[h.call_id], h.segment) for h in hits]
            record = score_query(query, found)
            record.update(
                id=query["id"],
                kind=query["kind"],
                half=half(query["id"]),
                query=query["query"],
                boilerplate_hits=sum(pair in boilerplate for pair in found),
                found=[
                    [c, t, h.distance, h.text_rank] for (c, t), h in zip(found, hits, strict=True)
                ],
            )
            out.append(record)
    return out


def summarise(
    records: list[dict[str, Any]], kind: str | None = None, part: str | None = None
) -> dict[str, Any]:
    """The set's figures (or one kind's, or one half's: `part` "tuning" or "check")."""
    chosen = [
        r
        for r in records
        if (kind is None or r["kind"] == kind) and (part is None or half(r["id"]) == part)
    ]
    positive = [r for r in chosen if r["kind"] != "negative"]
    negative = [r for r in chosen if r["kind"] == "negative"]
    figures: dict[str, Any] = {"queries": len(chosen)}
    if positive:
        figures["ndcg_at_10"] = round(sum(r["ndcg_at_10"] for r in positive) / len(positive), 4)
        figures["first_hit_relevant_ratio"] = round(
            sum(r["first_hit_relevant"] for r in positive) / len(positive), 4
        )
        figures["empty_positive_queries"] = sum(r["hits"] == 0 for r in positive)
    if negative:
        figures["negative_empty_ratio"] = round(
            sum(r["hits"] == 0 for r in negative) / len(negative), 4
        )
    figures["boilerplate_hits"] = sum(r["boilerplate_hits"] for r in chosen)
    return figures


async def measure(
    db: Any, embedder: Any, mode: str = "hybrid", floor: bool = True
) -> list[dict[str, Any]]:
    """Load the set into `db` and run its queries: each query's record."""
    labelled = LabelledSet.load()
    t0 = time.perf_counter()
    loaded = await load_calls(db, labelled, embedder)
    log.info("loaded and indexed %d calls in %.1f s", len(labelled.calls), time.perf_counter() - t0)
    return await run_queries(db, labelled, loaded, embedder, mode, floor)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the same run (the set is small)")
    parser.add_argument("--mode", choices=("hybrid", "vector", "text"), default="hybrid")
    parser.add_argument("--no-floor", action="store_true", help="no relevance floor")
    parser.add_argument("--per-query", action="store_true", help="one line per query too")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    background = start(verbose=args.verbose, quiet=())
    emit(
        {
            "bench": "search_quality_machine",
            "cpus": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "background_cpu_pct": background,
            "started_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        }
    )
    from core.settings import get_settings
    from retrieval.embeddings import build_embedder

    embedder = build_embedder(get_settings())
    with bench_database(args.database_url) as (db, _tmp):
        records = asyncio.run(measure(db, embedder, args.mode, not args.no_floor))
        asyncio.run(db.dispose())
    if args.per_query:
        for record in records:
            emit({"bench": "search_quality_query", **record})
    for kind in ("keyword", "paraphrase", "entity", "intent", "negative"):
        emit({"bench": "search_quality_kind", "kind": kind, **summarise(records, kind)})
    for part in ("tuning", "check"):
        emit({"bench": "search_quality_half", "half": part, **summarise(records, part=part)})
    overall = summarise(records)
    emit(
        {
            "bench": "search_quality",
            "mode": args.mode,
            "embedder": embedder.model_name,
            **overall,
            "tuning_half": summarise(records, part="tuning"),
            "check_half": summarise(records, part="check"),
            "target_first_hit_relevant_ratio": TARGET_FIRST_HIT,
            "within_target": overall["first_hit_relevant_ratio"] >= TARGET_FIRST_HIT,
        }
    )
    return 0 if overall["first_hit_relevant_ratio"] >= TARGET_FIRST_HIT else 1


if __name__ == "__main__":
    sys.exit(main())
