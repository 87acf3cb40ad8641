"""How search orders and cuts its candidates (retrieval.search): weighted fusion, the
full-text leg ranking turns that hold more of the query's words first, the prospect's
words before the agent's, and the floor graded by how many of the query's words a turn
holds. The weights themselves were set on the labelled set's tuning half
(bench/search_quality.py); these tests pin the mechanisms."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

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


def test_a_words_weight_grows_as_fewer_chunks_hold_it() -> None:
    # BM25's inverse document frequency from the share of chunks holding the word.
    assert abs(retrieval.idf(0.5, 0.01) - math.log(3)) < 1e-9
    assert retrieval.idf(0.01, 0.001) > retrieval.idf(0.1, 0.001) > retrieval.idf(0.5, 0.001)
    # Rarer than any word the statistics track: half the least share they hold.
    assert retrieval.idf(0.0, 0.002) == retrieval.idf(0.001, 0.002)
    # No statistics (a table never analysed): every word weighs the same.
    assert retrieval.idf(None, None) == retrieval.idf(0.3, None) == 1.0


async def _analyse(db: Database) -> None:
    async with db.session() as session:
        await session.execute(text("ANALYZE transcript_chunks"))
        await session.commit()


async def test_a_rare_word_of_the_query_outweighs_a_common_one(db: Database) -> None:
    """Each turn holds one of the query's two words. Counted alike (a half of the query
    each), the common word's turn won on `ts_rank_cd` by saying it three times; weighed
    by how rare each word is, the turn with the rare one comes first."""
    manager = (await make_member(db, Role.MANAGER)).actor
    common, rare = f"plomvek{uuid.uuid4().hex[:6]}", f"drusilk{uuid.uuid4().hex[:6]}"
    turns = [("prospect", f"Note {n} about {common}.") for n in range(150)]
    await _call(db, manager, [("prospect", f"{common}, {common} and {common} again."), *turns])
    await _call(db, manager, [("prospect", f"We went with {rare} last year.")])
    await _analyse(db)
    async with db.session() as session:
        terms = await retrieval.query_terms(session, [common, rare, "the"])
        assert terms.weights[rare] > terms.weights[common] > 0
        assert "the" not in terms.weights and "the" in terms.common  # a stop word
        hits = await retrieval.search(
            session, manager, f"{common} {rare}", k=5, embedder=FAKE, mode="text"
        )
    assert rare in hits[0].text, [h.text for h in hits]
    # Counted alike (as before), the common word's thrice-said turn came first.
    async with db.session() as session:
        flat = await retrieval.search(
            session,
            manager,
            f"{common} {rare}",
            k=5,
            embedder=FAKE,
            mode="text",
            tuning=Tuning(idf_weights=False),
        )
    assert rare not in flat[0].text


async def test_the_querys_words_as_a_phrase_come_before_the_same_words_apart(
    db: Database,
) -> None:
    """Both turns hold both words; the one saying them apart, each twice, had the better
    `ts_rank_cd`; the one saying them as the query's phrase is what was asked for."""
    manager = (await make_member(db, Role.MANAGER)).actor
    first, second = f"mikrov{uuid.uuid4().hex[:6]}", f"tiimsa{uuid.uuid4().hex[:6]}"
    await _call(
        db,
        manager,
        [("prospect", f"{first} {first} runs it, and our {second} {second} are three.")],
    )
    phrase = await _call(db, manager, [("prospect", f"We meet on {first} {second} weekly.")])
    query = f"{first} {second}"
    async with db.session() as session:
        hits = await retrieval.search(session, manager, query, k=5, embedder=FAKE, mode="text")
        apart = await retrieval.search(
            session,
            manager,
            query,
            k=5,
            embedder=FAKE,
            mode="text",
            tuning=Tuning(phrase_first=False),
        )
    assert hits[0].call_id == phrase, [h.text for h in hits]
    assert apart[0].call_id != phrase  # as it was before the phrase came first


async def test_a_quoted_query_is_ranked_by_ts_rank_cd_not_by_row_id(db: Database) -> None:
    """Web-search syntax ("a quoted phrase") is one condition, so the statement's first
    sort key was the constant 1, which PostgreSQL reads as "the first column" (the id):
    the newest match came first, whatever its rank."""
    manager = (await make_member(db, Role.MANAGER)).actor
    first, second = f"quarnel{uuid.uuid4().hex[:6]}", f"vostrik{uuid.uuid4().hex[:6]}"
    said = f"{first} {second}"
    dense = await _call(db, manager, [("prospect", f"{said}, yes, {said} and {said} again.")])
    await _call(db, manager, [("prospect", f"We tried {said} once, I think, a long time ago.")])
    async with db.session() as session:
        hits = await retrieval.search(
            session, manager, f'"{said}"', k=5, embedder=FAKE, mode="text"
        )
    assert [h.call_id for h in hits][:1] == [dense], [h.text for h in hits]
    assert len(hits) == 2
