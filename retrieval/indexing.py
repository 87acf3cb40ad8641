"""Indexing a call's transcript, and giving large tenants their own HNSW index.

`index_call` reads a call's segments, chunks them (`retrieval.chunking`), embeds the
chunks (outside any transaction: that is the slow part), then replaces the call's
chunks in one transaction under the call's row lock, so two runs for the same call
never interleave and a search sees either the old chunks or the new ones.

`ensure_tenant_index` gives a workspace whose chunk count has reached a threshold its
own partial HNSW index (`... WHERE workspace_id = '<uuid>'`) and its own partial GIN
index on `tsv` (same predicate), built with `CREATE INDEX CONCURRENTLY` (writes go on
meanwhile) and listed in `retrieval_tenant_indexes`, which `retrieval.search` reads to
pick its strategy. The GIN index is for the full-text leg: with only the global one,
the planner ANDed its matches with a bitmap of the workspace's btree range — every
one of a 300k-chunk workspace's rows, 10-15 ms a query — where its own GIN index
finds the same rows in under 1 ms (bench/retrieval.py, full size).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import Database
from core.errors import NotFound
from retrieval.chunking import chunk_segments
from retrieval.embeddings import Embedder
from retrieval.models import EMBEDDING_DIM, TenantIndex, TranscriptChunk, tenant_predicate
from telephony.models import Call, Contact, TranscriptSegment

log = logging.getLogger(__name__)

# A workspace with this many chunks gets its own HNSW (and GIN) index. Below it, exact
# search over the workspace's rows is complete and fast enough: ≈ 1 µs a row on 2 cores
# with the embeddings stored inline (migration 0018; ≈ 2.5 µs out of line before it),
# so ≈ 10 ms at this size (bench/retrieval.py).
TENANT_INDEX_ROWS = 10_000
HNSW_M = 16
# 64 left a 300k-chunk workspace of clustered calls with a graph where ≈ 3 % of queries
# stuck in the wrong cluster (recall@10 0 for them, 0.94 over all at ef_search 200) and
# some chunks all but unreachable; 128 gave recall@10 0.999 at ef_search 200 for a build
# 68 s instead of 52 s (bench/retrieval.py, full size, 2 cores). An index built with other
# settings is rebuilt (`REINDEX CONCURRENTLY`) by the next `ensure_tenant_index`.
HNSW_EF_CONSTRUCTION = 128
HNSW_OPTIONS = sorted([f"m={HNSW_M}", f"ef_construction={HNSW_EF_CONSTRUCTION}"])


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
    vectors = await embedder.embed([c.embed_text for c in chunks])
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


def tenant_text_index_name(workspace_id: uuid.UUID) -> str:
    return f"ix_chunks_tsv_{workspace_id.hex}"


def _tenant_index_ddl(workspace_id: uuid.UUID) -> dict[str, str]:
    """Each of a workspace's own indexes by name, with the statement that builds it."""
    where = f"WHERE {tenant_predicate(workspace_id)}"
    hnsw, gin = tenant_index_name(workspace_id), tenant_text_index_name(workspace_id)
    return {
        hnsw: f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {hnsw} ON transcript_chunks"
        " USING hnsw (embedding vector_cosine_ops)"
        f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) {where}",
        gin: f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {gin} ON transcript_chunks"
        f" USING gin (tsv) {where}",
    }


@dataclass(frozen=True)
class _Existing:
    """What a workspace has of its own indexes."""

    registered: str | None  # the HNSW index's name in `retrieval_tenant_indexes`
    valid: dict[str, bool]  # each of its indexes that exists: whether it is valid
    outdated: bool  # its HNSW index was built with other settings than HNSW_OPTIONS

    def complete(self, names: Iterable[str]) -> bool:
        return (
            self.registered is not None
            and all(self.valid.get(n) for n in names)
            and not self.outdated
        )


async def _existing_indexes(
    session: AsyncSession, workspace_id: uuid.UUID, names: list[str]
) -> _Existing:
    registered = await session.get(TenantIndex, workspace_id)
    found = (
        await session.execute(
            text(
                "SELECT c.relname, i.indisvalid, c.reloptions FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY(:names)"
            ),
            {"names": names},
        )
    ).all()
    hnsw = tenant_index_name(workspace_id)
    return _Existing(
        registered=registered.index_name if registered is not None else None,
        valid={row.relname: row.indisvalid for row in found},
        outdated=any(
            row.relname == hnsw and row.indisvalid and sorted(row.reloptions or []) != HNSW_OPTIONS
            for row in found
        ),
    )


@contextlib.asynccontextmanager
async def _tenant_lock(
    db: Database, workspace_id: uuid.UUID
) -> AsyncIterator[AsyncConnection | None]:
    """An autocommit connection holding the workspace's index-building advisory lock,
    or None when another session holds it."""
    key = {"ws": str(workspace_id)}
    async with db.engine().connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        got_lock = await conn.scalar(
            text("SELECT pg_try_advisory_lock(hashtext('retrieval.tenant_index'), hashtext(:ws))"),
            key,
        )
        if not got_lock:
            yield None
            return
        try:
            yield conn
        finally:
            await conn.execute(
                text(
                    "SELECT pg_advisory_unlock(hashtext('retrieval.tenant_index'), hashtext(:ws))"
                ),
                key,
            )


async def _build_indexes(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    existing: _Existing,
    *,
    rows: int,
    maintenance_work_mem_mb: int,
) -> None:
    """Rebuild an outdated HNSW index in place, build what is missing or invalid, and
    register the workspace's index (under the workspace's lock)."""
    name = tenant_index_name(workspace_id)
    await conn.execute(text(f"SET maintenance_work_mem = '{int(maintenance_work_mem_mb)}MB'"))
    if existing.outdated:  # built with other settings: rebuilt in place, reads go on
        await conn.execute(
            text(f"ALTER INDEX {name} SET (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})")
        )
        await conn.execute(text(f"REINDEX INDEX CONCURRENTLY {name}"))
    for index, create in _tenant_index_ddl(workspace_id).items():
        if existing.valid.get(index):
            continue
        if index in existing.valid:  # a concurrent build that failed leaves an invalid index
            await conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {index}"))
        await conn.execute(text(create))
    await conn.execute(text("RESET maintenance_work_mem"))
    await conn.execute(
        insert(TenantIndex)
        .values(workspace_id=workspace_id, index_name=name, rows_at_build=rows)
        .on_conflict_do_update(
            index_elements=[TenantIndex.workspace_id],
            set_={"index_name": name, "rows_at_build": rows, "created_at": func.now()},
        )
    )


async def ensure_tenant_index(
    db: Database,
    workspace_id: uuid.UUID,
    *,
    threshold: int = TENANT_INDEX_ROWS,
    maintenance_work_mem_mb: int = 256,
) -> str | None:
    """The name of the workspace's own HNSW index, building it (and the workspace's own
    GIN index on `tsv`) first if the workspace has `threshold` chunks or more; None while
    it is below the threshold (or another session is building them right now). A
    workspace registered before it had a GIN index gets one on the next call."""
    names = list(_tenant_index_ddl(workspace_id))
    async with db.session() as session:
        existing = await _existing_indexes(session, workspace_id, names)
        if existing.complete(names):
            return existing.registered
        rows = await session.scalar(
            select(func.count()).where(TranscriptChunk.workspace_id == workspace_id)
        )
    rows = rows or 0
    if existing.registered is None and rows < threshold:
        return None
    async with _tenant_lock(db, workspace_id) as conn:
        if conn is None:
            return None
        await _build_indexes(
            conn, workspace_id, existing, rows=rows, maintenance_work_mem_mb=maintenance_work_mem_mb
        )
    log.info("built the indexes of workspace %s (%d chunks): %s", workspace_id, rows, names)
    return tenant_index_name(workspace_id)
