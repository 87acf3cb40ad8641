"""How search orders and cuts its candidates (retrieval.search): weighted fusion, the
full-text leg ranking turns that hold more of the query's words first, the prospect's
words before the agent's, and the floor graded by how many of the query's words a turn
holds. The weights themselves were set on the labelled set's tuning half
(bench/search_quality.py); these tests pin the mechanisms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from accounts.models import Role
from accounts.service import Actor
from core.db import Database
from retrieval import search as retrieval
from retrieval.embeddings import HashingEmbedder
from retrieval.indexing import index_call
from retrieval.search import Tuning
from tests.accounts.helpers import make_member
from tests.insights.helpers import make_contact, seed_call

FAKE = HashingEmbedder()
MAX_TEXT = Tuning().max_distance_text


def test_fusion_weighs_each_leg() -> None:
    # Equal weights: a tie on score, broken by the best rank, then the id.
    assert [i for i, _ in retrieval.fuse([[1, 2], [2, 1]])] == [1, 2]
    # The second leg weighing more: its first wins.
    assert [i for i, _ in retrieval.fuse([[1, 2], [2, 1]], weights=[1.0, 1.5])] == [2, 1]


def test_the_floor_is_graded_by_the_share_of_the_querys_words_held() -> None:
    tuning = Tuning(max_distance=0.5, max_distance_text=0.7)
    assert retrieval._floor(tuning, False, 1.0) == 0.5  # the full-text leg did not find it
    assert retrieval._floor(tuning, True, 1.0) == 0.7  # every word of the query
    assert abs(retrieval._floor(tuning, True, 0.5) - 0.6) < 1e-9  # half of them
    assert retrieval._floor(tuning, True, 0.0) == 0.5
    # Not graded: any turn the full-text leg found gets the looser floor (as before).
    assert retrieval._floor(Tuning(graded_text_floor=False), True, 0.25) == MAX_TEXT


async def _call(db: Database, actor: Actor, turns: list[tuple[str, str]]) -> uuid.UUID:
    contact = await make_contact(db, actor, name=f"Prospect {uuid.uuid4().hex[:6]}")
    call_id = await seed_call(
        db,
        contact,
        actor.user_id,
        at=datetime.now(UTC),
        duration_s=60,
        cost_mc=60_000,
        turns=turns,
    )
    await index_call(db, call_id, FAKE)
    return call_id


async def test_a_turn_holding_every_word_of_the_query_ranks_first(db: Database) -> None:
    """One word said three times used to outrank both words said once (ts_rank_cd over
    an OR of the words counts occurrences)."""
    manager = (await make_member(db, Role.MANAGER)).actor
    word, other = f"quorbel{uuid.uuid4().hex[:6]}", f"zintrax{uuid.uuid4().hex[:6]}"
    await _call(db, manager, [("prospect", f"{word} and {word}, really {word} {word}.")])
    await _call(db, manager, [("prospect", f"We looked at {word} for the {other} team.")])
    async with db.session() as session:
        hits = await retrieval.search(
            session, manager, f"{word} {other}", k=5, embedder=FAKE, mode="text"
        )
    assert len(hits) == 2
    assert other in hits[0].text, [h.text for h in hits]


async def test_the_prospects_words_come_before_the_agents_same_words(db: Database) -> None:
    """Same words, same full-text rank: the agent's turn was indexed first and so came
    first on the tie; the prospect's is what a search is after."""
    manager = (await make_member(db, Role.MANAGER)).actor
    word = f"vexomal{uuid.uuid4().hex[:6]}"
    await _call(db, manager, [("agent", f"The {word} contract renews in March.")])
    await _call(db, manager, [("prospect", f"The {word} contract renews in March.")])
    async with db.session() as session:
        hits = await retrieval.search(session, manager, word, k=5, embedder=FAKE, mode="text")
    assert [h.speakers for h in hits] == [("prospect",), ("agent",)]
