"""Re-chunking calls indexed in the old several-turns-a-chunk form (retrieval.reindex):
batched, resumable after a stop part way, idempotent, and calls already in the new form
are left alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select

from accounts.models import Role
from core.db import Database
from retrieval.embeddings import HashingEmbedder
from retrieval.indexing import index_call
from retrieval.models import TranscriptChunk
from retrieval.reindex import reindex_stale_calls, stale_calls
from tests.accounts.helpers import make_member
from tests.insights.helpers import make_contact, seed_call

AT = datetime(2026, 10, 20, 15, 0, tzinfo=UTC)
FAKE = HashingEmbedder()
TURNS = [
    (
        "agent",
        "Hi, this is Sam, an AI assistant calling on behalf of Jo at Acme. This call is recorded.",
    ),
    ("prospect", "Sure, what is it about?"),
    ("agent", "Our pricing starts at forty a seat."),
    ("prospect", "That is too expensive for us."),
]


async def _old_form(db: Database, call_id: uuid.UUID) -> None:
    """Replace the call's chunks by one chunk of three turns, opening included, as the
    chunker before one-turn-per-chunk wrote them."""
    async with db.session() as session:
        new = (
            await session.scalars(select(TranscriptChunk).where(TranscriptChunk.call_id == call_id))
        ).first()
        assert new is not None
        await session.execute(delete(TranscriptChunk).where(TranscriptChunk.call_id == call_id))
        session.add(
            TranscriptChunk(
                call_id=call_id,
                workspace_id=new.workspace_id,
                owner_id=new.owner_id,
                contact_id=new.contact_id,
                seq=0,
                first_segment=0,
                last_segment=2,
                started_at=AT,
                offset_s=0,
                speakers=["agent", "prospect"],
                text="\n".join(f"{s.capitalize()}: {t}" for s, t in TURNS[:3]),
                embedding=new.embedding,
                embedding_model=new.embedding_model,
                embedding_dim=new.embedding_dim,
            )
        )
        await session.commit()


async def _chunks(db: Database, call_id: uuid.UUID) -> list[tuple[int, int, int, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(
                TranscriptChunk.id,
                TranscriptChunk.first_segment,
                TranscriptChunk.last_segment,
                TranscriptChunk.text,
            )
            .where(TranscriptChunk.call_id == call_id)
            .order_by(TranscriptChunk.seq)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def test_reindex_rechunks_old_calls_resumably_and_idempotently(db: Database) -> None:
    manager = (await make_member(db, Role.MANAGER)).actor
    calls = []
    for _ in range(3):
        contact = await make_contact(db, manager)
        call_id = await seed_call(db, contact, manager.user_id, at=AT, turns=TURNS)
        await index_call(db, call_id, FAKE)
        calls.append(call_id)
    old = sorted(calls[:2])
    for call_id in old:
        await _old_form(db, call_id)
    untouched = await _chunks(db, calls[2])
    # Only the old-form calls are stale (other workspaces' calls may be too: filtered).
    assert [c for c in await stale_calls(db, limit=1_000) if c in calls] == old

    # A run stopped after one call (a batch of one) re-chunks that call only...
    first = await reindex_stale_calls(db, FAKE, batch_size=1, max_calls=1, after=None)
    assert first.reindexed == 1 and first.last_call_id is not None
    # ...and the next run (from where it stopped) does the rest, in batches of one.
    await reindex_stale_calls(db, FAKE, batch_size=1, after=first.last_call_id)
    assert [c for c in await stale_calls(db, limit=1_000) if c in calls] == []

    for call_id in old:
        chunks = await _chunks(db, call_id)
        # One chunk a turn, the opening's disclosure not indexed.
        assert [(f, last) for _, f, last, _ in chunks] == [(1, 1), (2, 2), (3, 3)]
        assert not any("recorded" in text for *_, text in chunks)
    assert await _chunks(db, calls[2]) == untouched  # already in the new form: left alone

    # Idempotent: nothing left to do, nothing rewritten.
    before = [await _chunks(db, c) for c in calls]
    again = await reindex_stale_calls(db, FAKE, batch_size=1)
    assert again.reindexed == 0
    assert [await _chunks(db, c) for c in calls] == before
