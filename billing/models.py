"""Ledger tables. Amounts are integers in milli-credits (1 credit = 1000 mc).

Writes go through the PL/pgSQL functions created by migration 0004 (one round trip
per operation, every invariant checked under the account's row lock); these
models are for reading.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.base import Base, CreatedAt


class CreditAccount(Base):
    __tablename__ = "credit_accounts"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), primary_key=True
    )
    balance_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    held_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    frozen: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    frozen_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class LedgerEntry(CreatedAt, Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("credit_accounts.workspace_id"), nullable=False
    )
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    amount_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_after_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hold_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("credit_holds.id"))
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict
    )


class CreditGrant(CreatedAt, Base):
    __tablename__ = "credit_grants"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("credit_accounts.workspace_id"), nullable=False
    )
    entry_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ledger_entries.id"), nullable=False, unique=True
    )
    amount_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)
    remaining_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)
    source: Mapped[str] = mapped_column(String(50), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LedgerEntryGrant(Base):
    """Which grants (lots) a debit consumed, and how much of each."""

    __tablename__ = "ledger_entry_grants"

    entry_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ledger_entries.id"), primary_key=True
    )
    grant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("credit_grants.id"), primary_key=True
    )
    amount_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)


class CreditHold(CreatedAt, Base):
    __tablename__ = "credit_holds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("credit_accounts.workspace_id"), nullable=False
    )
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    amount_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    reference: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_mc: Mapped[int | None] = mapped_column(BigInteger)
