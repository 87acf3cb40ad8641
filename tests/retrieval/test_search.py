"""Hybrid search against the real database and the real all-MiniLM-L6-v2 model.

* quality: 40 generated calls with known answers; hybrid recall@5 ≥ 0.9 and at least
  as good as either leg alone;
* isolation: a rep never sees another rep's or another workspace's text, whatever
  the query; managers see their workspace; admins the one they name;
* completeness on pgvector 0.6.2: with a tenant's own partial HNSW index and a rep
  owning few of its rows, a plain filtered HNSW query comes back short, and `search`
  still returns exactly k;
* bad input: clear errors, nothing leaked.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from accounts.models import Role
from accounts.service import Actor
from core.db import Database
from core.errors import NotFound, PermissionDenied
from retrieval import search as retrieval
from retrieval.embeddings import HashingEmbedder, LocalMiniLM
from retrieval.indexing import (
    HNSW_OPTIONS,
    ensure_tenant_index,
    index_call,
    tenant_index_name,
    tenant_text_index_name,
)
from retrieval.models import TranscriptChunk, tenant_predicate
from retrieval.search import Scope, SearchInputError, Tuning
from telephony.models import Call
from tests.accounts.helpers import make_member
from tests.insights.helpers import make_contact, seed_call

from .corpus import TOPICS, contact_name, turns

# No relevance floor: for tests of ranking and plumbing, whatever the distances (the
# floor itself is measured by tests/retrieval/test_search_quality.py).
NO_FLOOR = Tuning(max_distance=2.0, max_distance_text=2.0)
MINILM = LocalMiniLM()  # the model itself is loaded once per process (embeddings._onnx_model)
AT = datetime(2026, 10, 14, 15, 0, tzinfo=UTC)


# --- retrieval quality -------------------------------------------------------------------


@dataclass
class Corpus:
    manager: Actor
    reps: list[Actor]
    calls: dict[str, uuid.UUID]  # topic key → call id


@pytest.fixture(scope="module")
async def corpus(_engine_owner: Database) -> Corpus:
    db = _engine_owner
    manager = await make_member(db, Role.MANAGER)
    ws = manager.actor.workspace_id
    reps = [(await make_member(db, Role.REP, workspace_id=ws)).actor for _ in range(3)]
    calls: dict[str, uuid.UUID] = {}
    for i, topic in enumerate(TOPICS):
        rep = reps[i % len(reps)]
        contact = await make_contact(db, rep, name=contact_name(i))
        call_id = await seed_call(
            db, contact, rep.user_id, at=AT, duration_s=40, turns=turns(topic, contact.name)
        )
        await index_call(db, call_id, MINILM)
        calls[topic.key] = call_id
    return Corpus(manager.actor, reps, calls)


async def recall_at_5(db: Database, corpus: Corpus, mode: retrieval.Mode) -> float:
    found = 0
    async with db.session() as session:
        for topic in TOPICS:
            hits = await retrieval.search(
                session,
                corpus.manager,
                topic.query,
                k=5,
                embedder=MINILM,
                mode=mode,
                tuning=NO_FLOOR,
            )
            found += corpus.calls[topic.key] in {h.call_id for h in hits}
    return found / len(TOPICS)


async def test_hybrid_recall_at_5_beats_each_leg_alone(db: Database, corpus: Corpus) -> None:
    assert len(TOPICS) >= 30
    hybrid = await recall_at_5(db, corpus, "hybrid")
    vector = await recall_at_5(db, corpus, "vector")
    fulltext = await recall_at_5(db, corpus, "text")
    print(f"recall@5 hybrid {hybrid:.3f} vector {vector:.3f} text {fulltext:.3f}")
    assert hybrid >= 0.9
    assert hybrid >= vector
    assert hybrid >= fulltext


async def test_a_hit_cites_call_contact_speaker_and_time(db: Database, corpus: Corpus) -> None:
    async with db.session() as session:
        [hit] = await retrieval.search(
            session, corpus.manager, "Okta SAML single sign-on", k=1, embedder=MINILM
        )
    assert hit.call_id == corpus.calls["sso"]
    assert hit.contact_name == contact_name([t.key for t in TOPICS].index("sso"))
    assert hit.speakers == ("prospect",)  # the turn that said it
    assert hit.started_at > AT and hit.offset_s == (hit.started_at - AT).total_seconds()
    assert "**Okta**" in hit.highlighted() and "Okta" in hit.snippet
    assert hit.text_rank == 1 and hit.vector_rank is not None and hit.vector_rank <= 2
    assert hit.cite() == f"call {hit.call_id} with {hit.contact_name} at {hit.offset} (prospect)"


async def test_a_later_window_cites_its_own_offset(db: Database, corpus: Corpus) -> None:
    async with db.session() as session:
        hits = await retrieval.search(
            session,
            corpus.manager,
            "Alright, thanks. Bye.",
            k=3,
            embedder=MINILM,
            call_id=corpus.calls["tolls"],
        )
    assert {h.call_id for h in hits} == {corpus.calls["tolls"]}
    last = next(h for h in hits if "Bye." in h.text)
    # Turns are 5 s apart: a hit cites its own turn's time into the call.
    assert last.offset_s == 5 * last.segment and last.offset == f"00:{5 * last.segment:02d}"


async def test_filters_by_call_and_contact(db: Database, corpus: Corpus) -> None:
    async with db.session() as session:
        call_id = corpus.calls["fuel"]
        hits = await retrieval.search(
            session,
            corpus.manager,
            "security certification",
            embedder=MINILM,
            call_id=call_id,
            tuning=NO_FLOOR,
        )
        assert hits and {h.call_id for h in hits} == {call_id}
        contact_id = hits[0].contact_id
        by_contact = await retrieval.search(
            session,
            corpus.manager,
            "diesel",
            embedder=MINILM,
            contact_id=contact_id,
            tuning=NO_FLOOR,
        )
        assert by_contact and {h.contact_id for h in by_contact} == {contact_id}


async def test_a_rep_searches_only_their_own_calls(db: Database, corpus: Corpus) -> None:
    rep = corpus.reps[0]
    own = {corpus.calls[t.key] for i, t in enumerate(TOPICS) if i % len(corpus.reps) == 0}
    async with db.session() as session:
        for topic in TOPICS:
            hits = await retrieval.search(session, rep, topic.query, k=10, embedder=MINILM)
            assert {h.call_id for h in hits} <= own


# --- tenant isolation ------------------------------------------------------------------

SECRETS = {
    "rep1": "Our codename is Project Quillfeather and the budget is ninety thousand dollars.",
    "rep2": "The Zephyrine account wants the Marlowe integration by Halloween.",
    "rep3": "We use Brontide Systems for telematics; ask Ostrander about the Vexmoor depot.",
}


@dataclass
class Tenants:
    rep1: Actor
    rep2: Actor
    manager_a: Actor
    rep3: Actor  # another workspace
    admin: Actor  # a platform admin of a third workspace
    calls: dict[str, uuid.UUID]  # "rep1" … → their call


@pytest.fixture(scope="module")
async def tenants(_engine_owner: Database) -> Tenants:
    db = _engine_owner
    manager_a = (await make_member(db, Role.MANAGER)).actor
    rep1 = (await make_member(db, Role.REP, workspace_id=manager_a.workspace_id)).actor
    rep2 = (await make_member(db, Role.REP, workspace_id=manager_a.workspace_id)).actor
    rep3 = (await make_member(db, Role.REP)).actor
    admin = (await make_member(db, Role.ADMIN)).actor
    calls = {}
    for key, rep in (("rep1", rep1), ("rep2", rep2), ("rep3", rep3)):
        contact = await make_contact(db, rep, name=f"Contact of {key}")
        conversation = [
            ("agent", "Hello, this is an AI assistant calling for Acme. This call is recorded."),
            ("prospect", SECRETS[key]),
            ("agent", "Thank you, noted."),
        ]
        calls[key] = await seed_call(db, contact, rep.user_id, at=AT, turns=conversation)
        await index_call(db, calls[key], MINILM)
    return Tenants(rep1, rep2, manager_a, rep3, admin, calls)


UNIQUE_WORDS = {
    "rep1": ["Quillfeather", "codename"],
    "rep2": ["Zephyrine", "Marlowe", "Halloween"],
    "rep3": ["Brontide", "Ostrander", "Vexmoor", "telematics"],
}


def _queries(key: str) -> list[str]:
    return [SECRETS[key], " ".join(UNIQUE_WORDS[key]), *UNIQUE_WORDS[key]]


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("rep1", {"rep1"}),
        ("rep2", {"rep2"}),
        ("rep3", {"rep3"}),
        ("manager_a", {"rep1", "rep2"}),
        ("admin", set()),  # an admin searches their own workspace unless they name one
    ],
)
async def test_nobody_sees_text_they_may_not_see(
    db: Database, tenants: Tenants, who: str, visible: set[str]
) -> None:
    actor: Actor = getattr(tenants, who)
    allowed = {tenants.calls[key] for key in visible}
    async with db.session() as session:
        for key in SECRETS:
            for query in _queries(key):
                for mode in ("hybrid", "vector", "text"):
                    hits = await retrieval.search(
                        session,
                        actor,
                        query,
                        k=10,
                        embedder=MINILM,
                        mode=mode,
                        tuning=NO_FLOOR,
                    )
                    assert {h.call_id for h in hits} <= allowed, (who, query, mode)
                    if key in visible and mode != "vector":
                        assert tenants.calls[key] in {h.call_id for h in hits}, (who, query)


async def test_an_admin_may_name_a_workspace(db: Database, tenants: Tenants) -> None:
    async with db.session() as session:
        hits = await retrieval.search(
            session,
            tenants.admin,
            "Brontide telematics",
            embedder=MINILM,
            workspace_id=tenants.rep3.workspace_id,
        )
    assert {h.call_id for h in hits} == {tenants.calls["rep3"]}


async def test_another_workspaces_call_or_contact_is_not_found(
    db: Database, tenants: Tenants
) -> None:
    async with db.session() as session:
        foreign_call = tenants.calls["rep3"]
        for actor in (tenants.rep1, tenants.manager_a):
            with pytest.raises(NotFound, match=r"^No such call\.$"):
                await retrieval.search(
                    session, actor, "telematics", embedder=MINILM, call_id=foreign_call
                )
        # Another rep's call in the same workspace is just as unknown to a rep.
        with pytest.raises(NotFound, match=r"^No such call\.$"):
            await retrieval.search(
                session, tenants.rep1, "Zephyrine", embedder=MINILM, call_id=tenants.calls["rep2"]
            )
        with pytest.raises(NotFound, match=r"^No such call\.$"):
            await retrieval.search(
                session, tenants.rep1, "anything", embedder=MINILM, call_id=uuid.uuid4()
            )
        [rep3_hit] = await retrieval.search(session, tenants.rep3, "Brontide", k=1, embedder=MINILM)
        with pytest.raises(NotFound, match=r"^No such contact\.$"):
            await retrieval.search(
                session, tenants.manager_a, "x", embedder=MINILM, contact_id=rep3_hit.contact_id
            )
        with pytest.raises(PermissionDenied, match="Only platform admins"):
            await retrieval.search(
                session,
                tenants.manager_a,
                "Brontide",
                embedder=MINILM,
                workspace_id=tenants.rep3.workspace_id,
            )


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "k", "message"),
    [
        ("", 10, "query is empty"),
        ("   \n\t ", 10, "query is empty"),
        ("price " * 200, 10, r"too long \(1,199 characters; at most 1,000\)"),
        ("price", 0, "between 1 and 50"),
        ("price", 51, "between 1 and 50"),
    ],
)
async def test_bad_queries_are_refused_clearly(
    db: Database, tenants: Tenants, query: str, k: int, message: str
) -> None:
    async with db.session() as session:
        with pytest.raises(SearchInputError, match=message):
            await retrieval.search(session, tenants.rep1, query, k=k, embedder=MINILM)


@pytest.mark.parametrize(
    "query",
    [
        "the and of",  # stop words only: the text leg has nothing, the vector leg answers
        "!!! ??? ...",
        "'; DROP TABLE transcript_chunks; --",
        "price & | ! :* <-> (",
        '"Project Quillfeather" -budget',
        "Quillfeather OR Zephyrine",
        "x" * 1000,
    ],
)
async def test_odd_queries_search_without_error_or_leak(
    db: Database, tenants: Tenants, query: str
) -> None:
    async with db.session() as session:
        hits = await retrieval.search(session, tenants.rep1, query, embedder=MINILM)
    assert {h.call_id for h in hits} <= {tenants.calls["rep1"]}


# --- completeness with a per-tenant HNSW index on pgvector 0.6.2 -----------------------------

FAKE = HashingEmbedder()
NEAR_WORDS = [f"alpha{i}" for i in range(40)]  # the query's topic: other reps' rows
FAR_WORDS = [f"omega{i}" for i in range(40)]  # the rep's own rows: far from the query


@dataclass
class BigTenant:
    manager: Actor
    rep: Actor
    rep_rows: int
    index_name: str


@pytest.fixture(scope="module")
async def big_tenant(_engine_owner: Database) -> BigTenant:
    """600 chunks, 120 of them the rep's; the workspace gets its own HNSW index."""
    db = _engine_owner
    rng = random.Random(5)
    manager = (await make_member(db, Role.MANAGER)).actor
    rep = (await make_member(db, Role.REP, workspace_id=manager.workspace_id)).actor
    other = (await make_member(db, Role.REP, workspace_id=manager.workspace_id)).actor
    plan = [(rep, FAR_WORDS, 120), (other, NEAR_WORDS, 480)]
    async with db.session() as session:
        for owner, vocabulary, count in plan:
            contact = await make_contact(db, owner, name=f"Big {count}")
            call_id = await seed_call(db, contact, owner.user_id, at=AT)
            for seq in range(count):
                words = " ".join(rng.choice(vocabulary) for _ in range(12))
                session.add(
                    TranscriptChunk(
                        call_id=call_id,
                        workspace_id=owner.workspace_id,
                        owner_id=owner.user_id,
                        contact_id=contact.id,
                        seq=seq,
                        first_segment=seq,
                        last_segment=seq,
                        started_at=AT,
                        offset_s=seq,
                        speakers=["prospect"],
                        text=f"Prospect: {words}",
                        embedding=FAKE.vector(words),
                        embedding_model=FAKE.model_name,
                        embedding_dim=FAKE.dim,
                    )
                )
        await session.commit()
    name = await ensure_tenant_index(db, manager.workspace_id, threshold=0)
    assert name == tenant_index_name(manager.workspace_id)
    return BigTenant(manager, rep, 120, name)


async def test_the_tenant_index_is_built_registered_and_valid(
    db: Database, big_tenant: BigTenant
) -> None:
    async with db.session() as session:
        row = (
            await session.execute(
                text(
                    "SELECT r.index_name, r.rows_at_build, i.indisvalid, pg_get_indexdef(c.oid)"
                    " FROM retrieval_tenant_indexes r JOIN pg_class c ON c.relname = r.index_name"
                    " JOIN pg_index i ON i.indexrelid = c.oid WHERE r.workspace_id = :ws"
                ),
                {"ws": big_tenant.manager.workspace_id},
            )
        ).one()
    assert row[:3] == (big_tenant.index_name, 600, True)
    assert "USING hnsw (embedding vector_cosine_ops)" in row[3]
    assert f"WHERE (workspace_id = '{big_tenant.manager.workspace_id}'::uuid)" in row[3]
    # Asking again builds nothing new.
    assert await ensure_tenant_index(db, big_tenant.manager.workspace_id, threshold=0) == row[0]


async def test_a_plain_filtered_hnsw_query_comes_back_short(
    db: Database, big_tenant: BigTenant
) -> None:
    """The hazard itself: ef_search 40, the rep's rows far from the query → < k rows."""
    query = FAKE.vector(" ".join(NEAR_WORDS[:6]))
    ws = big_tenant.manager.workspace_id
    naive = (
        f"SELECT id FROM transcript_chunks WHERE workspace_id = '{ws}'::uuid"  # noqa: S608
        " AND owner_id = :owner ORDER BY embedding <=> CAST(:q AS vector) LIMIT 10"
    )
    params = {"owner": big_tenant.rep.user_id, "q": str(query)}
    async with db.session() as session:
        await session.execute(text("SET LOCAL hnsw.ef_search = 40"))
        await session.execute(text("SET LOCAL enable_sort = off"))  # as on a large tenant
        plan = "\n".join((await session.scalars(text(f"EXPLAIN {naive}"), params)).all())
        assert big_tenant.index_name in plan
        rows = (await session.scalars(text(naive), params)).all()
    assert len(rows) < 10


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
async def test_a_rep_still_gets_exactly_k_through_the_tenant_index(
    db: Database, big_tenant: BigTenant, mode: retrieval.Mode
) -> None:
    query = " ".join(NEAR_WORDS[:6])
    # No scope is "small": use the HNSW index (and no floor: hashed vectors are far apart).
    force_index = Tuning(exact_max_rows=0, max_distance=2.0, max_distance_text=2.0)
    scope = Scope(big_tenant.manager.workspace_id, owner_id=big_tenant.rep.user_id)
    async with db.session() as session:
        leg = await retrieval.vector_leg(
            session, scope, FAKE.vector(query), 40, FAKE.model_name, force_index
        )
        assert leg.strategy == "hnsw+exact"  # the index found none of the rep's rows
        hits = await retrieval.search(
            session, big_tenant.rep, query, k=10, embedder=FAKE, mode=mode, tuning=force_index
        )
        exact = await retrieval.exact_vector(
            session, scope, FAKE.vector(query), 10, FAKE.model_name
        )
    assert len(hits) == 10
    if mode == "vector":
        assert [h.chunk_id for h in hits] == exact
    # Ask for more than the rep has: all of theirs, and nothing else.
    async with db.session() as session:
        everything = await retrieval.search(
            session, big_tenant.rep, query, k=50, embedder=FAKE, mode="vector", tuning=force_index
        )
    assert len(everything) == 50
    assert all("omega" in h.text for h in everything)


async def test_a_manager_is_served_by_the_tenant_index(db: Database, big_tenant: BigTenant) -> None:
    vector = FAKE.vector(" ".join(NEAR_WORDS[:6]))
    scope = Scope(big_tenant.manager.workspace_id)
    async with db.session() as session:
        leg = await retrieval.vector_leg(session, scope, vector, 40, FAKE.model_name)
        exact = await retrieval.exact_vector(session, scope, vector, 40, FAKE.model_name)
        await session.execute(text("SET LOCAL enable_sort = off"))  # as vector_leg does
        sql = retrieval.hnsw_statement(scope.workspace_id).text
        explain = text("EXPLAIN " + sql.replace("<=> :q", "<=> CAST(:q AS vector)"))
        plan = "\n".join((await session.scalars(explain, {"q": str(vector), "fetch": 40})).all())
    assert big_tenant.index_name in plan
    assert leg.strategy == "hnsw"
    assert len(leg.ids) == 40
    assert len(set(leg.ids) & set(exact)) >= 36  # approximate, yet close to exact


async def test_words_in_too_many_chunks_are_not_ranked(
    db: Database, tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every chunk says "prospect" (the speaker label): ranking them all would cost a full
    scan of a large tenant, so such words leave the full-text query (by pg_stats)."""
    async with db.session() as session:
        await session.execute(text("ANALYZE transcript_chunks"))
        await session.commit()
    # Every chunk of the three calls says "prospect"; "quillfeather" is in one chunk.
    monkeypatch.setattr(retrieval, "COMMON_TERM_ROWS", 2)
    async with db.session() as session:
        common = await retrieval.common_words(session, ["prospect", "the", "quillfeather"])
        assert common == {"prospect", "the"}
        hits = await retrieval.search(
            session, tenants.rep1, "prospect Quillfeather", embedder=MINILM, mode="text"
        )
        assert [h.call_id for h in hits] == [tenants.calls["rep1"]]
        assert (
            await retrieval.search(session, tenants.rep1, "prospect", embedder=MINILM, mode="text")
            == []
        )


# --- the vector leg's strategy and its exact search ------------------------------------------


async def test_a_rep_in_an_indexed_workspace_is_searched_exactly_below_the_threshold(
    db: Database, big_tenant: BigTenant
) -> None:
    vector = FAKE.vector(" ".join(NEAR_WORDS[:6]))
    rep_scope = Scope(big_tenant.manager.workspace_id, owner_id=big_tenant.rep.user_id)
    async with db.session() as session:
        leg = await retrieval.vector_leg(session, rep_scope, vector, 30, FAKE.model_name)
        assert leg.strategy == "exact"  # 120 rows ≤ 20,000, although the workspace has an index
        assert leg.ids == await retrieval.exact_vector(
            session, rep_scope, vector, 30, FAKE.model_name
        )
        # One row over the threshold: the workspace's index (which finds none of the
        # rep's rows near this query, so the leg still ends exact).
        over = Tuning(exact_max_rows=big_tenant.rep_rows - 1)
        leg = await retrieval.vector_leg(session, rep_scope, vector, 30, FAKE.model_name, over)
        assert leg.strategy == "hnsw+exact"


async def test_the_ef_search_floor_is_set_for_the_index_scan(
    db: Database, big_tenant: BigTenant
) -> None:
    vector = FAKE.vector(" ".join(NEAR_WORDS[:6]))
    scope = Scope(big_tenant.manager.workspace_id)
    async with db.session() as session:
        leg = await retrieval.vector_leg(session, scope, vector, 30, FAKE.model_name)
        assert leg.strategy == "hnsw"
        assert await session.scalar(text("SELECT current_setting('hnsw.ef_search')")) == "200"
        assert await session.scalar(text("SELECT current_setting('enable_sort')")) == "on"
    async with db.session() as session:
        wide = Tuning(min_ef_search=300)
        await retrieval.vector_leg(session, scope, vector, 30, FAKE.model_name, wide)
        assert await session.scalar(text("SELECT current_setting('hnsw.ef_search')")) == "300"


@pytest.mark.parametrize("owner", [True, False])
async def test_exact_search_orders_every_row_of_the_scope_by_distance(
    db: Database, big_tenant: BigTenant, owner: bool
) -> None:
    """The distance is worked out inside the CTE now: the order must be that of a plain
    scan sorted by `<=>` (the index switched off), ties broken by id."""
    vector = FAKE.vector(" ".join(NEAR_WORDS[:3] + FAR_WORDS[:3]))
    ws = big_tenant.manager.workspace_id
    scope = Scope(ws, owner_id=big_tenant.rep.user_id if owner else None)
    where = "workspace_id = :ws" + (" AND owner_id = :owner" if owner else "")
    async with db.session() as session:
        await session.execute(text("SET LOCAL enable_indexscan = off"))
        expected = (
            await session.scalars(
                text(
                    f"SELECT id FROM transcript_chunks WHERE {where}"  # noqa: S608
                    " ORDER BY embedding <=> CAST(:q AS vector), id LIMIT 700"
                ),
                {"ws": ws, "owner": big_tenant.rep.user_id, "q": str(vector)},
            )
        ).all()
        found = await retrieval.exact_vector(session, scope, vector, 700, FAKE.model_name)
    assert found == list(expected)
    assert len(found) == (big_tenant.rep_rows if owner else 600)


async def test_chunk_embeddings_are_stored_inline(db: Database, tenants: Tenants) -> None:
    """Migration 0018: a chunk's row keeps its embedding (and text) in the table; read
    out of line, exact search paid a TOAST look-up per row (≈ 3× slower)."""
    rep = tenants.rep1
    words = " ".join(random.Random(3).choice(list(SECRETS.values())) for _ in range(10))
    async with db.session() as session:
        storage, options, toast = (
            await session.execute(
                text(
                    "SELECT a.attstorage, c.reloptions, c.reltoastrelid::regclass::text"
                    " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
                    " WHERE c.relname = 'transcript_chunks' AND a.attname = 'embedding'"
                )
            )
        ).one()
        assert storage == "m"
        assert "toast_tuple_target=8160" in options
        count_toast = text(f"SELECT count(*) FROM {toast}")  # noqa: S608
        before = await session.scalar(count_toast)
        # A chunk of ≈ 130 words: ≈ 2.8 kB with its tsv and embedding, which the default
        # 2 kB target would have split (the embedding, the largest value, out of line).
        chunk = TranscriptChunk(
            call_id=tenants.calls["rep1"],
            workspace_id=rep.workspace_id,
            owner_id=rep.user_id,
            contact_id=(await session.get_one(Call, tenants.calls["rep1"])).contact_id,
            seq=10_000,
            first_segment=0,
            last_segment=0,
            started_at=AT,
            offset_s=0,
            speakers=["prospect"],
            text=words,
            embedding=FAKE.vector(words),
            embedding_model=FAKE.model_name,
            embedding_dim=FAKE.dim,
        )
        session.add(chunk)
        await session.flush()
        size = await session.scalar(
            text("SELECT pg_column_size(t.*) FROM transcript_chunks t WHERE t.id = :id"),
            {"id": chunk.id},
        )
        assert size is not None and size > 2_500  # over the default 2 kB target
        assert await session.scalar(count_toast) == before
        await session.rollback()


# --- the workspace's own GIN index for the full-text leg ------------------------------------


async def _index_def(db: Database, name: str) -> tuple[bool, str] | None:
    async with db.session() as session:
        row = (
            await session.execute(
                text(
                    "SELECT i.indisvalid, pg_get_indexdef(c.oid) FROM pg_class c"
                    " JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = :name"
                ),
                {"name": name},
            )
        ).first()
    return None if row is None else (row[0], row[1])


async def test_a_large_workspace_also_gets_its_own_gin_index(
    db: Database, big_tenant: BigTenant
) -> None:
    ws = big_tenant.manager.workspace_id
    name = tenant_text_index_name(ws)
    found = await _index_def(db, name)
    assert found is not None
    valid, definition = found
    assert valid
    assert "USING gin (tsv)" in definition
    assert f"WHERE (workspace_id = '{ws}'::uuid)" in definition
    # A workspace registered before GIN indexes existed gets one on the next call.
    async with db.session() as session:
        await session.execute(text(f"DROP INDEX {name}"))
        await session.commit()
    assert await _index_def(db, name) is None
    assert await ensure_tenant_index(db, ws, threshold=10**9) == big_tenant.index_name
    rebuilt = await _index_def(db, name)
    assert rebuilt is not None and rebuilt[0]


async def test_the_text_leg_of_a_large_workspace_can_use_its_own_gin_index(
    db: Database, big_tenant: BigTenant, tenants: Tenants
) -> None:
    """The workspace is written as the partial index's predicate (a literal): with a bound
    parameter a prepared statement's generic plan could not use it."""
    scope = Scope(big_tenant.manager.workspace_id)
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "ts_rank_cd" in statement:
            sent.append((statement, params))

    engine = db.engine().sync_engine
    async with db.session() as session:
        index = await retrieval.tenant_index(session, scope.workspace_id)
        assert index is not None
        assert await retrieval.tenant_index(session, tenants.rep1.workspace_id) is None
        event.listen(engine, "before_cursor_execute", record)
        try:
            leg = await retrieval.text_leg(session, scope, "alpha1 alpha2", 30, index=index)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        # What the leg sent names the workspace as the index's own predicate, unbound.
        [(statement, params)] = sent
        assert tenant_predicate(scope.workspace_id, "t.") in statement
        assert "ws" not in params
        # And the planner serves exactly that statement from the workspace's GIN index.
        # The test table is tiny, so it would rather read the workspace's 600 rows through
        # the btree: take that (and a scan) away, in this transaction only.
        await session.execute(text("DROP INDEX ix_transcript_chunks_workspace"))
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        connection = await session.connection()
        plan = (await connection.exec_driver_sql("EXPLAIN " + statement, params)).scalars().all()
        assert tenant_text_index_name(scope.workspace_id) in "\n".join(plan)
        # Same rows as the statement with the workspace bound as a parameter.
        words = ["alpha1", "alpha2"]
        tsquery = retrieval.tsquery_sql("alpha1 alpha2", words)
        assert tsquery is not None
        expression, tparams = tsquery
        bound, bparams = scope.where()
        terms = await retrieval.query_terms(session, words)
        coverage = retrieval.coverage_sql("alpha1 alpha2", words, terms.weights)
        same = retrieval.text_statement(bound, expression, coverage, 0, retrieval.PHRASE_SQL)
        values = {**bparams, **tparams, **retrieval.phrase_param(words, terms), "n": 30}
        assert leg.ids
        assert leg.ids == (await session.scalars(same, values)).all()
        await session.rollback()
    # A rep of that workspace still sees only their own rows through the text leg.
    async with db.session() as session:
        hits = await retrieval.search(
            session, big_tenant.rep, "alpha1 alpha2 omega1", embedder=FAKE, mode="text"
        )
        assert hits and all("omega" in h.text for h in hits)
        assert (
            await retrieval.search(
                session, big_tenant.rep, "alpha1 alpha2", embedder=FAKE, mode="text"
            )
            == []
        )


async def test_an_hnsw_index_built_with_old_settings_is_rebuilt(
    db: Database, big_tenant: BigTenant
) -> None:
    """ef_construction 64 gave recall@10 0.94 at full size, 128 gives 0.999: a workspace's
    index built with 64 is rebuilt in place by the next `ensure_tenant_index`."""
    ws = big_tenant.manager.workspace_id
    index = text(
        "SELECT c.oid, c.reloptions, i.indisvalid FROM pg_class c"
        " JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = :name"
    )
    async with db.session() as session:
        oid, options, _ = (await session.execute(index, {"name": big_tenant.index_name})).one()
        assert sorted(options) == HNSW_OPTIONS == ["ef_construction=128", "m=16"]
        # As an index from before this change (the same build, ef_construction 64).
        await session.execute(
            text(f"ALTER INDEX {big_tenant.index_name} SET (ef_construction = 64)")
        )
        await session.commit()
    assert await ensure_tenant_index(db, ws, threshold=10**9) == big_tenant.index_name
    async with db.session() as session:
        new_oid, options, valid = (
            await session.execute(index, {"name": big_tenant.index_name})
        ).one()
    assert valid and sorted(options) == HNSW_OPTIONS
    assert new_oid != oid  # rebuilt, not just relabelled
    # Up to date: asking again rebuilds nothing.
    assert await ensure_tenant_index(db, ws, threshold=10**9) == big_tenant.index_name
    async with db.session() as session:
        assert (await session.execute(index, {"name": big_tenant.index_name})).one()[0] == new_oid


async def test_the_same_words_on_many_calls_are_one_hit_not_k(db: Database) -> None:
    """A campaign's purpose line is said on every call: a search finds it once, and
    the other slots go to other words (five copies of one line used to fill a page)."""
    manager = await make_member(db, Role.MANAGER)
    line = "Riley asked me to call to introduce our spring pricing for growing teams."
    for n in range(4):
        contact = await make_contact(db, manager.actor, name=f"Prospect {n} {uuid.uuid4().hex[:4]}")
        call_id = await seed_call(
            db,
            contact,
            manager.actor.user_id,
            at=datetime.now(UTC),
            duration_s=60,
            cost_mc=60_000,
            turns=[("agent", line), ("prospect", f"Spring pricing sounds high for {n} seats.")],
        )
        await index_call(db, call_id, MINILM)
    async with db.session() as session:
        hits = await retrieval.search(
            session, manager.actor, "spring pricing", k=5, embedder=MINILM
        )
    quotes = [" ".join(h.text.lower().split()) for h in hits]
    assert len(quotes) == len(set(quotes)), quotes
    assert sum("riley asked me" in q for q in quotes) <= 1
    assert any("seats" in q for q in quotes)
