"""Contacts, consent, do-not-call lists, call attempts and compliance decisions.

The tables are created by migration 0009, which also guards them in SQL:
`consent_records` may only gain a revocation (what was consented to, when, how and who
attested it never change, and nothing is deleted); `compliance_decisions` is
append-only.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.base import Base, CreatedAt, new_id


class ConsentType(enum.StrEnum):
    EXISTING_RELATIONSHIP = "existing_relationship"
    EXPRESS = "express"
    EXPRESS_WRITTEN = "express_written"

    @property
    def label(self) -> str:
        return CONSENT_TYPE_LABELS[self]


CONSENT_TYPE_LABELS: dict[ConsentType, str] = {
    ConsentType.EXISTING_RELATIONSHIP: "existing business relationship",
    ConsentType.EXPRESS: "prior express consent",
    ConsentType.EXPRESS_WRITTEN: "prior express written consent",
}


class DncSource(enum.StrEnum):
    OPT_OUT_CALL = "opt_out_call"
    IMPORT = "import"
    MANUAL = "manual"
    COMPLAINT = "complaint"

    @property
    def label(self) -> str:
        return DNC_SOURCE_LABELS[self]


DNC_SOURCE_LABELS: dict[DncSource, str] = {
    DncSource.OPT_OUT_CALL: "opt-out during call",
    DncSource.IMPORT: "import",
    DncSource.MANUAL: "manual",
    DncSource.COMPLAINT: "complaint",
}


class Contact(CreatedAt, Base):
    """Someone a rep may call. One contact per number per workspace."""

    __tablename__ = "contacts"
    __table_args__ = (
        # Among the contacts not deleted (migration 0025).
        Index(
            "uq_contacts_workspace_phone",
            "workspace_id",
            "phone_e164",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_contacts_owner", "owner_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    company: Mapped[str | None] = mapped_column(String(200))
    phone_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    country: Mapped[str | None] = mapped_column(String(2))
    # Every IANA zone the number may be in (phonenumbers), for display and search.
    time_zones: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
    # A deleted contact is kept (its consent and calls are evidence) but nobody sees
    # or calls it again (telephony/access.py).
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))


class ConsentRecord(CreatedAt, Base):
    """Evidence that the person at `phone_e164` agreed to be called (or an existing
    business relationship): its type, source, exact wording, method and time, who
    attested it, and any revocation."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint(
            "consent_type IN ('existing_relationship', 'express', 'express_written')",
            name="consent_type",
        ),
        CheckConstraint("(revoked_at IS NULL) = (revoked_how IS NULL)", name="revocation"),
        Index("ix_consent_records_contact", "contact_id"),
        Index("ix_consent_records_workspace_phone", "workspace_id", "phone_e164"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id"), nullable=False
    )
    phone_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    consent_type: Mapped[str] = mapped_column(String(30), nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    wording: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(100), nullable=False)
    obtained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    attested_by: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_how: Mapped[str | None] = mapped_column(Text)
    revoked_recorded_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )

    @property
    def type(self) -> ConsentType:
        return ConsentType(self.consent_type)


class DncEntry(Base):
    """A number not to call: on one workspace's list, or platform-wide (no workspace)."""

    __tablename__ = "dnc_entries"
    __table_args__ = (
        CheckConstraint(
            "source IN ('opt_out_call', 'import', 'manual', 'complaint')", name="source"
        ),
        Index(
            "uq_dnc_entries_workspace_phone",
            "workspace_id",
            "phone_e164",
            unique=True,
            postgresql_where=text("workspace_id IS NOT NULL"),
        ),
        Index(
            "uq_dnc_entries_platform_phone",
            "phone_e164",
            unique=True,
            postgresql_where=text("workspace_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id")
    )
    phone_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(200))  # e.g. the call's sid
    added_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    added_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))

    @property
    def platform(self) -> bool:
        return self.workspace_id is None


class ComplianceDecisionRecord(Base):
    """One run of the gate before a dial, allowed or not, with every reason (append-only)."""

    __tablename__ = "compliance_decisions"
    __table_args__ = (
        Index("ix_compliance_decisions_contact", "contact_id", "decided_at"),
        Index("ix_compliance_decisions_workspace", "workspace_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id")
    )
    phone_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    allowed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # [{"code": "outside_calling_hours", "message": "..."}]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)
    # [{"zone": "America/New_York", "local": "2026-03-02T20:15:00-05:00", "inside": false}]
    local_times: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class CallAttempt(Base):
    """A dial placed (or about to be) to a number: what the 24-hour cap counts."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_workspace_phone_at", "workspace_id", "phone_e164", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    phone_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    decision_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("compliance_decisions.id")
    )
    reference: Mapped[str | None] = mapped_column(String(200))  # e.g. the call's sid


class CallStatus(enum.StrEnum):
    """Twilio's CallStatus values, plus `pending` (ours: not yet accepted by Twilio)."""

    PENDING = "pending"
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def label(self) -> str:
        return CALL_STATUS_LABELS[self]


TERMINAL_STATUSES: frozenset[CallStatus] = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.FAILED,
        CallStatus.NO_ANSWER,
        CallStatus.CANCELED,
    }
)
CALL_STATUS_LABELS: dict[CallStatus, str] = {
    CallStatus.PENDING: "being placed",
    CallStatus.QUEUED: "queued",
    CallStatus.INITIATED: "dialling",
    CallStatus.RINGING: "ringing",
    CallStatus.IN_PROGRESS: "connected",
    CallStatus.COMPLETED: "ended",
    CallStatus.BUSY: "busy",
    CallStatus.FAILED: "failed",
    CallStatus.NO_ANSWER: "no answer",
    CallStatus.CANCELED: "canceled",
}


class CallOutcome(enum.StrEnum):
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    CALLBACK_BOOKED = "callback_booked"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    OPTED_OUT = "opted_out"
    BUSY = "busy"
    FAILED = "failed"


class Call(CreatedAt, Base):
    """One outbound call: gate decision, attempt, hold, Twilio state, settlement."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_workspace_created", "workspace_id", "created_at"),
        Index("ix_calls_placed_by_created", "placed_by", "created_at"),
        Index("ix_calls_contact", "contact_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("contacts.id"), nullable=False
    )
    placed_by: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    phone_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    from_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    decision_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("compliance_decisions.id"), nullable=False
    )
    attempt_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("call_attempts.id"))
    hold_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("credit_holds.id"))
    time_limit_s: Mapped[int] = mapped_column(Integer, nullable=False)
    brief: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    twilio_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    last_sequence: Mapped[int | None] = mapped_column(Integer)
    answered_by: Mapped[str | None] = mapped_column(String(30))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    cost_mc: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(30))
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    recording_url: Mapped[str | None] = mapped_column(Text)
    recording_duration_s: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )

    @property
    def call_status(self) -> CallStatus:
        return CallStatus(self.status)


class CallCallback(Base):
    """A Twilio callback as received (status, AMD or recording), de-duplicated."""

    __tablename__ = "call_callbacks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    call_sid: Mapped[str] = mapped_column(String(64), nullable=False)
    call_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("calls.id"))
    sequence_number: Mapped[int | None] = mapped_column(Integer)
    call_status: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    result: Mapped[str] = mapped_column(String(20), nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class TranscriptSegment(Base):
    """One turn of a call's conversation (append-only)."""

    __tablename__ = "transcript_segments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calls.id"), nullable=False
    )
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    speaker: Mapped[str] = mapped_column(String(10), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    interrupted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
