"""What follows a conversation: the workspace's choices, hand-offs to the rep, and the
callbacks prospects booked (migration 0026)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.base import Base, CreatedAt, new_id


class CallbackMode(enum.StrEnum):
    CALL = "call"  # the AI agent calls back at the booked time (gate checked then)
    REMIND = "remind"  # the rep gets a reminder in chat with a "call now" button


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    CALLED = "called"
    REMINDED = "reminded"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class HandoffStatus(enum.StrEnum):
    DIALLING = "dialling"
    CONNECTED = "connected"
    MISSED = "missed"
    UNREACHABLE = "unreachable"


class WorkspaceCallSettings(Base):
    __tablename__ = "workspace_call_settings"

    workspace_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    callback_mode: Mapped[str] = mapped_column(String(10), nullable=False, default="remind")
    handoff_on_goal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CallHandoff(CreatedAt, Base):
    __tablename__ = "call_handoffs"

    call_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    rep_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    rep_e164: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    dial_status: Mapped[str | None] = mapped_column(String(20))
    dial_duration_s: Mapped[int | None] = mapped_column(Integer)
    callback_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BookedCallback(CreatedAt, Base):
    __tablename__ = "booked_callbacks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    rep_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    call_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    mode: Mapped[str | None] = mapped_column(String(10))
    result: Mapped[str | None] = mapped_column(Text)
    placed_call_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
