"""Transcript chunks and per-tenant vector indexes (created by migration 0012)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, Computed, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.base import Base

EMBEDDING_DIM = 384


def tenant_predicate(workspace_id: uuid.UUID, alias: str = "") -> str:
    """The predicate of a workspace's own partial indexes, as the SQL of both the index
    and the queries it serves: the planner uses a partial index only for a query whose
    WHERE clause implies its predicate, which a bound parameter does not once psycopg
    prepares the statement (generic plans). The id is a UUID, so inlining it is safe."""
    return f"{alias}workspace_id = '{uuid.UUID(str(workspace_id))}'::uuid"


class TranscriptChunk(Base):
    """A window of consecutive turns of one call, embedded and full-text indexed."""

    __tablename__ = "transcript_chunks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calls.id"), nullable=False
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    # The contact's owner when indexed: reps search only their own calls.
    owner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    first_segment: Mapped[int] = mapped_column(Integer, nullable=False)
    last_segment: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    offset_s: Mapped[int] = mapped_column(Integer, nullable=False)  # from the call's start
    speakers: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    tsv: Mapped[str] = mapped_column(
        TSVECTOR, Computed("to_tsvector('english', text)", persisted=True)
    )
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIM), nullable=False)
    embedding_model: Mapped[str] = mapped_column(String(100), nullable=False)
    embedding_dim: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class TenantIndex(Base):
    """A workspace large enough to have its own partial HNSW index."""

    __tablename__ = "retrieval_tenant_indexes"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), primary_key=True
    )
    index_name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    rows_at_build: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
