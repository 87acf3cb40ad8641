"""The outbound dial queue (one dispatcher for the shared number) and campaigns.

- `dial_queue`: every outbound call waits here until the dispatcher (telephony/
  dispatch.py) claims it (`FOR UPDATE SKIP LOCKED`), runs the gate, holds credits and
  dials. A row moves queued → dialing → placed | refused | failed (or canceled while
  queued) and never back: a row marked `dialing` is never dialled again.
- `dial_pacer`: one row; the times of the latest dials from the shared number (a
  sliding window, updated under the row's lock) — how any number of processes keep
  within the carrier's calls per second.
- `dial_fairness`: per workspace, when it was last served (round-robin).
- `campaigns`, `campaign_targets`: campaigns (campaigns/models.py).

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = postgresql.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("created_by", UUID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("brief", postgresql.JSONB(), nullable=False),
        sa.Column("selection", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("days", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=False),
        sa.Column("window_end", sa.Time(), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("retry_outcomes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("retry_after_s", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("budget_mc", sa.BigInteger(), nullable=False),
        sa.Column("finished_reason", sa.Text()),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", TS),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'canceled', 'finished')", name="campaign_status"
        ),
        sa.CheckConstraint("max_concurrent BETWEEN 1 AND 50", name="campaign_concurrency"),
        sa.CheckConstraint("max_attempts BETWEEN 1 AND 10", name="campaign_attempts"),
        sa.CheckConstraint("budget_mc > 0", name="campaign_budget"),
        sa.CheckConstraint("window_start < window_end", name="campaign_window"),
    )
    op.create_index("ix_campaigns_workspace", "campaigns", ["workspace_id", "created_at"])
    op.create_index(
        "ix_campaigns_active",
        "campaigns",
        ["status"],
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "campaign_targets",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("campaign_id", UUID, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("contact_id", UUID, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("phone_e164", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", TS, nullable=False),
        sa.Column("last_call_id", UUID),
        sa.Column("last_outcome", sa.String(30)),
        sa.Column("note", sa.Text()),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('waiting', 'queued', 'calling', 'done', 'excluded', 'skipped')",
            name="target_status",
        ),
        sa.UniqueConstraint("campaign_id", "contact_id", name="uq_campaign_targets_contact"),
    )
    op.create_index(
        "ix_campaign_targets_due",
        "campaign_targets",
        ["campaign_id", "next_at", "id"],
        postgresql_where=sa.text("status = 'waiting'"),
    )
    op.create_index(
        "ix_campaign_targets_in_flight",
        "campaign_targets",
        ["campaign_id"],
        postgresql_where=sa.text("status IN ('queued', 'calling')"),
    )

    op.create_table(
        "dial_queue",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("call_id", UUID, nullable=False, unique=True),
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("contact_id", UUID, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("campaign_id", UUID, sa.ForeignKey("campaigns.id")),
        sa.Column("target_id", sa.BigInteger(), sa.ForeignKey("campaign_targets.id")),
        sa.Column("interactive", sa.Boolean(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="queued"),
        sa.Column("not_before", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("enqueued_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("claimed_at", TS),
        sa.Column("dialed_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("result", sa.Text()),
        sa.Column("reasons", postgresql.JSONB()),
        sa.CheckConstraint(
            "status IN ('queued', 'dialing', 'placed', 'refused', 'failed', 'canceled')",
            name="dial_status",
        ),
    )
    op.create_index(
        "ix_dial_queue_waiting",
        "dial_queue",
        ["workspace_id", "interactive", "not_before", "id"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index("ix_dial_queue_campaign", "dial_queue", ["campaign_id", "status"])
    op.create_table(
        "dial_fairness",
        sa.Column("workspace_id", UUID, sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("last_served_at", TS, nullable=False, server_default=sa.text("'-infinity'")),
        sa.Column("served", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_table(
        "dial_pacer",
        sa.Column("id", sa.SmallInteger(), primary_key=True),
        # The latest dials' times, newest last (at most the calls-per-second limit).
        sa.Column("recent", postgresql.ARRAY(TS), nullable=False, server_default=sa.text("'{}'")),
        sa.CheckConstraint("id = 1", name="one_pacer"),
    )
    op.execute("INSERT INTO dial_pacer (id) VALUES (1)")


def downgrade() -> None:
    op.drop_table("dial_pacer")
    op.drop_table("dial_fairness")
    op.drop_table("dial_queue")
    op.drop_table("campaign_targets")
    op.drop_table("campaigns")
