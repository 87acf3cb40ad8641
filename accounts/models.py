"""Workspaces and users."""

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
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.base import Base, CreatedAt, new_id


class Role(enum.StrEnum):
    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"


class WorkspaceStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Workspace(CreatedAt, Base):
    __tablename__ = "workspaces"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default=WorkspaceStatus.ACTIVE.value
    )
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    users: Mapped[list[User]] = relationship(back_populates="workspace")


class User(CreatedAt, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('rep', 'manager', 'admin')", name="role"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        Index("uq_users_email", "email", unique=True),
        Index("ix_users_workspace_id", "workspace_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="RESTRICT"), nullable=False
    )
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20), nullable=False, default=Role.REP.value)
    mobile_e164: Mapped[str | None] = mapped_column(String(20))
    mobile_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    age_attested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    # Bumped to end every session at once (password reset, removal, suspension).
    session_version: Mapped[int] = mapped_column(nullable=False, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # IANA zone every time is shown in (migration 0027); NULL: the mobile's zone.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )

    workspace: Mapped[Workspace] = relationship(back_populates="users")


class OtpVerification(CreatedAt, Base):
    """One simulated Verify verification (accounts/otp/simulated.py): a code sent to a
    number, re-sent with the same sid and code inside its 10 minutes, checked at most 5
    times. Live Twilio Verify keeps its own state; nothing is stored here in live mode.

    At most one `pending` verification per (flow, number) (a partial unique index), so
    two concurrent sends cannot both start one, and one flow's verification never
    blocks another's (migration 0023). `code_hash` is sha256(salt + code); `code_plain`
    is the code itself, kept only for the simulated dev inbox (NULL for decoys).
    """

    __tablename__ = "otp_verifications"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'canceled', 'max_attempts_reached', "
            "'expired', 'failed')",
            name="status",
        ),
        CheckConstraint("send_count >= 1", name="send_count"),
        CheckConstraint("check_count >= 0", name="check_count"),
        CheckConstraint("flow IN ('signup', 'login', 'reset', 'mobile')", name="flow"),
        Index("uq_otp_verifications_sid", "sid", unique=True),
        Index(
            "uq_otp_verifications_pending_flow_to",
            "flow",
            "to_e164",
            unique=True,
            postgresql_where="status = 'pending'",
        ),
        Index("ix_otp_verifications_to_created", "to_e164", "created_at"),
        Index("ix_otp_verifications_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    sid: Mapped[str] = mapped_column(String(34), nullable=False)
    to_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    flow: Mapped[str] = mapped_column(String(20), nullable=False, server_default="login")
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    code_salt: Mapped[str] = mapped_column(String(32), nullable=False)
    code_plain: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(30), nullable=False, default="pending")
    send_count: Mapped[int] = mapped_column(nullable=False, default=1)
    check_count: Mapped[int] = mapped_column(nullable=False, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignupRequest(Base):
    """A sign-up waiting for its mobile code: the user exists only once the code checks."""

    __tablename__ = "signup_requests"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)
    mobile_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    age_attested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    terms_version_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("terms_versions.id"))
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("invitations.id")
    )
    oauth_provider: Mapped[str | None] = mapped_column(String(20))
    oauth_subject: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))


class UserSession(Base):
    """A signed-in browser session; the cookie names it, so it can be revoked."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(20), nullable=False)


class UserIdentity(CreatedAt, Base):
    """A Google or Meta account linked to a user."""

    __tablename__ = "user_identities"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))


class Invitation(CreatedAt, Base):
    """A manager's invitation; the token itself is only in the link, hashed here."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id"), nullable=False
    )
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    mobile_e164: Mapped[str] = mapped_column(String(20), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    invited_by: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TermsVersion(Base):
    __tablename__ = "terms_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    effective_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    material: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    body_md: Mapped[str] = mapped_column(Text, nullable=False)
    published_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    published_by: Mapped[str] = mapped_column(String(200), nullable=False)


class TermsAcceptance(Base):
    """Append-only: who accepted which terms, when, from where."""

    __tablename__ = "terms_acceptances"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), nullable=False
    )
    terms_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("terms_versions.id"), nullable=False
    )
    accepted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class AuditEvent(Base):
    """Append-only record of security-relevant and admin actions."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    action: Mapped[str] = mapped_column(String(60), nullable=False)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(200), nullable=False)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id")
    )
    target: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
