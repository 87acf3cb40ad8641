"""Indexing a call's transcript, and giving large tenants their own HNSW index.

`index_call` reads a call's segments, chunks them (`retrieval.chunking`), embeds the
chunks (outside any transaction: that is the slow part), then replaces the call's
chunks in one transaction under the call's row lock, so two runs for the same call
never interleave and a search sees either the old chunks or the new ones.

`ensure_tenant_index` gives a workspace whose chunk count has reached a threshold its
own partial HNSW index (`... WHERE workspace_id = '<uuid>'`), built with
`CREATE INDEX CONCURRENTLY` (writes go on meanwhile) and listed in
`retrieval_tenant_indexes`, which `retrieval.search` reads to pick its strategy.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert

from core.db import Database
from core.errors import NotFound
from retrieval.chunking import chunk_segments
from retrieval.embeddings import Embedder
from retrieval.models import EMBEDDING_DIM, TenantIndex, TranscriptChunk
from telephony.models import Call, Contact, TranscriptSegment

log = logging.getLogger(__name__)

# A workspace with this many chunks gets its own HNSW index. Below it, exact search
# over the workspace's rows is complete and fast enough: ≈ 4 µs a row on 2 cores
# (bench/retrieval.py), so ≈ 40 ms at this size.
TENANT_INDEX_ROWS = 10_000
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64


@dataclass(frozen=True)
class Indexed:
    call_id: uuid.UUID
    workspace_id: uuid.UUID
    chunks: int


async def index_call(db: Database, call_id: uuid.UUID, embedder: Embedder) -> Indexed:
    """(Re-)index one call: its chunks are replaced by those of its current transcript."""
    if embedder.dim != EMBEDDING_DIM:
        raise ValueError(f"embeddings must have {EMBEDDING_DIM} dimensions, not {embedder.dim}")
    async with db.session() as session:
        call = await session.get(Call, call_id)
        if call is None:
            raise NotFound("No such call.")
        segments = list(
            (
                await session.scalars(
                    select(TranscriptSegment)
                    .where(TranscriptSegment.call_id == call_id)
                    .order_by(TranscriptSegment.seq)
                )
            ).all()
        )
    chunks = chunk_segments(segments)
    vectors = await embedder.embed([c.text for c in chunks])
    async with db.session() as session:
        call = await session.get(Call, call_id, with_for_update=True, populate_existing=True)
        if call is None:
            raise NotFound("No such call.")
        owner_id = await session.scalar(
            select(Contact.owner_id).where(Contact.id == call.contact_id)
        )
        if owner_id is None:
            raise NotFound("No such contact.")
        await session.execute(delete(TranscriptChunk).where(TranscriptChunk.call_id == call_id))
        session.add_all(
            TranscriptChunk(
                call_id=call_id,
                workspace_id=call.workspace_id,
                owner_id=owner_id,
                contact_id=call.contact_id,
                seq=chunk.seq,
                first_segment=chunk.first_segment,
                last_segment=chunk.last_segment,
                started_at=chunk.started_at,
                offset_s=chunk.offset_s,
                speakers=list(chunk.speakers),
                text=chunk.text,
                embedding=vector,
                embedding_model=embedder.model_name,
                embedding_dim=embedder.dim,
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        )
        await session.commit()
    log.info("indexed call %s: %d chunks (%s)", call_id, len(chunks), embedder.model_name)
    return Indexed(call_id, call.workspace_id, len(chunks))


def tenant_index_name(workspace_id: uuid.UUID) -> str:
    return f"ix_chunks_hnsw_{workspace_id.hex}"


async def ensure_tenant_index(
    db: Database,
    workspace_id: uuid.UUID,
    *,
    threshold: int = TENANT_INDEX_ROWS,
    maintenance_work_mem_mb: int = 256,
) -> str | None:
    """The name of the workspace's own HNSW index, building it first if the workspace has
    `threshold` chunks or more; None while it is below the threshold (or another session
    is building it right now)."""
    name = tenant_index_name(workspace_id)
    async with db.session() as session:
        registered = await session.get(TenantIndex, workspace_id)
        valid = await session.scalar(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname = :name"
            ),
            {"name": name},
        )
        if registered is not None and valid:
            return registered.index_name
        rows = await session.scalar(
            select(func.count()).where(TranscriptChunk.workspace_id == workspace_id)
        )
    rows = rows or 0
    if rows < threshold:
        return None
    engine = db.engine()
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        got_lock = await conn.scalar(
            text("SELECT pg_try_advisory_lock(hashtext('retrieval.tenant_index'), hashtext(:ws))"),
            {"ws": str(workspace_id)},
        )
        if not got_lock:
            return None
        try:
            if valid is False:  # a concurrent build that failed leaves an invalid index
                await conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
            await conn.execute(
                text(f"SET maintenance_work_mem = '{int(maintenance_work_mem_mb)}MB'")
            )
            # The workspace id is a UUID object, so the literal is safe to inline; it must
            # be a literal for the planner to match the partial index's predicate.
            await conn.execute(
                text(
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON transcript_chunks"
                    " USING hnsw (embedding vector_cosine_ops)"
                    f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
                    f" WHERE workspace_id = '{workspace_id}'::uuid"
                )
            )
            await conn.execute(text("RESET maintenance_work_mem"))
            await conn.execute(
                insert(TenantIndex)
                .values(workspace_id=workspace_id, index_name=name, rows_at_build=rows)
                .on_conflict_do_update(
                    index_elements=[TenantIndex.workspace_id],
                    set_={"index_name": name, "rows_at_build": rows, "created_at": func.now()},
                )
            )
        finally:
            await conn.execute(
                text(
                    "SELECT pg_advisory_unlock(hashtext('retrieval.tenant_index'), hashtext(:ws))"
                ),
                {"ws": str(workspace_id)},
            )
    log.info("built HNSW index %s for workspace %s (%d chunks)", name, workspace_id, rows)
    return name
