"""The assistant's memory: threads, their messages, and one row per answered turn."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.base import Base, CreatedAt, new_id


class AssistantThread(CreatedAt, Base):
    __tablename__ = "assistant_threads"
    __table_args__ = (Index("ix_assistant_threads_user", "user_id", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class AssistantMessage(CreatedAt, Base):
    """One LangChain message (as `messages_to_dict` writes it), in thread order."""

    __tablename__ = "assistant_messages"
    __table_args__ = (Index("uq_assistant_messages_thread_seq", "thread_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    thread_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("assistant_threads.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    message: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class AssistantTurn(CreatedAt, Base):
    """One user message and what became of it. Its id is the query's billing key."""

    __tablename__ = "assistant_turns"
    __table_args__ = (Index("ix_assistant_turns_user", "user_id", "created_at"),)

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    thread_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("assistant_threads.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    user_text: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)
    cost_mc: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    hold_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("credit_holds.id"))
    # The admission that started the turn (`chat_turn_admit`'s p_attempt): its retry
    # resumes the turn instead of finding its own message id taken.
    admitted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChatNotification(Base):
    """A notice a user has been shown in chat (shown once: see migration 0016)."""

    __tablename__ = "chat_notifications"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
