"""Analytics indexes: the manager questions answered from indexes alone (bench/analytics.py).

* `calls (workspace_id, created_at) INCLUDE (...)`: every column the metric layer reads,
  so a period of one workspace's calls is an index-only scan (no heap visits for the
  tens of thousands of calls in a month).
* `call_insights (workspace_id, created_at) INCLUDE (call_id, outcome, objections)`: an
  insight is written after its call is placed, so the insights of a period's calls were
  created after the period started; the analytics join reads only those, index-only.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE INDEX ix_calls_workspace_created_analytics ON calls (workspace_id, created_at)
    INCLUDE (id, placed_by, contact_id, status, answered_by, duration_s, cost_mc, outcome);
CREATE INDEX ix_call_insights_workspace_created ON call_insights (workspace_id, created_at)
    INCLUDE (call_id, outcome, objections);
"""

DOWNGRADE = """
DROP INDEX IF EXISTS ix_call_insights_workspace_created;
DROP INDEX IF EXISTS ix_calls_workspace_created_analytics;
"""


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    execute_script(op.get_bind(), DOWNGRADE)
