"""Campaign budgets without summing their call history at every dial; an index on the
dials being made.

- `campaigns.settled_mc`: what the campaign's ended calls cost, added once for each
  call when the campaign follows it to its end (campaigns/service.py `sync`, one
  process at a time). The campaign guard then adds only its calls still in flight (at
  most its concurrency cap) instead of summing every call it ever made, per dial.
- `ix_dial_queue_dialing`: the dials being made (claims to renew, take over or
  recover; a rep's call waiting for its slot), found without scanning the queue's
  history.

Revision ID: 0031
Revises: 0030
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every settled call of a campaign but those its targets still count as in flight.
BACKFILL = """
UPDATE campaigns cp SET settled_mc = coalesce((
    SELECT sum(coalesce(c.cost_mc, 0))
    FROM dial_queue d
    JOIN calls c ON c.id = d.call_id
    LEFT JOIN campaign_targets t ON t.id = d.target_id
    WHERE d.campaign_id = cp.id AND c.settled_at IS NOT NULL
      AND NOT coalesce(t.status IN ('queued', 'calling') AND t.last_call_id = c.id, false)
), 0)
"""


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("settled_mc", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute(BACKFILL)
    op.create_index(
        "ix_dial_queue_dialing",
        "dial_queue",
        ["claimed_at"],
        postgresql_where=sa.text("status = 'dialing'"),
    )


def downgrade() -> None:
    op.drop_index("ix_dial_queue_dialing", table_name="dial_queue")
    op.drop_column("campaigns", "settled_mc")
