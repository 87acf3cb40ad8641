"""Indexing a call: chunks with model, dimension and times; re-indexing replaces them.
And the embedders: local MiniLM vectors are unit length; OpenAI is asked for 384."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from accounts.models import Role
from core.db import Database
from core.errors import NotFound
from core.settings import Settings
from retrieval.embeddings import (
    EmbeddingError,
    HashingEmbedder,
    LocalMiniLM,
    OpenAIEmbedder,
    build_embedder,
)
from retrieval.indexing import index_call
from retrieval.models import TranscriptChunk
from retrieval.search import Scope, calls_awaiting_index
from telephony.models import Call, TranscriptSegment
from tests.accounts.helpers import make_member
from tests.insights.helpers import make_contact, seed_call

AT = datetime(2026, 10, 14, 15, 0, tzinfo=UTC)
FAKE = HashingEmbedder()


async def _chunks(db: Database, call_id: uuid.UUID) -> list[TranscriptChunk]:
    async with db.session() as session:
        rows = await session.scalars(
            select(TranscriptChunk)
            .where(TranscriptChunk.call_id == call_id)
            .order_by(TranscriptChunk.seq)
        )
        return list(rows.all())


async def test_index_call_writes_chunks_and_reindexing_replaces_them(db: Database) -> None:
    rep = (await make_member(db, Role.REP)).actor
    contact = await make_contact(db, rep)
    turns = [("agent" if i % 2 == 0 else "prospect", f"turn {i} about pricing") for i in range(8)]
    call_id = await seed_call(db, contact, rep.user_id, at=AT, turns=turns)

    indexed = await index_call(db, call_id, FAKE)
    assert (indexed.call_id, indexed.workspace_id, indexed.chunks) == (
        call_id,
        rep.workspace_id,
        8,
    )
    first = await _chunks(db, call_id)
    assert [(c.first_segment, c.last_segment, c.offset_s) for c in first] == [
        (i, i, 5 * i) for i in range(8)
    ]
    assert {(c.embedding_model, c.embedding_dim) for c in first} == {(FAKE.model_name, 384)}
    assert {(c.owner_id, c.contact_id, c.workspace_id) for c in first} == {
        (rep.user_id, contact.id, rep.workspace_id)
    }
    assert first[5].started_at == AT + timedelta(seconds=25)
    assert math.isclose(sum(x * x for x in first[0].embedding), 1.0, rel_tol=1e-5)

    async with db.session() as session:  # the call goes on: two more turns
        for seq in (8, 9):
            when = AT + timedelta(seconds=5 * seq)
            session.add(
                TranscriptSegment(
                    call_id=call_id,
                    workspace_id=rep.workspace_id,
                    seq=seq,
                    speaker="prospect",
                    text=f"late turn {seq}",
                    started_at=when,
                    ended_at=when,
                )
            )
        await session.commit()
    assert (await index_call(db, call_id, FAKE)).chunks == 10
    second = await _chunks(db, call_id)
    assert {c.id for c in second}.isdisjoint({c.id for c in first})
    assert (second[-1].first_segment, second[-1].last_segment) == (9, 9)
    assert "late turn 9" in second[-1].text


async def test_a_call_without_words_has_no_chunks(db: Database) -> None:
    rep = (await make_member(db, Role.REP)).actor
    contact = await make_contact(db, rep)
    call_id = await seed_call(db, contact, rep.user_id, at=AT, status="no-answer")
    assert (await index_call(db, call_id, FAKE)).chunks == 0
    assert await _chunks(db, call_id) == []


async def test_an_unknown_call_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound, match="No such call"):
        await index_call(db, uuid.uuid4(), FAKE)


async def test_local_minilm_gives_unit_vectors_that_capture_meaning() -> None:
    embedder = LocalMiniLM()
    assert await embedder.embed([]) == []
    price, budget, weather = await embedder.embed(
        ["The price is too high for us.", "It is way over our budget.", "It snowed all week."]
    )
    assert len(price) == embedder.dim == 384
    assert math.isclose(sum(x * x for x in price), 1.0, rel_tol=1e-5)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(price, budget) > cos(price, weather) + 0.2


async def test_openai_embedder_asks_for_384_dimensions_in_batches() -> None:
    seen: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer sk-test"
        body = json.loads(request.content)
        seen.append(body)
        data = [
            {"index": i, "embedding": [3.0, 4.0] + [0.0] * 382}
            for i in reversed(range(len(body["input"])))
        ]
        return httpx.Response(200, json={"data": data})

    embedder = OpenAIEmbedder(
        "sk-test", base_url="http://openai.test/v1", transport=httpx.MockTransport(answer)
    )
    vectors = await embedder.embed([f"text {i}" for i in range(300)])
    assert [len(b["input"]) for b in seen] == [256, 44]  # type: ignore[arg-type]
    assert {(b["model"], b["dimensions"]) for b in seen} == {("text-embedding-3-small", 384)}
    assert len(vectors) == 300 and vectors[0][:2] == [0.6, 0.8]
    assert embedder.model_name == "text-embedding-3-small"


async def test_openai_failures_are_clear_and_keep_the_key_secret() -> None:
    embedder = OpenAIEmbedder(
        "sk-secret", transport=httpx.MockTransport(lambda r: httpx.Response(401, json={}))
    )
    with pytest.raises(EmbeddingError, match="HTTP 401") as failure:
        await embedder.embed(["x"])
    assert "sk-secret" not in str(failure.value)
    short = OpenAIEmbedder(
        "k",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0] * 1536}]})
        ),
    )
    with pytest.raises(EmbeddingError, match="expected 384 dimensions"):
        await short.embed(["x"])


def test_build_embedder_follows_the_settings() -> None:
    assert isinstance(build_embedder(Settings(embeddings_provider="local")), LocalMiniLM)
    with pytest.raises(EmbeddingError, match="needs OPENAI_API_KEY"):
        build_embedder(Settings(embeddings_provider="openai", openai_api_key=None))
    live = build_embedder(Settings(embeddings_provider="openai", openai_api_key="sk-x"))
    assert isinstance(live, OpenAIEmbedder)


async def test_a_call_that_just_ended_is_reported_as_awaiting_its_index(db: Database) -> None:
    rep = (await make_member(db, Role.REP)).actor
    other = (await make_member(db, Role.REP, workspace_id=rep.workspace_id)).actor
    contact = await make_contact(db, rep)
    call_id = await seed_call(
        db, contact, rep.user_id, at=datetime.now(UTC), turns=[("agent", "hello about pricing")]
    )
    async with db.session() as session:
        await session.execute(
            update(Call).where(Call.id == call_id).values(settled_at=datetime.now(UTC))
        )
        await session.commit()

    async def waiting(owner: uuid.UUID | None) -> int:
        async with db.session() as session:
            return await calls_awaiting_index(session, Scope(rep.workspace_id, owner_id=owner))

    assert (await waiting(rep.user_id), await waiting(None)) == (1, 1)
    assert await waiting(other.user_id) == 0  # someone else's contact: not theirs to see
    await index_call(db, call_id, FAKE)
    assert await waiting(rep.user_id) == 0
