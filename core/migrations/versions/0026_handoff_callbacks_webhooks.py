"""Warm hand-off, callbacks that happen, signed outbound webhooks (issue 20, parts 3-5).

- `workspace_call_settings`: per workspace, what a booked callback becomes (`call`: a
  call placed at that time, the gate checked again then; `remind`: a reminder in the
  rep's chat with a "call now" button) and whether the voice agent offers the hand-off
  when the brief's goal is reached (it always offers it when asked for a person).
- `call_handoffs`: one per call handed to the rep: the rep's number dialled, the
  outcome of the `<Dial>` (connected, no-answer, busy, failed) and the callback booked
  when the rep could not pick up.
- `booked_callbacks`: a callback a prospect booked (on the call, or after a hand-off
  the rep missed): due time, status, and what happened at that time.
- `webhook_endpoints`, `webhook_events`, `webhook_deliveries`, `webhook_attempts`:
  a workspace's receivers (https only, signing secret), each event once (its id is the
  receivers' de-duplication key), one delivery per receiver with its retry state, and
  every attempt (the log a manager sees).

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = postgresql.UUID(as_uuid=True)


def _now() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "workspace_call_settings",
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("callback_mode", sa.String(10), nullable=False, server_default="remind"),
        sa.Column("handoff_on_goal", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_by", UUID, sa.ForeignKey("users.id")),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "callback_mode IN ('call', 'remind')", name="ck_workspace_call_settings_mode"
        ),
    )
    op.create_table(
        "call_handoffs",
        sa.Column("call_id", UUID, sa.ForeignKey("calls.id"), primary_key=True),
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("rep_id", UUID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("rep_e164", sa.String(20)),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("dial_status", sa.String(20)),
        sa.Column("dial_duration_s", sa.Integer()),
        sa.Column("callback_id", UUID),
        _now(),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('dialling', 'connected', 'missed', 'unreachable')",
            name="ck_call_handoffs_status",
        ),
    )
    op.create_table(
        "booked_callbacks",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("contact_id", UUID, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("rep_id", UUID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("call_id", UUID, sa.ForeignKey("calls.id")),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("mode", sa.String(10)),
        sa.Column("result", sa.Text()),
        sa.Column("placed_call_id", UUID, sa.ForeignKey("calls.id")),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        _now(),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'called', 'reminded', 'refused', 'cancelled')",
            name="ck_booked_callbacks_status",
        ),
        sa.CheckConstraint("source IN ('call', 'handoff')", name="ck_booked_callbacks_source"),
    )
    op.create_index("uq_booked_callbacks_call", "booked_callbacks", ["call_id"], unique=True)
    op.create_index(
        "ix_booked_callbacks_due",
        "booked_callbacks",
        ["due_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_booked_callbacks_rep", "booked_callbacks", ["rep_id", "status"])

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("created_by", UUID, sa.ForeignKey("users.id")),
        _now(),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "uq_webhook_endpoints_url",
        "webhook_endpoints",
        ["workspace_id", "url"],
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        _now(),
        sa.UniqueConstraint("workspace_id", "dedupe_key", name="uq_webhook_events_dedupe"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("event_id", sa.String(40), sa.ForeignKey("webhook_events.id"), nullable=False),
        sa.Column("endpoint_id", UUID, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        _now(),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_pair"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_status"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_workspace", "webhook_deliveries", ["workspace_id", "created_at"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("delivery_id", UUID, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
    op.drop_table("booked_callbacks")
    op.drop_table("call_handoffs")
    op.drop_table("workspace_call_settings")
