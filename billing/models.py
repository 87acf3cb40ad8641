"""Ledger tables. Amounts are integers in milli-credits (1 credit = 1000 mc).

Writes go through the PL/pgSQL functions created by migration 0004 (one round trip
per operation, every invariant checked under the account's row lock); these
models are for reading.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, func
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
    # What a chargeback took beyond the grants; later credits pay it first.
    debt_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
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
    # What was taken back for this grant (migration 0021): the sum never exceeds
    # amount_mc; a reversal lowers its own kind's figure.
    refunded_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    charged_back_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    credited_back_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)

    @property
    def taken_back_mc(self) -> int:
        return self.refunded_mc + self.charged_back_mc + self.credited_back_mc


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


class CreditPackage(CreatedAt, Base):
    """A package in the catalogue: what it costs, what it grants, its Paddle prices.

    The platform service fee is its own Paddle price line so that Paddle taxes it."""

    __tablename__ = "credit_packages"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    credits_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)
    price_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD")
    paddle_price_id: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    service_fee_cents: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    paddle_fee_price_id: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class BillingProfile(Base):
    """Where the workspace is billed: asked once, used for every estimate."""

    __tablename__ = "billing_profiles"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), primary_key=True
    )
    country_code: Mapped[str] = mapped_column(String(2), nullable=False)
    postal_code: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(10))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class PaddleTransaction(CreatedAt, Base):
    """A transaction we created on Paddle for a purchase; the webhook grants against it."""

    __tablename__ = "paddle_transactions"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    package_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("credit_packages.id"), nullable=False
    )
    credits_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    estimate: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    custom_data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="ready")
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    grant_entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ledger_entries.id"))


class PaddleEvent(Base):
    """A webhook event exactly as Paddle sent it, de-duplicated by its event id."""

    __tablename__ = "paddle_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    event_type: Mapped[str] = mapped_column(String(80), nullable=False)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notification_id: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    note: Mapped[str | None] = mapped_column(Text)
    transaction_id: Mapped[str | None] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PaddleAdjustment(CreatedAt, Base):
    """A refund, chargeback or reversal on one of our transactions, and what it moved."""

    __tablename__ = "paddle_adjustments"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("paddle_transactions.id"), nullable=False
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    credits_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    taken_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    shortfall_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ledger_entries.id"))
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class CreditExpiryPolicy(Base):
    """A credit-expiry rule, announced at least 30 days before it takes effect."""

    __tablename__ = "credit_expiry_policies"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    announced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    effective_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    lifetime_days: Mapped[int] = mapped_column(Integer, nullable=False)
    existing_grants: Mapped[str] = mapped_column(String(30), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
