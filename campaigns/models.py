"""Campaigns and their targets (tables from migration 0028).

A campaign is a brief, a window, a concurrency cap, a retry rule and a credit budget;
each contact it calls is a target, which moves waiting → queued (a dial is in the
dispatcher's queue) → calling (the dial was placed) → waiting again (a retry, with
`next_at`) or done; contacts left out are `excluded` (with why) and contacts the
campaign stopped before calling are `skipped`.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.base import Base, new_id


class CampaignStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELED = "canceled"
    FINISHED = "finished"


class TargetStatus(enum.StrEnum):
    WAITING = "waiting"
    QUEUED = "queued"
    CALLING = "calling"
    DONE = "done"
    EXCLUDED = "excluded"
    SKIPPED = "skipped"


IN_FLIGHT = (TargetStatus.QUEUED.value, TargetStatus.CALLING.value)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    created_by: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # {"purpose", "talking_points", "goal", "voicemail_message", "on_voicemail"}
    brief: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # How the contacts were chosen (shown back to the user).
    selection: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    days: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), nullable=False)
    window_start: Mapped[time] = mapped_column(Time, nullable=False)
    window_end: Mapped[time] = mapped_column(Time, nullable=False)
    max_concurrent: Mapped[int] = mapped_column(Integer, nullable=False)
    retry_outcomes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    retry_after_s: Mapped[int] = mapped_column(Integer, nullable=False)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    budget_mc: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # What its ended calls cost, folded in once per call by `service.sync`.
    settled_mc: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default="0"
    )
    finished_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignTarget(Base):
    __tablename__ = "campaign_targets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("campaigns.id"), nullable=False
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id"), nullable=False
    )
    phone_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_call_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    last_outcome: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
